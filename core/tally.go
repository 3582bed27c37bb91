package hotstate

import "sync"

// tally coalesces the changes of this node's subscriber count of one
// instance into as few Engine.AddSubscribers calls as possible: one call
// at a time per instance, carrying the sum of every delta queued while
// the one before was under way. When a thousand clients subscribe at once
// (a node restarted and its clients came back) the engine gets a handful
// of calls instead of a thousand, which matters for an engine whose count
// is one compare-and-set key written by every node.
//
// A delta is queued, which fixes its place in the order, and then waited
// for: queueing under the instance's lock keeps the order of leaves, so
// that the last subscriber to leave is answered by a call that includes
// every earlier leave. The zero tally is ready to use.
type tally struct {
	mu       sync.Mutex
	cond     *sync.Cond
	queued   int    // the sum of the deltas no call has carried yet
	last     uint64 // the ticket of the newest queued delta
	done     uint64 // every ticket up to this one was carried by a call that returned
	flushing bool   // a call is under way
	total    int    // what the latest call returned
	err      error
}

// ticket names a queued delta.
type ticket uint64

// queue adds delta to what the next call carries. It never blocks on the
// engine, so it may be called under the instance's lock.
func (t *tally) queue(delta int) ticket {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.queued += delta
	t.last++
	return ticket(t.last)
}

// wait returns the total of the call that carried tk, or of a later one.
// When no call is under way the caller makes it with add, for every
// delta queued so far; otherwise it waits for the call under way and,
// if that did not carry tk, for the next one, which some waiter makes.
func (t *tally) wait(tk ticket, add func(delta int) (int, error)) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cond == nil {
		t.cond = sync.NewCond(&t.mu)
	}
	for t.done < uint64(tk) {
		if t.flushing {
			t.cond.Wait()
			continue
		}
		t.flushing = true
		delta, upto := t.queued, t.last
		t.queued = 0
		t.mu.Unlock()
		n, err := add(delta)
		t.mu.Lock()
		t.flushing = false
		t.done, t.total, t.err = upto, n, err
		t.cond.Broadcast()
	}
	return t.total, t.err
}
