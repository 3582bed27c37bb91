package hotstate

import (
	"context"
	"sync"

	"github.com/hotstate/hotstate/core/wire"
)

// outbox is a session's byte-capped queue of encoded frames. Pushing never
// blocks, so a store can broadcast to every subscriber while it holds its
// lock; the session's writer goroutine drains it.
type outbox struct {
	wake chan struct{} // capacity 1: "there is something to do"
	max  int

	mu     sync.Mutex // guards frames, spare, size, code, reason
	frames [][]byte
	// spare is the slice the writer handed back, reused so a steady flow
	// of frames allocates nothing.
	spare [][]byte
	size  int
	// busy is true while a goroutine writes to the connection: the writer
	// draining the queue, or a function call sending its result directly.
	busy bool
	// code is the close code once closing was requested, else 0.
	code   int
	reason string
	// abort cancels the writes of the connection, for peers that stopped
	// reading; set once, before the writer starts.
	abort context.CancelFunc
}

func newOutbox(max int, abort context.CancelFunc) *outbox {
	return &outbox{wake: make(chan struct{}, 1), max: max, abort: abort}
}

// push queues frame. Past the byte limit it empties the queue and asks the
// writer to close the connection as a slow consumer; it reports false when
// the frame was not queued.
func (o *outbox) push(frame []byte) bool {
	o.mu.Lock()
	if o.code != 0 {
		o.mu.Unlock()
		return false
	}
	if o.size+len(frame) > o.max {
		o.closeLocked(wire.CloseSlowConsumer, "slow consumer", true)
		o.mu.Unlock()
		return false
	}
	o.frames = append(o.frames, frame)
	o.size += len(frame)
	o.mu.Unlock()
	o.signal()
	return true
}

// close asks the writer to close the connection with code after it has
// written what is queued, or at once (dropping the queue) when abort is set.
// The first request wins.
func (o *outbox) close(code int, reason string, abort bool) {
	o.mu.Lock()
	o.closeLocked(code, reason, abort)
	o.mu.Unlock()
}

func (o *outbox) closeLocked(code int, reason string, abort bool) {
	if o.code != 0 {
		return
	}
	o.code, o.reason = code, reason
	if abort {
		clear(o.frames)
		o.frames, o.size = o.frames[:0], 0
		o.abort()
	}
	o.signal()
}

func (o *outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// take hands the writer everything queued and the close request, if any,
// and marks the connection busy; ok is false while another goroutine
// writes, which wakes the writer again when it is done. The writer ends
// its turn with done.
func (o *outbox) take() (frames [][]byte, code int, reason string, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.busy {
		return nil, 0, "", false
	}
	o.busy = true
	frames, o.frames, o.spare, o.size = o.frames, o.spare, nil, 0
	return frames, o.code, o.reason, true
}

// claim marks the connection busy for a direct write, when nothing is
// queued and no one is writing; the caller ends its turn with done.
func (o *outbox) claim() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.busy || o.code != 0 || len(o.frames) > 0 {
		return false
	}
	o.busy = true
	return true
}

// done ends a turn of writing, taking back the slice from take for reuse,
// and wakes the writer for whatever arrived meanwhile.
func (o *outbox) done(frames [][]byte) {
	clear(frames) // let the frames be collected
	o.mu.Lock()
	if frames != nil {
		o.spare = frames[:0]
	}
	o.busy = false
	pending := len(o.frames) > 0 || o.code != 0
	o.mu.Unlock()
	if pending {
		o.signal()
	}
}

// closing reports whether a close was requested.
func (o *outbox) closing() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.code != 0
}
