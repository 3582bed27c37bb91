package hotstate

import (
	"sync"
	"sync/atomic"

	"github.com/hotstate/hotstate/core/wire"
)

// instance is one live store: the single instance of a static store or one
// key of a family.
//
// Every change happens under mu and queues its frame to every subscriber
// before mu is released; subscribe queues its snapshot under the same lock.
// That is what gives each subscriber the snapshot at version v followed by
// exactly v+1, v+2, ... Queuing never blocks, so a mutation never waits on
// the network.
type instance[T any] struct {
	fam  *family[T]
	key  string
	name string
	// life serialises initialisation, reset and delete, and is held while
	// their hooks run, so OnCreate runs once per lifetime.
	life sync.Mutex
	// ready mirrors initialized for a lock-free fast path.
	ready atomic.Bool

	mu          sync.Mutex // guards state, initialized, deleted, epoch, version, subs, snap
	state       T
	initialized bool
	deleted     bool
	epoch       uint64
	version     uint64
	subs        map[*session]struct{}
	// snap caches the snap frame of the current epoch and version.
	snap []byte
	// history holds the latest patches of this epoch for resuming clients.
	history history
}

// ensureInit runs OnCreate the first time the instance is used.
func (in *instance[T]) ensureInit() {
	if in.ready.Load() {
		return
	}
	in.life.Lock()
	defer in.life.Unlock()
	in.mu.Lock()
	skip := in.initialized || in.deleted
	in.mu.Unlock()
	if skip {
		return
	}
	state := wire.Clone(in.fam.defaults)
	if h := in.fam.hooks().onCreate; h != nil {
		h(in.key, &state)
	}
	in.mu.Lock()
	if in.deleted {
		in.mu.Unlock()
		return
	}
	in.state = state
	in.initialized = true
	in.ready.Store(true)
	in.newEpochLocked()
	in.mu.Unlock()
	in.fam.srv.listeners.created(in.name, in.key)
}

// newEpochLocked starts a new epoch and sends its snapshot to subscribers.
func (in *instance[T]) newEpochLocked() {
	in.epoch = in.fam.srv.nextEpoch()
	in.version = 0
	in.snap = nil
	in.history.clear()
	if len(in.subs) > 0 {
		if frame, err := in.snapLocked(); err == nil {
			in.broadcastLocked(frame)
		} else {
			in.fam.srv.listeners.failed(err, "")
		}
	}
}

// snapLocked returns the snap frame for the current version, encoding it at
// most once per version however many clients subscribe.
func (in *instance[T]) snapLocked() ([]byte, error) {
	if in.snap == nil {
		frame, err := wire.EncodeSnap(in.name, in.epoch, in.version, in.state)
		if err != nil {
			return nil, err
		}
		in.snap = frame
	}
	return in.snap, nil
}

func (in *instance[T]) broadcastLocked(frame []byte) {
	for s := range in.subs {
		s.out.push(frame)
	}
}

// commitLocked makes next the state, reached by ops, and sends the patch.
func (in *instance[T]) commitLocked(next T, ops []wire.Op) error {
	frame, err := wire.EncodePatch(in.name, in.epoch, in.version+1, ops)
	if err != nil {
		return err
	}
	in.state = next
	in.version++
	in.snap = nil
	in.history.add(in.version, frame)
	in.broadcastLocked(frame)
	return nil
}

// replaceLocked makes next the state and sends it whole.
func (in *instance[T]) replaceLocked(next T) error {
	frame, err := wire.EncodeSnap(in.name, in.epoch, in.version+1, next)
	if err != nil {
		return err
	}
	in.state = next
	in.version++
	in.snap = frame
	in.history.clear()
	in.broadcastLocked(frame)
	return nil
}

// join adds s as a subscriber and queues what it needs to catch up: the
// patches after the version a resuming client holds, when the history
// still has them, or else the snapshot. It reports false when the instance
// went away first (deleted or reset), so the caller retries with a fresh one.
func (in *instance[T]) join(s *session, f wire.Frame) (bool, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.deleted || !in.initialized {
		return false, nil
	}
	var missed [][]byte
	resumed := false
	if f.Resume && f.Epoch == in.epoch {
		missed, resumed = in.history.since(f.Version, in.version)
	}
	var frame []byte
	if !resumed {
		var err error
		if frame, err = in.snapLocked(); err != nil {
			return true, err
		}
	}
	if err := s.hold(in.name, in); err != nil {
		return true, err
	}
	if in.subs == nil {
		in.subs = map[*session]struct{}{}
	}
	in.subs[s] = struct{}{}
	if !resumed {
		s.out.push(frame)
	}
	for _, m := range missed {
		s.out.push(m)
	}
	return true, nil
}

// unsubscribe removes s and runs OnIdle when it was the last subscriber.
func (in *instance[T]) unsubscribe(s *session) {
	in.mu.Lock()
	_, was := in.subs[s]
	delete(in.subs, s)
	idle := was && len(in.subs) == 0 && !in.deleted
	in.mu.Unlock()
	if idle {
		if h := in.fam.hooks().onIdle; h != nil {
			// It runs on a connection's goroutine, often as the connection
			// ends, where a panic has no caller to reach.
			defer func() {
				if v := recover(); v != nil {
					in.fam.srv.logger().Error("hotstate: OnIdle panicked", "store", in.name, "panic", v)
				}
			}()
			h(in.key)
		}
	}
}

// reset runs OnTerminate and returns the instance to raw defaults, not
// initialised, in a new epoch that subscribers receive as a snapshot.
func (in *instance[T]) reset() {
	in.life.Lock()
	defer in.life.Unlock()
	in.mu.Lock()
	live := in.initialized && !in.deleted
	in.mu.Unlock()
	if !live {
		return
	}
	if h := in.fam.hooks().onTerminate; h != nil {
		h(in.key)
	}
	in.mu.Lock()
	in.state = wire.Clone(in.fam.defaults)
	in.initialized = false
	in.ready.Store(false)
	in.newEpochLocked()
	in.mu.Unlock()
}

// remove runs OnTerminate, sends del to subscribers and ends the instance.
// It reports whether the instance was live.
func (in *instance[T]) remove() bool {
	in.life.Lock()
	defer in.life.Unlock()
	in.mu.Lock()
	gone, initialized := in.deleted, in.initialized
	in.mu.Unlock()
	if gone {
		return false
	}
	if h := in.fam.hooks().onTerminate; h != nil && initialized {
		h(in.key)
	}
	in.mu.Lock()
	in.deleted = true
	in.ready.Store(false)
	frame := wire.EncodeDel(in.name)
	for s := range in.subs {
		s.out.push(frame)
		s.release(in.name, in)
	}
	in.subs = nil
	in.mu.Unlock()
	in.fam.forget(in)
	in.fam.srv.listeners.deleted(in.name)
	return true
}

func (in *instance[T]) subscriberCount() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.subs)
}
