package hotstate

import (
	"context"
	"fmt"
	"time"
)

// With an engine other servers share, a presence list is one store for
// the whole cluster, and each node adds and removes the members of its own
// connections. The engine counts every member's connections across nodes
// (Engine.AddSubscribers, under a name of the member's own), so that:
//   - a member leaving one node stays listed while another node still has
//     one of its connections, and
//   - a node that died without a word has its members removed: the engine
//     stops counting them once its node TTL lapses, and every node sweeps
//     the lists it holds, each grace period, for members nobody counts.

// memberCount names the engine's count of key's connections to name.
func memberCount(name, key string) string { return presencePrefix + name + "\x00" + key }

// count moves the cluster's count of key's connections to name by delta
// and returns it: -1 when the engine could not say, 0 when the engine is
// this process's own (nothing to count beyond the tracker).
func (p *presence) count(name, key string, delta int) int {
	if !p.srv.opts.shared {
		return 0
	}
	n, err := p.srv.opts.engine.AddSubscribers(context.Background(), memberCount(name, key), delta)
	if err != nil {
		p.srv.listeners.failed(fmt.Errorf("hotstate: store %q: presence of %q: %w", name, key, err), "")
		return -1
	}
	return n
}

// startSweep starts sweeping, when the engine is shared.
func (p *presence) startSweep() {
	if !p.srv.opts.shared {
		return
	}
	every := max(p.grace, time.Second)
	t := time.NewTicker(every)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-t.C:
				p.sweep()
			case <-done:
				return
			}
		}
	}()
	p.stopSweep = func() {
		t.Stop()
		close(done)
		<-stopped
	}
}

// sweep removes from the lists this node holds the members no node
// counts any more.
func (p *presence) sweep() {
	for _, name := range p.lists.local() {
		instance := name[len(presencePrefix):]
		for key := range p.lists.get(instance) {
			p.mu.Lock()
			here := p.members[instance][key] != nil
			p.mu.Unlock()
			if !here && p.count(instance, key, 0) == 0 {
				p.sync(instance, key)
			}
		}
	}
}
