package hotstate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/hotstate/hotstate/core/wire"
)

// This file is the replica side of an instance: from its first use on this
// node it watches the engine's log, so changes committed by other nodes
// (sharing the engine) reach its state and its subscribers here, in log
// order. The engine calls back on its own goroutine and must not be kept
// waiting, so what it reports is queued and applied by a goroutine that
// lives only while the queue has work, holding the writers' turn: a
// replica's changes interleave with this node's writes, never race them.

// follower is an instance's watch of the engine's log.
type follower struct {
	mu sync.Mutex // guards the fields below; taken after the instance lock
	// queue holds what the engine reported and nobody applied yet.
	queue   []Change
	running bool
	// at is where the instance's topic stands, and own the change this
	// node is appending: what the engine reports of either is known here.
	at, own Position
	stop    func()
	stopped bool
}

// watch starts following the engine's log of the instance, once.
func (in *instance[T]) watch() {
	fl := &in.follow
	fl.mu.Lock()
	started := fl.stop != nil || fl.stopped
	fl.mu.Unlock()
	if started {
		return
	}
	stop := in.fam.srv.opts.engine.Watch(in.name, in.heard)
	fl.mu.Lock()
	if fl.stop != nil || fl.stopped {
		fl.mu.Unlock()
		stop()
		return
	}
	fl.stop = stop
	fl.mu.Unlock()
}

// unwatch stops following the log, for an instance this node is done with.
func (in *instance[T]) unwatch() {
	fl := &in.follow
	fl.mu.Lock()
	stop := fl.stop
	fl.stop, fl.stopped = nil, true
	fl.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// heard is the engine's report of a change. What the instance has is
// dropped at once; the rest waits for drain. A report at the position this
// node is appending waits for the append's outcome (see appended): it is
// usually that change, which the writer applies itself.
func (in *instance[T]) heard(c Change) {
	fl := &in.follow
	fl.mu.Lock()
	if fl.stopped || (c.Epoch == fl.at.Epoch && c.Version <= fl.at.Version) {
		fl.mu.Unlock()
		return
	}
	fl.queue = append(fl.queue, c)
	mine := c.Position == fl.own && fl.own != (Position{})
	start := !mine && !fl.running
	if start {
		fl.running = true
	}
	fl.mu.Unlock()
	if start {
		go in.drain()
	}
}

// appending records the change this node is about to append; the caller
// holds the writers' turn.
func (in *instance[T]) appending(p Position) {
	in.follow.mu.Lock()
	in.follow.own = p
	in.follow.mu.Unlock()
}

// appended ends the append that appending announced, with the engine's
// answer. After a success the writer applies the change, and its report
// is dropped (reachedLocked). After a failure the change at that position,
// if the engine reports one, is another node's, or this one taken by the
// log though its answer was lost: either way this node must apply it, so
// what waits is drained.
func (in *instance[T]) appended(err error) {
	if err == nil {
		return
	}
	fl := &in.follow
	fl.mu.Lock()
	fl.own = Position{}
	start := len(fl.queue) > 0 && !fl.running
	if start {
		fl.running = true
	}
	fl.mu.Unlock()
	if start {
		go in.drain()
	}
}

// reachedLocked records where the topic stands; the caller holds the
// instance lock. Reports of this node's own changes wait in the queue
// until then (nothing drains it) and are dropped here.
func (in *instance[T]) reachedLocked(p Position) {
	fl := &in.follow
	fl.mu.Lock()
	fl.at = p
	if !fl.running && len(fl.queue) > 0 {
		fl.queue = slices.DeleteFunc(fl.queue, func(c Change) bool {
			return c.Epoch != p.Epoch || c.Version <= p.Version
		})
	}
	fl.mu.Unlock()
}

// takeHeard returns what the engine reported that waits to be applied, for
// a caller holding the writers' turn to apply it.
func (in *instance[T]) takeHeard() []Change {
	in.follow.mu.Lock()
	defer in.follow.mu.Unlock()
	cs := in.follow.queue
	in.follow.queue = nil
	return cs
}

// drain applies what the engine reported until the queue is empty.
func (in *instance[T]) drain() {
	for {
		fl := &in.follow
		fl.mu.Lock()
		cs := fl.queue
		fl.queue = nil
		if len(cs) == 0 {
			fl.running = false
			fl.mu.Unlock()
			return
		}
		fl.mu.Unlock()
		in.wmu.Lock()
		live, err := in.replicate(cs)
		in.wmu.Unlock()
		if err != nil {
			in.fam.srv.listeners.failed(err, "")
		}
		if !live {
			in.farewell()
		}
	}
}

// replicate applies changes another node committed, in log order: what
// follows the instance's position directly is applied as it is, anything
// else (a gap, a lifetime it missed) makes it catch up from the log. It
// reports false when the instance ended. The caller holds the writers'
// turn.
func (in *instance[T]) replicate(cs []Change) (live bool, err error) {
	in.mu.Lock()
	for _, c := range cs {
		if in.deleted {
			in.mu.Unlock()
			return false, nil
		}
		if in.epoch == 0 {
			// Not loaded here yet: its first use loads it.
			continue
		}
		at := Position{Epoch: in.epoch, Version: in.version}
		kind := wire.TypeOf(c.Frame)
		switch {
		case c.Epoch == at.Epoch && c.Version <= at.Version:
			// Had it already.
		case kind == wire.TypeDel && c.Epoch == at.Epoch:
			in.goneLocked()
			in.mu.Unlock()
			return false, nil
		case kind == wire.TypeSnap && (c.Version == 0 || (c.Epoch == at.Epoch && c.Version == at.Version+1)):
			if err := in.loadLocked(c, nil); err != nil {
				in.mu.Unlock()
				return true, err
			}
			in.initialized = createdEpoch(in.epoch)
			in.ready.Store(in.initialized)
		case kind == wire.TypePatch && c.Epoch == at.Epoch && c.Version == at.Version+1:
			if err := in.followLocked(c); err != nil {
				in.mu.Unlock()
				return true, err
			}
		default:
			in.mu.Unlock()
			_, live, err := in.readLog(at)
			return live, err
		}
	}
	in.mu.Unlock()
	return true, nil
}

// goneLocked ends an instance whose deletion the log holds: it leaves the
// family before its subscribers get del, so Has is false for anyone who
// saw it. The caller says farewell once the lock is released.
func (in *instance[T]) goneLocked() {
	in.deleted = true
	in.ready.Store(false)
	in.fam.forget(in)
	in.dropped += in.endLocked()
}

// farewell finishes what the end of a deleted instance means on this
// node, once:
// no more following, no presence, and the OnStoreDeleted listeners.
func (in *instance[T]) farewell() {
	in.mu.Lock()
	deleted := in.deleted
	in.mu.Unlock()
	if !deleted || !in.gone.CompareAndSwap(false, true) {
		return
	}
	in.unwatch()
	in.mu.Lock()
	dropped := in.dropped
	in.dropped = 0
	in.mu.Unlock()
	if dropped > 0 {
		in.count(-dropped)
	}
	if p := in.fam.srv.presence.Load(); p != nil && in.fam.presenceWho() != nil {
		p.forget(in.name)
	}
	in.fam.srv.listeners.deleted(in.name)
}

// load reads the instance from the engine's log under the writers' turn
// and takes the lifetime it holds. adopted reports a lifetime some node
// created; otherwise at is where the log ends (the zero Position, or a
// lifetime begun by Reset), for a creation to follow.
func (in *instance[T]) load() (at Position, adopted bool, err error) {
	in.wmu.Lock()
	defer in.wmu.Unlock()
	snap, after, err := in.fam.srv.opts.engine.Load(context.Background(), in.name)
	switch {
	case isNotFound(err):
		return Position{}, false, nil
	case err != nil:
		return Position{}, false, storeErr(in.name, err)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if err := in.loadLocked(snap, after); err != nil {
		return Position{}, false, err
	}
	created := createdEpoch(in.epoch)
	in.initialized = created
	in.ready.Store(created)
	return Position{Epoch: in.epoch, Version: in.version}, created, nil
}

// loadLocked brings the state to a snapshot from the log and the patches
// after it, skipping what the instance already has.
func (in *instance[T]) loadLocked(snap Change, after []Change) error {
	if snap.Epoch != in.epoch || snap.Version > in.version {
		var state T
		f, err := wire.Decode(snap.Frame)
		if err == nil {
			err = wire.DecodeValue(f.Value, &state)
		}
		if err != nil {
			return storeErr(in.name, err)
		}
		in.state = state
		in.applyLocked(snap)
	}
	for _, c := range after {
		if c.Epoch == in.epoch && c.Version <= in.version {
			continue
		}
		if err := in.followLocked(c); err != nil {
			return err
		}
	}
	return nil
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// storeErr names the store an error is about.
func storeErr(name string, err error) error {
	return fmt.Errorf("hotstate: store %q: %w", name, err)
}
