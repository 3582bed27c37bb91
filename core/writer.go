package hotstate

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/hotstate/hotstate/core/wire"
)

// writer owns everything that leaves one connection: a byte-capped queue
// of encoded frames, the goroutine that drains it, batching into one system
// call where the transport can (Corker), the write timeout, and the close
// frame.
//
// Pushing never blocks, so a store can broadcast to every subscriber while
// it holds its lock. One goroutine at a time writes (it has the turn): the
// drain goroutine, started only while frames wait, so an idle connection
// keeps no goroutine but its reader; or a function call that finds the
// connection idle and sends its result itself (sendNow).
type writer struct {
	conn         Conn
	log          *slog.Logger
	clientID     string
	max          int
	writeTimeout time.Duration
	// wg is the session's: ServeConn waits for the drain goroutine.
	wg *sync.WaitGroup
	// stopped is called once the writer has closed the connection, to end
	// the session.
	stopped func()
	// wctx is what writes run under; cancelling it (write timeout, slow
	// consumer, heartbeat failure) aborts a write blocked on the peer.
	wctx    context.Context
	wcancel context.CancelFunc
	// timeout cancels wctx when a write takes too long: one timer for the
	// connection's life, since a context per write would allocate on every
	// delivery. Only the goroutine with the turn arms it.
	timeout *time.Timer
	// drainFn is w.drain as one method value, not one per start.
	drainFn func()
	obs     *Observer

	mu     sync.Mutex // guards everything below
	frames [][]byte
	// spare is the slice the drain goroutine handed back, reused so a
	// steady flow of frames allocates nothing.
	spare [][]byte
	size  int
	// sent counts the frames queued or sent at once, for SessionInfo.
	sent uint64
	// turn is true while a goroutine writes to the connection.
	turn bool
	// ended is true once nothing more may be written: the connection is
	// closed or the session is over.
	ended bool
	// code is the close code once closing was requested, else 0.
	code   int
	reason string
}

func newWriter(ctx context.Context, conn Conn, clientID string, o *options, log *slog.Logger, wg *sync.WaitGroup, stopped func()) *writer {
	w := &writer{
		conn:         conn,
		log:          log,
		clientID:     clientID,
		max:          o.maxQueueBytes,
		writeTimeout: o.writeTimeout,
		wg:           wg,
		stopped:      stopped,
		obs:          o.obs,
	}
	w.wctx, w.wcancel = context.WithCancel(ctx)
	w.timeout = time.AfterFunc(time.Hour, w.wcancel)
	w.timeout.Stop()
	w.drainFn = w.drain
	return w
}

// push queues frame. When the backlog would pass the byte limit it empties
// the queue and closes the connection as a slow consumer; it reports false
// when the frame was not queued. The backlog is what waits behind the
// oldest queued frame, so one frame larger than the limit (a big snapshot)
// still goes out to a client that keeps up.
func (w *writer) push(frame []byte) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.code != 0 || w.ended {
		return false
	}
	backlog := 0
	if len(w.frames) > 0 {
		backlog = w.size + len(frame) - len(w.frames[0])
	}
	if backlog > w.max {
		w.obs.slowConsumer(w.clientID)
		w.closeLocked(wire.CloseSlowConsumer, "slow consumer", true)
		return false
	}
	w.frames = append(w.frames, frame)
	w.size += len(frame)
	w.sent++
	w.obs.queued(len(frame))
	w.startLocked()
	return true
}

// close closes the connection with code after what is queued has been
// written, or at once (dropping the queue) when abort is set. The first
// request wins.
func (w *writer) close(code int, reason string, abort bool) {
	w.mu.Lock()
	w.closeLocked(code, reason, abort)
	w.mu.Unlock()
}

func (w *writer) closeLocked(code int, reason string, abort bool) {
	if w.code != 0 || w.ended {
		return
	}
	w.code, w.reason = code, reason
	if abort {
		w.obs.queued(-w.size)
		clear(w.frames)
		w.frames, w.size = w.frames[:0], 0
		w.wcancel()
	}
	w.startLocked()
}

// startLocked starts the drain goroutine unless someone has the turn.
func (w *writer) startLocked() {
	if !w.turn && !w.ended {
		w.turn = true
		w.wg.Add(1)
		go w.drainFn()
	}
}

// end stops all writing: later frames are dropped and no drain goroutine
// starts, so the session's WaitGroup cannot grow after it.
func (w *writer) end() {
	w.mu.Lock()
	w.ended = true
	w.mu.Unlock()
}

// closing reports whether a close was requested.
func (w *writer) closing() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.code != 0
}

// next hands the drain goroutine everything queued and the close request,
// if any, taking back the slice it handed out last time. When there is
// nothing to do the turn is over and ok is false.
func (w *writer) next(written [][]byte) (frames [][]byte, code int, reason string, ok bool) {
	clear(written) // let the frames be collected
	w.mu.Lock()
	defer w.mu.Unlock()
	if written != nil {
		w.spare = written[:0]
	}
	if len(w.frames) == 0 && w.code == 0 {
		w.turn = false
		return nil, 0, "", false
	}
	w.obs.queued(-w.size)
	frames, w.frames, w.spare, w.size = w.frames, w.spare, nil, 0
	return frames, w.code, w.reason, true
}

// drain writes what is queued until nothing is, then returns; the next
// push starts another.
func (w *writer) drain() {
	defer w.wg.Done()
	var written [][]byte
	for {
		frames, code, reason, ok := w.next(written)
		if !ok {
			return
		}
		written = frames
		if err := w.write(frames); err != nil {
			if code == 0 {
				w.log.Debug("hotstate: write failed", "client", w.clientID, "err", err)
				code, reason = wire.CloseInternalError, "write failed"
			}
			w.finish(code, reason)
			return
		}
		if code != 0 {
			w.finish(code, reason)
			return
		}
	}
}

// finish closes the connection with code and ends the session.
func (w *writer) finish(code int, reason string) {
	w.end()
	_ = w.conn.Close(code, reason)
	w.stopped()
}

// sendNow writes frame at once when the connection is idle, which spares
// starting the drain goroutine, or else queues it. Only goroutines that may
// block on the peer call it: function calls sending their result.
func (w *writer) sendNow(frame []byte) {
	w.mu.Lock()
	free := !w.turn && !w.ended && w.code == 0 && len(w.frames) == 0
	if !free {
		w.mu.Unlock()
		w.push(frame)
		return
	}
	w.turn = true
	w.sent++
	w.mu.Unlock()
	if err := w.write([][]byte{frame}); err != nil {
		w.log.Debug("hotstate: write failed", "client", w.clientID, "err", err)
		w.close(wire.CloseInternalError, "write failed", true)
	}
	// Hand the turn on to a drain goroutine for whatever arrived meanwhile.
	w.mu.Lock()
	w.turn = false
	if len(w.frames) > 0 || w.code != 0 {
		w.startLocked()
	}
	w.mu.Unlock()
}

// write sends a batch of frames, in one system call where the transport can.
func (w *writer) write(frames [][]byte) error {
	if len(frames) == 0 {
		return nil
	}
	w.timeout.Reset(w.writeTimeout)
	defer w.timeout.Stop()
	c, ok := w.conn.(Corker)
	if !ok || len(frames) < 2 {
		c = nil
	}
	if c != nil {
		c.Cork()
	}
	for _, f := range frames {
		if err := w.conn.Write(w.wctx, f); err != nil {
			if c != nil {
				_ = c.Flush()
			}
			return err
		}
	}
	if c != nil {
		return c.Flush()
	}
	return nil
}
