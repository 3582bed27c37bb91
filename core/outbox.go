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

	mu     sync.Mutex // guards frames, size, code, reason, abort
	frames [][]byte
	size   int
	// code is the close code once closing was requested, else 0.
	code   int
	reason string
	// abort cancels the write in progress, for peers that stopped reading.
	abort context.CancelFunc
}

func newOutbox(max int) *outbox {
	return &outbox{wake: make(chan struct{}, 1), max: max}
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
		o.frames, o.size = nil, 0
		if o.abort != nil {
			o.abort()
		}
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
// and installs cancel as the way to abort the writes it is about to do.
func (o *outbox) take(cancel context.CancelFunc) (frames [][]byte, code int, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	frames, o.frames, o.size = o.frames, nil, 0
	o.abort = cancel
	return frames, o.code, o.reason
}

// closing reports whether a close was requested.
func (o *outbox) closing() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.code != 0
}
