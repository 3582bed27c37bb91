package hotstate

import (
	"fmt"
	"sync"
	"time"
)

// presencePrefix names the store that lists who is in an instance:
// "presence:Room:general" for the instance "Room:general".
const presencePrefix = "presence:"

// Presence is the state of a presence store: each member's key and the
// metadata the server attached to it.
type Presence = map[string]any

// presence tracks the members of the instances whose store asked for it
// and keeps their presence stores up to date. A member is a key the
// application chooses (a user id, say), so two tabs of one user are one
// member, and a member whose last connection left stays listed for a grace
// period (the heartbeat interval, which is how long a dead peer may go
// unnoticed), so a quick reconnect does not flap the list.
type presence struct {
	srv   *Server
	lists *family[Presence]
	grace time.Duration

	mu      sync.Mutex                    // guards members and conns, and orders updates of lists
	members map[string]map[string]*member // instance name → member key → member
	// conns maps a connection's subscription to the member it counts for.
	conns map[connKey]string
	// stopSweep ends the sweep of members other nodes left behind; nil
	// when the engine is this process's own.
	stopSweep func()
}

type member struct {
	conns int
	meta  any
	// leave removes the member when the grace period ends; nil while
	// connected.
	leave *time.Timer
}

type connKey struct{ client, instance string }

// presenceFor returns the server's presence tracker, making it and its
// "presence:*" family on first use.
func (s *Server) presenceFor() *presence {
	s.presenceOnce.Do(func() {
		p := &presence{srv: s, grace: s.opts.heartbeat, members: map[string]map[string]*member{}, conns: map[connKey]string{}}
		p.lists = newFamily(s, presencePrefix+"*", presencePrefix, Presence{})
		p.lists.setHook(func(h *hookSet[Presence]) {
			// Who may see the members is who may see the instance.
			h.allow = func(c Caller, name string) bool {
				def, key, ok := s.resolve(name)
				return ok && def.presenceWho() != nil && def.allowed(c, key)
			}
		})
		p.startSweep()
		s.presence.Store(p)
	})
	return s.presence.Load()
}

// join counts c as present in the instance name, as the member its
// store's rule names.
func (p *presence) join(name string, who func(Caller) (string, any), c Caller) {
	key, meta, err := callWho(who, c)
	if err != nil {
		p.srv.listeners.failed(fmt.Errorf("hotstate: store %q: presence: %w", name, err), c.ID)
		return
	}
	added, counted := p.joinLocked(name, key, meta, c)
	if counted {
		p.count(name, key, 1)
	}
	if added {
		p.sync(name, key)
	}
}

// joinLocked counts c for member key and reports whether the list changed
// and whether c is a connection the member did not have.
func (p *presence) joinLocked(name, key string, meta any, c Caller) (added, counted bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ck := connKey{c.ID, name}
	if _, ok := p.conns[ck]; ok {
		return false, false // a second sub from one connection is the same presence
	}
	p.conns[ck] = key
	ms := p.members[name]
	if ms == nil {
		ms = map[string]*member{}
		p.members[name] = ms
	}
	m := ms[key]
	added = m == nil
	if added {
		// A new member shows the rule's metadata; one already listed
		// (another tab, or back within the grace period) keeps what it
		// shows, which the server may have updated meanwhile.
		m = &member{meta: meta}
		ms[key] = m
	}
	m.conns++
	if m.leave != nil {
		m.leave.Stop()
		m.leave = nil
	}
	return added, true
}

// leave uncounts c from the instance name; the member goes from the list
// when its last connection has been gone for the grace period.
func (p *presence) leave(name string, c Caller) {
	key, counted, gone := p.leaveLocked(name, c)
	if counted {
		p.count(name, key, -1)
	}
	if gone {
		p.sync(name, key)
	}
}

// leaveLocked uncounts c, reporting its member and whether the member left
// the list now; otherwise a timer may drop it when the grace period ends.
func (p *presence) leaveLocked(name string, c Caller) (key string, counted, gone bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ck := connKey{c.ID, name}
	key, ok := p.conns[ck]
	if !ok {
		return "", false, false
	}
	delete(p.conns, ck)
	m := p.members[name][key]
	if m == nil {
		return key, true, false
	}
	if m.conns--; m.conns > 0 {
		return key, true, false
	}
	if p.grace <= 0 {
		p.dropLocked(name, key)
		return key, true, true
	}
	mk := key // the result variable changes as this function returns
	m.leave = time.AfterFunc(p.grace, func() {
		p.mu.Lock()
		gone := p.members[name][mk] == m && m.conns == 0
		if gone {
			p.dropLocked(name, mk)
		}
		p.mu.Unlock()
		if gone {
			p.sync(name, mk)
		}
	})
	return key, true, false
}

// update sets the metadata of a member that is present.
func (p *presence) update(name, key string, meta any) error {
	p.mu.Lock()
	m := p.members[name][key]
	if m != nil {
		m.meta = meta
	}
	p.mu.Unlock()
	if m == nil {
		return fmt.Errorf("hotstate: store %q: %q is not present", name, key)
	}
	p.sync(name, key)
	return nil
}

// forget ends the presence of a deleted instance.
func (p *presence) forget(name string) {
	p.mu.Lock()
	for _, m := range p.members[name] {
		if m.leave != nil {
			m.leave.Stop()
		}
	}
	delete(p.members, name)
	for ck := range p.conns {
		if ck.instance == name {
			delete(p.conns, ck)
		}
	}
	p.mu.Unlock()
	p.lists.remove(name)
}

// stop ends every grace period at once, for Shutdown.
func (p *presence) stop() {
	if p.stopSweep != nil {
		p.stopSweep()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ms := range p.members {
		for _, m := range ms {
			if m.leave != nil {
				m.leave.Stop()
			}
		}
	}
}

// dropLocked forgets a member that left.
func (p *presence) dropLocked(name, key string) {
	delete(p.members[name], key)
	if len(p.members[name]) == 0 {
		delete(p.members, name)
	}
}

// sync makes the list show what the tracker holds for one member. It runs
// outside mu, since updating a store may create it and so run listeners;
// reading the tracker inside the update keeps concurrent syncs of one list
// in agreement with the tracker's latest word, whatever their order.
func (p *presence) sync(name, key string) {
	p.mu.Lock()
	here := p.members[name][key] != nil
	p.mu.Unlock()
	if !here && p.count(name, key, 0) > 0 {
		return // still present through another node
	}
	err := p.lists.update(name, func(list *Presence) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if *list == nil {
			*list = Presence{}
		}
		if m := p.members[name][key]; m != nil {
			(*list)[key] = m.meta
		} else {
			delete(*list, key)
		}
	})
	if err != nil {
		p.srv.listeners.failed(err, "")
	}
}

// callWho runs the application's rule, turning a panic into an error.
func callWho(who func(Caller) (string, any), c Caller) (key string, meta any, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("rule panicked: %v", v)
		}
	}()
	key, meta = who(c)
	if key == "" {
		return "", nil, fmt.Errorf("rule gave no member key")
	}
	return key, meta, nil
}
