package hotstate

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hotstate/hotstate/core/wire"
)

// instance is one live store: the single instance of a static store or one
// key of a family. It is the typed half of the instance, holding the state
// under the lock of its topic, which holds everything untyped: position,
// subscribers, history, broadcast.
//
// Hooks never run under the lock. Creation, reset and deletion run theirs
// as a lifeStep, one step at a time; an OnIdle hook runs while joins wait,
// so it decides about an instance nobody joined meanwhile.
type instance[T any] struct {
	topic
	fam *family[T]
	key string
	// ready mirrors initialized for a lock-free fast path.
	ready atomic.Bool
	// wmu is the writers' turn: changes of this instance made on this node
	// are computed and committed one at a time, so they never conflict
	// with each other and no mutation function runs twice. It is taken
	// before mu and never held while a hook runs; a mutation function
	// runs holding it (and not mu), so it must not change its own store.
	wmu sync.Mutex

	// Guarded by topic.mu, and changed only under wmu as well:
	state       T
	initialized bool
	deleted     bool
	// step is the lifecycle step whose hook is running, or nil.
	step *lifeStep
	// idling is open while an OnIdle hook runs; joins wait for it.
	idling chan struct{}
	// saver runs OnSave; nil until the first change with the hook set.
	saver *saver[T]
}

func newInstance[T any](f *family[T], key string) *instance[T] {
	in := &instance[T]{fam: f, key: key, state: wire.Clone(f.defaults)}
	in.name = f.fullName(key)
	in.history = history{maxCount: f.srv.opts.historyCount, maxBytes: f.srv.opts.historyBytes}
	in.snapshot = in.encodeSnap
	in.owner = in
	return in
}

// encodeSnap is the topic's snapshot: the state at the current position.
func (in *instance[T]) encodeSnap() ([]byte, error) {
	return wire.EncodeSnap(in.name, in.epoch, in.version, in.state)
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

// beginStepLocked starts a lifecycle step of kind, which the caller ends
// with endStep, even if a hook panics. Other lifecycle calls wait for it.
func (in *instance[T]) beginStepLocked(kind stepKind) *lifeStep {
	st := newLifeStep(kind)
	in.step = st
	return st
}

func (in *instance[T]) endStep(st *lifeStep) {
	in.mu.Lock()
	in.step = nil
	in.mu.Unlock()
	close(st.done)
}

// ensureInit runs OnCreate the first time the instance is used and commits
// the state it made as a new lifetime. created reports that this call
// initialised it: the caller then tells the OnStoreCreated listeners, after
// its own work, outside every lock. An OnCreate hook calling a mutation of
// its own instance gets ErrReentrant.
func (in *instance[T]) ensureInit(method string) (created bool, err error) {
	if in.ready.Load() {
		return false, nil
	}
	in.mu.Lock()
	if own := in.awaitStepLocked(); own != nil {
		in.mu.Unlock()
		if own.kind == stepCreate {
			return false, reentrant(in.name, method)
		}
		return false, nil // OnTerminate: the instance is still initialised
	}
	if in.initialized || in.deleted {
		in.mu.Unlock()
		return false, nil
	}
	st := in.beginStepLocked(stepCreate)
	in.mu.Unlock()
	defer in.endStep(st)

	state := wire.Clone(in.fam.defaults)
	if h := in.fam.hooks().onCreate; h != nil {
		h(in.key, &state)
	}
	in.wmu.Lock()
	defer in.wmu.Unlock()
	c, err := in.lifetime(state)
	if err != nil {
		return false, err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.state = state
	in.initialized = true
	in.ready.Store(true)
	in.applyLocked(c)
	return true, nil
}

// lifetime commits a new lifetime of the instance starting at state, and
// returns its change for the caller to apply under the lock. The caller
// holds the writers' turn.
func (in *instance[T]) lifetime(state T) (Change, error) {
	epoch := newEpoch()
	frame, err := wire.EncodeSnap(in.name, epoch, 0, state)
	if err != nil {
		return Change{}, fmt.Errorf("hotstate: store %q: %w", in.name, err)
	}
	c := Change{Position: Position{Epoch: epoch}, Frame: frame}
	return c, in.append(in.position(), c)
}

// join subscribes s once no OnIdle hook is deciding about the instance.
// It reports false when the instance went away first (deleted or reset),
// so the caller retries with a fresh one.
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
	return true, in.joinLocked(s, f)
}

// unsubscribe removes s and runs OnIdle when it was the last subscriber.
// Joins wait until the hook returns, so what it decides (Delete, Reset)
// applies to an instance that is still idle, once per idle transition.
func (in *instance[T]) unsubscribe(s *session) {
	in.mu.Lock()
	idle := in.leaveLocked(s)
	h := in.fam.hooks().onIdle
	if !idle || in.deleted || h == nil {
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
// initialised, in a new lifetime that subscribers receive as a snapshot. An
// OnTerminate hook resetting or deleting its own instance does nothing
// more: that instance is on its way out already.
func (in *instance[T]) reset() {
	st := in.beginTerminate("Reset", false)
	if st == nil {
		return
	}
	defer in.endStep(st)
	in.wmu.Lock()
	defer in.wmu.Unlock()
	defaults := wire.Clone(in.fam.defaults)
	c, err := in.lifetime(defaults)
	if err != nil {
		in.fam.srv.listeners.failed(err, "")
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.state = defaults
	in.initialized = false
	in.ready.Store(false)
	in.applyLocked(c)
}

// remove runs OnTerminate, sends del to subscribers and ends the instance.
// It reports whether the instance was live.
func (in *instance[T]) remove() bool {
	st := in.beginTerminate("Delete", true)
	if st == nil {
		return false
	}
	defer in.endStep(st)
	in.wmu.Lock()
	defer in.wmu.Unlock()
	at := in.position()
	c := Change{Position: Position{Epoch: at.Epoch, Version: at.Version + 1}, Frame: wire.EncodeDel(in.name)}
	if err := in.append(at, c); err != nil {
		in.fam.srv.listeners.failed(err, "")
		return false
	}
	in.mu.Lock()
	in.deleted = true
	in.ready.Store(false)
	// Gone from the family before subscribers hear of it, so Has is false
	// for anyone who has seen the del.
	in.fam.forget(in)
	in.applyLocked(c)
	in.mu.Unlock()
	if p := in.fam.srv.presence.Load(); p != nil && in.fam.presenceWho() != nil {
		p.forget(in.name)
	}
	in.fam.srv.listeners.deleted(in.name)
	return true
}

// beginTerminate starts the step of a Reset (or, with deleting, a Delete)
// and runs OnTerminate in it; it returns nil when there is nothing to end.
func (in *instance[T]) beginTerminate(method string, deleting bool) *lifeStep {
	in.mu.Lock()
	if own := in.awaitStepLocked(); own != nil {
		in.mu.Unlock()
		if own.kind == stepCreate {
			panic(reentrant(in.name, method))
		}
		return nil
	}
	live := in.initialized && !in.deleted
	if !live && (!deleting || in.deleted) {
		in.mu.Unlock()
		return nil
	}
	st := in.beginStepLocked(stepTerminate)
	sv := in.saver
	in.mu.Unlock()
	if sv != nil {
		// What was changed is saved before the state goes; a failure
		// is reported by save and does not stop the reset or delete.
		_ = sv.save(context.Background())
	}
	if h := in.fam.hooks().onTerminate; h != nil && live {
		defer func() {
			if v := recover(); v != nil {
				in.endStep(st)
				panic(v)
			}
		}()
		h(in.key)
	}
	return st
}
