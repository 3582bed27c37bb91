package hotstate

import (
	"errors"
	"sync"

	"github.com/hotstate/hotstate/core/wire"
)

// Updates and Sets of one instance queue, and one of their callers at a
// time leads: it takes the writers' turn (instance.wmu) and commits
// everything queued, its own request included, as one change, then hands
// the lead to the first request queued meanwhile. The mutation
// functions run one after another on one copy of the state, one diff
// makes one patch, and the engine takes one append. Under contention an
// instance so pays for a diff, an encoding and an engine round trip per
// batch rather than per change, and on a shared engine fewer writers race
// for each version. Subscribers see the batch as one version.

// writeReq is one Update or Set waiting for the writers' turn.
type writeReq[T any] struct {
	mutate func(*T)
	// set marks a Set: the batch is sent as a snapshot, as a Set is.
	set  bool
	done chan struct{}
	// lead is signalled when the request's caller is to lead.
	lead chan struct{}

	// The outcome, written by whoever committed the request before done
	// is closed.
	live  bool
	err   error
	panic *panicValue
}

// panicValue carries a mutation function's panic to its caller.
type panicValue struct{ v any }

func (r *writeReq[T]) finish(live bool, err error) {
	r.live, r.err = live, err
	close(r.done)
}

// pending is the queue of an instance's writeReqs.
type pending[T any] struct {
	mu    sync.Mutex
	queue []*writeReq[T]
	// leading is set while a caller leads.
	leading bool
}

// add queues r and reports whether its caller leads now.
func (p *pending[T]) add(r *writeReq[T]) (lead bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queue = append(p.queue, r)
	lead = !p.leading
	p.leading = true
	return lead
}

// handOff passes the lead to the first request waiting, if any.
func (p *pending[T]) handOff() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue) == 0 {
		p.leading = false
		return
	}
	p.queue[0].lead <- struct{}{}
}

func (p *pending[T]) take() []*writeReq[T] {
	p.mu.Lock()
	defer p.mu.Unlock()
	q := p.queue
	p.queue = nil
	return q
}

// submit queues r and waits until it is committed, leading the commit of
// a batch when its turn comes. It reports false when the instance went
// away first, and raises the panic of r's function in the caller's
// goroutine.
func (in *instance[T]) submit(r *writeReq[T]) (bool, error) {
	r.done, r.lead = make(chan struct{}), make(chan struct{}, 1)
	if !in.pending.add(r) {
		select {
		case <-r.done:
		case <-r.lead:
		}
	}
	select {
	case <-r.done:
	default:
		// Leading: r is queued, and the batch taken holds it.
		in.lead()
	}
	if r.panic != nil {
		panic(r.panic.v)
	}
	return r.live, r.err
}

// lead commits what is queued and passes the lead on, whatever happens.
func (in *instance[T]) lead() {
	defer in.pending.handOff()
	in.wmu.Lock()
	defer in.wmu.Unlock()
	in.commit(in.pending.take())
}

// commit makes one change of a batch and tells each request its outcome.
// The caller holds the writers' turn.
func (in *instance[T]) commit(batch []*writeReq[T]) {
	in.mu.Lock()
	live, at := in.initialized && !in.deleted, Position{Epoch: in.epoch, Version: in.version}
	in.mu.Unlock()
	finish := func(live bool, err error) {
		for _, r := range batch {
			r.finish(live, err)
		}
	}
	if !live {
		finish(false, nil)
		return
	}
	for attempt := 1; ; attempt++ {
		var state T
		var c Change
		var err error
		state, c, batch, err = in.change(batch, at)
		if err != nil && len(batch) > 1 {
			// One function made a state that cannot be sent: each
			// change on its own, so only that one fails.
			for _, r := range batch {
				in.commit([]*writeReq[T]{r})
			}
			return
		}
		if err == nil && c.Frame != nil {
			err = in.append(at, c)
		}
		if errors.Is(err, ErrConflict) && attempt < maxAttempts {
			// Another node wrote first: take its changes, then run the
			// functions again on the state they made.
			yieldTo(attempt)
			var live bool
			if at, live, err = in.catchUp(at, attempt); err != nil || !live {
				finish(live, err)
				return
			}
			if !in.ready.Load() {
				// Reset elsewhere: the next use creates it anew.
				finish(false, nil)
				return
			}
			continue
		}
		if err == nil {
			in.mu.Lock()
			in.state = state
			if c.Frame != nil {
				in.applyLocked(c)
			}
			in.mu.Unlock()
		}
		finish(true, err)
		return
	}
}

// change runs the batch's functions on a copy of the state and returns the
// state they made and the change that reaches it after at: a patch, a
// snapshot when the batch holds a Set, or no frame when nothing changed.
// A request whose function panics is finished with its panic and left
// out, and the others run again without it; the batch returned is what
// remains.
func (in *instance[T]) change(batch []*writeReq[T], at Position) (T, Change, []*writeReq[T], error) {
	state := wire.Clone(in.state)
	snapshot := false
	for i := 0; i < len(batch); i++ {
		r := batch[i]
		if p := run(r.mutate, &state); p != nil {
			r.panic = p
			r.finish(true, nil)
			batch = append(batch[:i:i], batch[i+1:]...)
			state, snapshot, i = wire.Clone(in.state), false, -1
			continue
		}
		snapshot = snapshot || r.set
	}
	if len(batch) == 0 {
		return in.state, Change{}, batch, nil
	}
	var frame []byte
	var err error
	if snapshot {
		frame, err = wire.EncodeSnap(in.name, at.Epoch, at.Version+1, state)
	} else {
		var ops []wire.Op
		if ops, err = wire.Diff(in.state, state); err != nil || len(ops) == 0 {
			return state, Change{}, batch, storeErrOrNil(in.name, err)
		}
		frame, err = wire.EncodePatch(in.name, at.Epoch, at.Version+1, ops)
	}
	if err != nil {
		return state, Change{}, batch, storeErr(in.name, err)
	}
	return state, Change{Position: next(at), Frame: frame}, batch, nil
}

// run calls mutate, returning its panic, if any.
func run[T any](mutate func(*T), state *T) (p *panicValue) {
	defer func() {
		if v := recover(); v != nil {
			p = &panicValue{v}
		}
	}()
	mutate(state)
	return nil
}

func storeErrOrNil(name string, err error) error {
	if err == nil {
		return nil
	}
	return storeErr(name, err)
}
