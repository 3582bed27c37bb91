package hotstate

import (
	"context"
	"errors"
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

	// pending holds the Updates and Sets waiting for the writers' turn.
	pending pending[T]
	// follow applies changes other nodes commit.
	follow follower
	// tally carries this node's subscriber count to the engine.
	tally tally
	// gone is set once the instance's end was seen through on this node.
	gone atomic.Bool
}

func newInstance[T any](f *family[T], key string) *instance[T] {
	in := &instance[T]{fam: f, key: key, state: wire.Clone(f.defaults)}
	in.name = f.fullName(key)
	in.history = history{maxCount: f.srv.opts.historyCount, maxBytes: f.srv.opts.historyBytes}
	in.snapshot = in.encodeSnap
	in.owner = in
	return in
}

// exists reports whether the instance has a lifetime here: created, or
// reset, and not deleted.
func (in *instance[T]) exists() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.epoch != 0 && !in.deleted
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

	// Following before loading, so no change slips in between.
	in.watch()
	for attempt := 1; ; attempt++ {
		at, adopted, err := in.load()
		if err != nil || adopted {
			return false, err
		}
		state := wire.Clone(in.fam.defaults)
		if h := in.fam.hooks().onCreate; h != nil {
			h(in.key, &state)
		}
		created, err := in.create(at, state)
		if errors.Is(err, ErrConflict) && attempt < maxAttempts {
			// Another node created it first: this state is dropped and
			// theirs loaded.
			continue
		}
		return created, err
	}
}

// create commits state as the instance's new lifetime after at, unless the
// log moved on meanwhile.
func (in *instance[T]) create(at Position, state T) (bool, error) {
	in.wmu.Lock()
	defer in.wmu.Unlock()
	c, err := in.newLifetime(state, true)
	if err == nil {
		err = in.append(at, c)
	}
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

// newLifetime is the change beginning a lifetime of the instance at state:
// created by OnCreate, or else the defaults a Reset leaves.
func (in *instance[T]) newLifetime(state T, created bool) (Change, error) {
	epoch := newEpoch(created)
	frame, err := wire.EncodeSnap(in.name, epoch, 0, state)
	if err != nil {
		return Change{}, storeErr(in.name, err)
	}
	return Change{Position: Position{Epoch: epoch}, Frame: frame}, nil
}

// appendLatest appends the change build makes after wherever the log ends,
// catching up with other nodes' changes each time one came first. live is
// false when the instance ended meanwhile. The caller holds the writers'
// turn.
func (in *instance[T]) appendLatest(build func(at Position) (Change, error)) (c Change, live bool, err error) {
	at := in.position()
	for attempt := 1; ; attempt++ {
		if c, err = build(at); err != nil {
			return c, true, err
		}
		err = in.append(at, c)
		if !errors.Is(err, ErrConflict) || attempt == maxAttempts {
			return c, true, err
		}
		yieldTo(attempt)
		if at, live, err = in.catchUp(at, attempt); err != nil || !live {
			return c, live, err
		}
	}
}

// join subscribes s once no OnIdle hook is deciding about the instance.
// It reports false when the instance went away first (deleted or reset),
// so the caller retries with a fresh one.
func (in *instance[T]) join(s *session, f wire.Frame) (joined bool, err error) {
	// Counted before the snapshot is queued, so whoever hears of the
	// subscription counts it; a connection subscribing again holds the
	// same subscription.
	var added bool
	counted := !s.holds(in.name, in.owner)
	if counted {
		in.count(1)
	}
	defer func() {
		if counted && (!joined || err != nil || !added) {
			in.count(-1)
		}
	}()
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
	added, err = in.joinLocked(s, f)
	return true, err
}

// count moves the engine's count of the instance's subscribers, kept
// across every node that shares it, and returns the new total, or -1 when
// the engine could not say.
func (in *instance[T]) count(delta int) int {
	return in.counted(in.tally.queue(delta))
}

// counted waits until the engine has the delta tk names, and returns the
// total as count does.
func (in *instance[T]) counted(tk ticket) int {
	n, err := in.tally.wait(tk, func(delta int) (int, error) {
		return in.fam.srv.opts.engine.AddSubscribers(context.Background(), in.name, delta)
	})
	if err != nil {
		in.fam.srv.listeners.failed(storeErr(in.name, err), "")
		return -1
	}
	return n
}

// unsubscribe removes s and runs OnIdle when that left the instance
// without subscribers on any node: here, where the count reached zero.
// Joins on this node wait until the hook returns, so what it decides
// (Delete, Reset) applies to an instance that is still idle, once per idle
// transition.
func (in *instance[T]) unsubscribe(s *session) {
	in.mu.Lock()
	was, idle := in.leaveLocked(s)
	if !was {
		in.mu.Unlock()
		return
	}
	// Queued under the lock, in the order of the leaves: the call that
	// answers the last one carries every earlier one.
	left := in.tally.queue(-1)
	h := in.fam.hooks().onIdle
	if !idle || in.deleted || h == nil {
		in.mu.Unlock()
		in.counted(left)
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
	// An engine that cannot count leaves the decision to this node's own
	// count, which is zero.
	if in.counted(left) <= 0 {
		h(in.key)
	}
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
	if !in.resetLifetime() {
		in.farewell()
	}
}

// resetLifetime commits the raw defaults as a new lifetime, not
// initialised. It reports false when the instance was deleted meanwhile.
func (in *instance[T]) resetLifetime() (live bool) {
	in.wmu.Lock()
	defer in.wmu.Unlock()
	defaults := wire.Clone(in.fam.defaults)
	c, live, err := in.appendLatest(func(Position) (Change, error) { return in.newLifetime(defaults, false) })
	if err != nil || !live {
		if err != nil {
			in.fam.srv.listeners.failed(err, "")
		}
		return live
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.state = defaults
	in.initialized = false
	in.ready.Store(false)
	in.applyLocked(c)
	return true
}

// remove runs OnTerminate, sends del to subscribers and ends the instance.
// It reports whether the instance was live.
func (in *instance[T]) remove() bool {
	st := in.beginTerminate("Delete", true)
	if st == nil {
		return false
	}
	defer in.endStep(st)
	deleted := in.commitDelete()
	in.farewell()
	return deleted
}

// commitDelete appends the instance's end to the log and ends it here. It
// reports false when another node deleted it first.
func (in *instance[T]) commitDelete() bool {
	in.wmu.Lock()
	defer in.wmu.Unlock()
	c, live, err := in.appendLatest(func(at Position) (Change, error) {
		return Change{Position: next(at), Frame: wire.EncodeDel(in.name)}, nil
	})
	if err != nil {
		in.fam.srv.listeners.failed(err, "")
		return false
	}
	if !live {
		return false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.goneLocked()
	in.reachedLocked(c.Position)
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
