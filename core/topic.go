package hotstate

import (
	"sync"

	"github.com/hotstate/hotstate/core/wire"
)

// topic is the untyped half of a store instance: its position (epoch and
// version), its subscribers, the recent patch frames a resuming client may
// need, and the broadcast of frames already encoded once for everyone. It
// knows nothing of the state's type; the typed half (instance[T]) hands it
// frames, and an engine following changes made elsewhere can do the same.
//
// Every change and every subscription passes through mu, and a change
// queues its frame to every subscriber before mu is released: that is what
// gives each subscriber the snapshot at version v followed by exactly v+1,
// v+2, ... Queuing never blocks, so a change never waits on the network.
type topic struct {
	name string
	// snapshot encodes the snap frame of the current position; it is called
	// with mu held and reads the typed state that mu guards.
	snapshot func() ([]byte, error)
	// owner is what sessions hold as their subscription to this topic.
	owner subscription

	mu      sync.Mutex // guards the fields below and the owning instance's state
	epoch   uint64
	version uint64
	subs    map[*session]struct{}
	// snap caches the snap frame of the current position.
	snap []byte
	// history holds the latest patch frames of this epoch.
	history history
	// dropped counts the subscribers the instance's end let go, for the
	// engine's count to forget.
	dropped int
}

// snapLocked returns the snap frame of the current position, encoding it at
// most once however many clients subscribe.
func (t *topic) snapLocked() ([]byte, error) {
	if t.snap == nil {
		frame, err := t.snapshot()
		if err != nil {
			return nil, err
		}
		t.snap = frame
	}
	return t.snap, nil
}

func (t *topic) broadcastLocked(frame []byte) {
	for s := range t.subs {
		s.w.push(frame)
	}
}

// applyLocked moves the topic to the position of c, a change the log has
// taken, and sends its frame to every subscriber: a patch, a snapshot (a
// Set, or a new lifetime at version 0) or a del, after which the topic has
// no subscribers left.
func (t *topic) applyLocked(c Change) {
	switch wire.TypeOf(c.Frame) {
	case wire.TypePatch:
		t.history.add(c.Version, c.Frame)
		t.snap = nil
	case wire.TypeSnap:
		t.epoch = c.Epoch
		t.history.clear()
		t.snap = c.Frame
	case wire.TypeDel:
		t.dropped += t.endLocked()
		return
	}
	t.version = c.Version
	t.broadcastLocked(c.Frame)
}

// joinLocked adds s as a subscriber and queues what it needs to catch up:
// the patches after the version a resuming client holds, when the history
// still has them, or else the snapshot.
func (t *topic) joinLocked(s *session, f wire.Frame) (added bool, err error) {
	var missed [][]byte
	resumed := false
	if f.Resume && f.Epoch == t.epoch {
		missed, resumed = t.history.since(f.Version, t.version)
	}
	var frame []byte
	if !resumed {
		if frame, err = t.snapLocked(); err != nil {
			return false, err
		}
	}
	if err := s.addSub(t.name, t.owner); err != nil {
		return false, err
	}
	if t.subs == nil {
		t.subs = map[*session]struct{}{}
	}
	_, had := t.subs[s]
	t.subs[s] = struct{}{}
	if !resumed {
		s.w.push(frame)
	}
	for _, m := range missed {
		s.w.push(m)
	}
	s.srv.opts.obs.subscribed(t.owner, resumed, had)
	return !had, nil
}

// leaveLocked removes s, reporting whether it was a subscriber and whether
// it was the last one on this node.
func (t *topic) leaveLocked(s *session) (was, idle bool) {
	_, was = t.subs[s]
	delete(t.subs, s)
	return was, was && len(t.subs) == 0
}

// endLocked sends del to every subscriber and lets them all go, returning
// how many there were.
func (t *topic) endLocked() (n int) {
	n = len(t.subs)
	frame := wire.EncodeDel(t.name)
	for s := range t.subs {
		s.w.push(frame)
		s.dropSub(t.name, t.owner)
	}
	t.subs = nil
	return n
}

func (t *topic) subscriberCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.subs)
}
