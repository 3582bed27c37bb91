package hotstate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hotstate/hotstate/core/wire"
)

// This file is the state side of a change: a mutation function runs on a
// copy of the typed state, the differ turns old and new into operations,
// the operations become a patch frame (the change record), the engine's
// log takes it, and only then does the instance adopt the new state and
// its topic send the frame on.

// position returns where the instance's log ends. The caller holds the
// writers' turn, so it stays put until the caller commits.
func (in *instance[T]) position() Position {
	in.mu.Lock()
	defer in.mu.Unlock()
	return Position{Epoch: in.epoch, Version: in.version}
}

// append adds c after at to the engine's log. With the writers' turn held
// nobody on this node moved the log meanwhile; a conflict means another
// node did.
func (in *instance[T]) append(at Position, c Change) error {
	in.appending(c.Position)
	err := in.fam.srv.opts.engine.Append(context.Background(), in.name, at, c)
	in.appended(err)
	if err != nil {
		return fmt.Errorf("hotstate: store %q: %w", in.name, err)
	}
	return nil
}

// applyLocked moves the topic to c, which the log has taken, and sends it
// to subscribers; every few hundred versions it gives the engine a
// checkpoint so the log can be trimmed.
func (in *instance[T]) applyLocked(c Change) {
	in.fam.srv.opts.obs.changed(in.fam.name, in.name, c, len(in.subs))
	in.topic.applyLocked(c)
	in.reachedLocked(c.Position)
	if c.Version > 0 && wire.TypeOf(c.Frame) != wire.TypeDel {
		in.unsavedLocked()
	}
	if every := in.fam.srv.checkpointEvery(); wire.TypeOf(c.Frame) == wire.TypePatch && c.Version%every == 0 {
		snap, err := in.snapLocked()
		if err == nil {
			err = in.fam.srv.opts.engine.Checkpoint(context.Background(), in.name, Change{Position: c.Position, Frame: snap})
		}
		if err != nil {
			in.fam.srv.listeners.failed(fmt.Errorf("hotstate: store %q: checkpoint: %w", in.name, err), "")
		}
	}
}

// use runs op on key's instance, creating the instance first. op reports
// false when the instance went away before it could act (deleted, reset,
// or retired by the engine's log); it then runs again on a fresh one.
// OnStoreCreated listeners hear of a creation after op, outside every lock.
func (f *family[T]) use(key, method string, op func(in *instance[T]) (bool, error)) error {
	for {
		in := f.acquire(key)
		created, err := in.ensureInit(method)
		if err != nil {
			return err
		}
		done, err := op(in)
		if created {
			f.srv.listeners.created(in.name, key)
		}
		if done {
			return err
		}
		in.farewell()
	}
}

// maxAttempts bounds how often one write catches up and runs its function
// again before it gives up with the conflict: a store written that hard
// from elsewhere is better told than starved.
const maxAttempts = 64

// yieldTo waits a little after a write lost the race to another node, a
// random time growing with the attempts (up to 8 ms), so writers on
// several nodes fall out of step instead of colliding again and again. It
// comes before catching up, so the next attempt starts from the latest.
func yieldTo(attempt int) {
	limit := time.Duration(50<<min(attempt, 9)) * time.Microsecond
	time.Sleep(rand.N(min(limit, 8*time.Millisecond)))
}

// catchUp brings the instance from at to the end of the engine's log,
// after the attempt-th write lost the race. What the engine's watch
// reported and nobody applied yet is usually all that is missing, and on
// a first attempt it is applied without another round trip. A writer that
// lost again may be following a watch that lags behind a busy writer
// elsewhere, and would lose every time: from the second attempt it also
// reads the log, applying each change to the typed state (only the part
// it touches) and sending it to subscribers; when the log no longer holds
// those changes, or holds a snapshot among them, it loads the state anew.
// live is false when the instance was deleted meanwhile: the caller
// starts over. The caller holds the writers' turn.
func (in *instance[T]) catchUp(at Position, attempt int) (to Position, live bool, err error) {
	if cs := in.takeHeard(); len(cs) > 0 {
		if live, err := in.replicate(cs); err != nil || !live {
			return at, live, err
		}
		if to := in.position(); to != at && attempt == 1 {
			return to, true, nil
		}
		at = in.position()
	}
	return in.readLog(at)
}

// readLog is catchUp from the engine's log.
func (in *instance[T]) readLog(at Position) (to Position, live bool, err error) {
	cs, err := in.fam.srv.opts.engine.Since(context.Background(), in.name, at)
	in.mu.Lock()
	defer in.mu.Unlock()
	if err != nil {
		return in.reloadLocked()
	}
	for _, c := range cs {
		if wire.TypeOf(c.Frame) != wire.TypePatch {
			return in.reloadLocked()
		}
		if err := in.followLocked(c); err != nil {
			return at, true, err
		}
		at = c.Position
	}
	return at, true, nil
}

// followLocked applies a patch change from the log to the typed state and
// sends it on.
func (in *instance[T]) followLocked(c Change) error {
	f, err := wire.Decode(c.Frame)
	if err == nil {
		err = wire.ApplyTo(&in.state, f.Ops)
	}
	if err != nil {
		return fmt.Errorf("hotstate: store %q: change %d from the log: %w", in.name, c.Version, err)
	}
	in.applyLocked(c)
	return nil
}

// reloadLocked replaces the state with the engine's snapshot and the
// changes after it; subscribers receive the snapshot. An instance the
// engine no longer has was deleted: it ends here, and live is false.
func (in *instance[T]) reloadLocked() (to Position, live bool, err error) {
	snap, after, err := in.fam.srv.opts.engine.Load(context.Background(), in.name)
	if isNotFound(err) {
		in.goneLocked()
		return Position{}, false, nil
	}
	if err == nil {
		err = in.loadLocked(snap, after)
	}
	if err != nil {
		return Position{Epoch: in.epoch, Version: in.version}, true, fmt.Errorf("hotstate: store %q: loading it: %w", in.name, err)
	}
	in.initialized = createdEpoch(in.epoch)
	in.ready.Store(in.initialized)
	return Position{Epoch: in.epoch, Version: in.version}, true, nil
}

func next(at Position) Position { return Position{Epoch: at.Epoch, Version: at.Version + 1} }

func (f *family[T]) update(key string, fn func(*T)) error {
	return f.use(key, "Update", func(in *instance[T]) (bool, error) {
		return in.submit(&writeReq[T]{mutate: fn})
	})
}

func (f *family[T]) set(key string, v T) error {
	v = wire.Clone(v)
	return f.use(key, "Set", func(in *instance[T]) (bool, error) {
		// A copy each time it runs: the batch may run it again, and the
		// functions after it change what it leaves.
		return in.submit(&writeReq[T]{mutate: func(s *T) { *s = wire.Clone(v) }, set: true})
	})
}

// updateOps changes the state in place, so unlike the others it holds the
// instance lock from the mutation to the broadcast: nobody may see the
// state changed at the old version.
func (f *family[T]) updateOps(key string, fn func(*T) []Op) error {
	return f.use(key, "UpdateOps", func(in *instance[T]) (bool, error) { return in.writeInPlace(fn) })
}

func (in *instance[T]) writeInPlace(fn func(*T) []Op) (done bool, err error) {
	in.wmu.Lock()
	defer in.wmu.Unlock()
	in.mu.Lock()
	defer in.mu.Unlock()
	for attempt := 1; ; attempt++ {
		if in.deleted || !in.initialized {
			return false, nil
		}
		at := Position{Epoch: in.epoch, Version: in.version}
		c, err := in.changeInPlace(at, fn)
		if err != nil || c.Frame == nil {
			return true, err
		}
		err = in.append(at, c)
		if err == nil {
			in.applyLocked(c)
			return true, nil
		}
		// The state changed in place for a change the log did not take
		// (another node's came first, or the engine failed): the log's
		// state replaces it, and after a conflict fn runs again on it.
		_, live, lerr := in.reloadLocked()
		switch {
		case lerr != nil:
			return true, errors.Join(err, lerr)
		case !live:
			return false, nil
		case !errors.Is(err, ErrConflict) || attempt == maxAttempts:
			return true, err
		}
	}
}

// changeInPlace runs fn on the state and returns the change it made after
// at, or a Change without a frame when fn reported no operations.
func (in *instance[T]) changeInPlace(at Position, fn func(*T) []Op) (Change, error) {
	panicked := true
	defer func() {
		if !panicked {
			return
		}
		// fn may have changed the state before it panicked; a snapshot
		// keeps subscribers equal to the server.
		v := recover()
		if c, err := in.snapChange(at); err == nil && in.append(at, c) == nil {
			in.applyLocked(c)
		}
		panic(v)
	}()
	ops := fn(&in.state)
	panicked = false
	if len(ops) == 0 {
		in.snap = nil // the state may have changed in ways that need no patch
		return Change{}, nil
	}
	frame, err := wire.EncodePatch(in.name, at.Epoch, at.Version+1, ops)
	c := Change{Position: next(at), Frame: frame}
	if err != nil {
		// The state changed in place already; a snapshot keeps every
		// subscriber right, if the state can be encoded at all.
		if c, err = in.snapChange(at); err != nil {
			return Change{}, storeErr(in.name, err)
		}
	}
	return c, nil
}

// snapChange is the whole current state as the change after at.
func (in *instance[T]) snapChange(at Position) (Change, error) {
	frame, err := wire.EncodeSnap(in.name, at.Epoch, at.Version+1, in.state)
	return Change{Position: next(at), Frame: frame}, err
}

// unsavedLocked tells the OnSave hook, if there is one, that the state
// changed within its lifetime. A new lifetime (creation, reset) is not a
// change to save: OnCreate just made it, or Reset saved before it.
func (in *instance[T]) unsavedLocked() {
	if in.saver == nil {
		if in.fam.hooks().onSave == nil {
			return
		}
		in.saver = &saver[T]{in: in}
	}
	in.saver.changed()
}
