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
//
// Hooks never run under mu. Creation, reset and deletion run theirs as a
// lifeStep, one step at a time; an OnIdle hook runs while joins wait, so
// it decides about an instance nobody joined meanwhile.
type instance[T any] struct {
	fam  *family[T]
	key  string
	name string
	// ready mirrors initialized for a lock-free fast path.
	ready atomic.Bool

	mu          sync.Mutex // guards every field below
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
	// step is the lifecycle step whose hook is running, or nil.
	step *lifeStep
	// idling is open while an OnIdle hook runs; joins wait for it.
	idling chan struct{}
}

// awaitStepLocked waits, releasing mu meanwhile, until no other goroutine
// runs a lifecycle step. It returns the calling goroutine's own step when
// a hook calls back into its instance, else nil.
func (in *instance[T]) awaitStepLocked() *lifeStep {
	for in.step != nil {
		if in.step.mine() {
			return in.step
		}
		done := in.step.done
		in.mu.Unlock()
		<-done
		in.mu.Lock()
	}
	return nil
}

// runStepLocked runs hook as a lifecycle step of kind: mu is released while
// it runs and held again when runStepLocked returns, even if hook panics.
func (in *instance[T]) runStepLocked(kind stepKind, hook func()) {
	st := newLifeStep(kind)
	in.step = st
	in.mu.Unlock()
	defer func() {
		in.mu.Lock()
		in.step = nil
		close(st.done)
	}()
	hook()
}

// ensureInit runs OnCreate the first time the instance is used. created
// reports that this call initialised it: the caller then tells the
// OnStoreCreated listeners, after its own work, outside every lock. An
// OnCreate hook calling a mutation of its own instance gets ErrReentrant.
func (in *instance[T]) ensureInit(method string) (created bool, err error) {
	if in.ready.Load() {
		return false, nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if own := in.awaitStepLocked(); own != nil {
		if own.kind == stepCreate {
			return false, reentrant(in.name, method)
		}
		return false, nil // OnTerminate: the instance is still initialised
	}
	if in.initialized || in.deleted {
		return false, nil
	}
	state := wire.Clone(in.fam.defaults)
	if h := in.fam.hooks().onCreate; h != nil {
		in.runStepLocked(stepCreate, func() { h(in.key, &state) })
	}
	if in.deleted || in.initialized {
		return false, nil
	}
	in.state = state
	in.initialized = true
	in.ready.Store(true)
	in.newEpochLocked()
	return true, nil
}

// newEpochLocked starts a new epoch and sends its snapshot to subscribers.
func (in *instance[T]) newEpochLocked() {
	in.epoch = newEpoch()
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
	for in.idling != nil {
		idling := in.idling
		in.mu.Unlock()
		<-idling
		in.mu.Lock()
	}
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
// Joins wait until the hook returns, so what it decides (Delete, Reset)
// applies to an instance that is still idle, once per idle transition.
func (in *instance[T]) unsubscribe(s *session) {
	in.mu.Lock()
	_, was := in.subs[s]
	delete(in.subs, s)
	h := in.fam.hooks().onIdle
	if !was || len(in.subs) > 0 || in.deleted || h == nil {
		in.mu.Unlock()
		return
	}
	idling := make(chan struct{})
	in.idling = idling
	in.mu.Unlock()
	defer func() {
		in.mu.Lock()
		in.idling = nil
		in.mu.Unlock()
		close(idling)
		// It runs on a connection's goroutine, often as the connection
		// ends, where a panic has no caller to reach.
		if v := recover(); v != nil {
			in.fam.srv.logger().Error("hotstate: OnIdle panicked", "store", in.name, "panic", v)
		}
	}()
	h(in.key)
}

// reset runs OnTerminate and returns the instance to raw defaults, not
// initialised, in a new epoch that subscribers receive as a snapshot. An
// OnTerminate hook resetting or deleting its own instance does nothing
// more: that instance is on its way out already.
func (in *instance[T]) reset() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if own := in.awaitStepLocked(); own != nil {
		if own.kind == stepCreate {
			panic(reentrant(in.name, "Reset"))
		}
		return
	}
	if !in.initialized || in.deleted {
		return
	}
	if h := in.fam.hooks().onTerminate; h != nil {
		in.runStepLocked(stepTerminate, func() { h(in.key) })
	}
	in.state = wire.Clone(in.fam.defaults)
	in.initialized = false
	in.ready.Store(false)
	in.newEpochLocked()
}

// remove runs OnTerminate, sends del to subscribers and ends the instance.
// It reports whether the instance was live.
func (in *instance[T]) remove() bool {
	if !in.end() {
		return false
	}
	in.fam.forget(in)
	in.fam.srv.listeners.deleted(in.name)
	return true
}

// end is remove's part under the lock.
func (in *instance[T]) end() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if own := in.awaitStepLocked(); own != nil {
		if own.kind == stepCreate {
			panic(reentrant(in.name, "Delete"))
		}
		return false
	}
	if in.deleted {
		return false
	}
	if h := in.fam.hooks().onTerminate; h != nil && in.initialized {
		in.runStepLocked(stepTerminate, func() { h(in.key) })
	}
	in.deleted = true
	in.ready.Store(false)
	frame := wire.EncodeDel(in.name)
	for s := range in.subs {
		s.out.push(frame)
		s.release(in.name, in)
	}
	in.subs = nil
	return true
}

func (in *instance[T]) subscriberCount() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.subs)
}
