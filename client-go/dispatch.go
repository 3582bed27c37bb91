package hotclient

import (
	"sync"
	"sync/atomic"
)

// dispatcher runs the client's callbacks one at a time, in the order they
// were queued, on a goroutine of its own. Queuing never blocks, which keeps
// the reader independent of user code.
type dispatcher struct {
	wake chan struct{} // capacity 1: "there is something to do"
	done chan struct{} // closed when the goroutine has returned
	// running is set while a callback executes, so stop can tell that
	// waiting for the goroutine might mean waiting for its own caller.
	running atomic.Bool

	mu      sync.Mutex // guards queue, started, stopped
	queue   []func()
	started bool
	stopped bool
}

func (d *dispatcher) init() {
	d.wake = make(chan struct{}, 1)
	d.done = make(chan struct{})
}

// start launches the goroutine; Client.Connect calls it once.
func (d *dispatcher) start() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started || d.stopped {
		return
	}
	d.started = true
	go d.run()
}

// push queues fn. Callbacks queued before start wait for it; those queued
// after stop are dropped.
func (d *dispatcher) push(fn func()) {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return
	}
	d.queue = append(d.queue, fn)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// stop drops the queue and makes the goroutine return once the callback in
// progress, if any, has.
func (d *dispatcher) stop() {
	d.mu.Lock()
	d.stopped = true
	d.queue = nil
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// wait returns when the goroutine has, or at once when it never started or
// a callback is executing: that callback may be the caller.
func (d *dispatcher) wait() {
	d.mu.Lock()
	started := d.started
	d.mu.Unlock()
	if !started || d.running.Load() {
		return
	}
	<-d.done
}

func (d *dispatcher) run() {
	defer close(d.done)
	for range d.wake {
		for {
			fn, ok := d.next()
			if !ok {
				break
			}
			if fn == nil {
				return
			}
			d.running.Store(true)
			fn()
			d.running.Store(false)
		}
	}
}

// next pops the next callback: ok is false when the queue is empty, fn is
// nil when the dispatcher was stopped.
func (d *dispatcher) next() (fn func(), ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return nil, true
	}
	if len(d.queue) == 0 {
		return nil, false
	}
	fn = d.queue[0]
	d.queue[0] = nil
	d.queue = d.queue[1:]
	return fn, true
}
