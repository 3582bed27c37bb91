package hotstate

import (
	"context"
	"sync"

	"github.com/hotstate/hotstate/core/wire"
)

// outbox is a session's byte-capped queue of encoded frames. Pushing never
// blocks, so a store can broadcast to every subscriber while it holds its
// lock. A writer goroutine drains the queue; it runs only while there is
// something to write, so an idle connection keeps no goroutine but its
// reader.
type outbox struct {
	max int
	// start starts a writer goroutine. It is called with mu held, when
	// nobody is writing, so at most one writer runs at a time.
	start func()
	// abort cancels the writes of the connection, for peers that stopped
	// reading.
	abort context.CancelFunc

	mu     sync.Mutex // guards everything below
	frames [][]byte
	// spare is the slice the writer handed back, reused so a steady flow
	// of frames allocates nothing.
	spare [][]byte
	size  int
	// busy is true while a goroutine writes to the connection: the writer,
	// or a function call sending its result directly.
	busy bool
	// ended is true once nothing more may be written: the connection is
	// closed or the session is over.
	ended bool
	// code is the close code once closing was requested, else 0.
	code   int
	reason string
}

func newOutbox(max int, start func(), abort context.CancelFunc) *outbox {
	return &outbox{max: max, start: start, abort: abort}
}

// push queues frame. When the backlog would pass the byte limit it empties
// the queue and asks the writer to close the connection as a slow
// consumer; it reports false when the frame was not queued. The backlog is
// what waits behind the oldest queued frame, so one frame larger than the
// limit (a big snapshot) still goes out to a client that keeps up.
func (o *outbox) push(frame []byte) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.code != 0 || o.ended {
		return false
	}
	backlog := o.size + len(frame)
	if len(o.frames) > 0 {
		backlog -= len(o.frames[0])
	} else {
		backlog = 0
	}
	if backlog > o.max {
		o.closeLocked(wire.CloseSlowConsumer, "slow consumer", true)
		return false
	}
	o.frames = append(o.frames, frame)
	o.size += len(frame)
	o.kickLocked()
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
	if o.code != 0 || o.ended {
		return
	}
	o.code, o.reason = code, reason
	if abort {
		clear(o.frames)
		o.frames, o.size = o.frames[:0], 0
		o.abort()
	}
	o.kickLocked()
}

// kickLocked starts a writer unless someone is writing already.
func (o *outbox) kickLocked() {
	if !o.busy && !o.ended {
		o.busy = true
		o.start()
	}
}

// next hands the writer everything queued and the close request, if any,
// taking back the slice it handed out last time for reuse. When there is
// nothing to do the writer's turn is over and ok is false.
func (o *outbox) next(written [][]byte) (frames [][]byte, code int, reason string, ok bool) {
	clear(written) // let the frames be collected
	o.mu.Lock()
	defer o.mu.Unlock()
	if written != nil {
		o.spare = written[:0]
	}
	if len(o.frames) == 0 && o.code == 0 {
		o.busy = false
		return nil, 0, "", false
	}
	frames, o.frames, o.spare, o.size = o.frames, o.spare, nil, 0
	return frames, o.code, o.reason, true
}

// claim takes the turn to write for a direct write, when nothing is queued
// and nobody is writing; the caller gives it back with release.
func (o *outbox) claim() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.busy || o.ended || o.code != 0 || len(o.frames) > 0 {
		return false
	}
	o.busy = true
	return true
}

// release ends a direct write and starts the writer for whatever arrived
// meanwhile.
func (o *outbox) release() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.busy = false
	if len(o.frames) > 0 || o.code != 0 {
		o.kickLocked()
	}
}

// end stops all writing: later frames are dropped and no writer starts.
func (o *outbox) end() {
	o.mu.Lock()
	o.ended = true
	o.mu.Unlock()
}

// closing reports whether a close was requested.
func (o *outbox) closing() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.code != 0
}
