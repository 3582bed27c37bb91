package fastws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
	hotstate "github.com/hotstate/hotstate/core"
)

// closeWait bounds each half of a close: sending our close frame, then
// waiting for the peer's. It also bounds the reader's replies (pongs, the
// answer to the peer's close).
const closeWait = time.Second

// errTooBig is what Read returns for a message past the frame limit, after
// closing the connection with 1009.
var errTooBig = errors.New("fastws: message too big")

// conn adapts a fasthttp/websocket connection to hotstate.Conn and
// hotstate.Corker. The library reads; socket writes. The library's rules
// that coder/websocket hides are kept here:
//
//   - One reader at a time: rmu is held by whoever reads, the server's
//     reader goroutine in Read or Close waiting for the peer's close frame.
//   - Deadlines, not contexts: Read turns its context's deadline into a
//     read deadline and its end into one in the past; socket does the same
//     for writes.
//   - The connection belongs to fasthttp again once the upgrade's handler
//     returns. Every goroutine that touches it is over by then: the
//     server's own are, once ServeConn returns, and finish stops the
//     interrupts and waits for a Close still running.
type conn struct {
	ws   *websocket.Conn
	sock *socket
	info hotstate.ConnInfo
	max  int

	// ping is the payload of the last ping sent; pong is signalled when
	// the pong that echoes it arrives (the reader runs the pong handler).
	ping atomic.Uint64
	pong chan struct{}

	// readDone is closed when reading has ended for good (an error, the
	// peer's close frame, a text or oversize message), after readErr was
	// set.
	readDone chan struct{}

	rmu     sync.Mutex // held while reading; guards the fields below
	readErr error
	// readWatched is the context whose end interrupts reads, and unwatch
	// stops that interrupt.
	readWatched context.Context
	unwatch     func()

	closeOnce sync.Once
	closed    chan struct{} // closed once closing has finished
}

// The server batches writes only for a Conn that is also a Corker.
var _ hotstate.Corker = (*conn)(nil)

func newConn(ws *websocket.Conn, info hotstate.ConnInfo, maxFrameBytes int) *conn {
	c := &conn{
		ws:       ws,
		sock:     newSocket(ws.NetConn()),
		info:     info,
		max:      maxFrameBytes,
		pong:     make(chan struct{}, 1),
		readDone: make(chan struct{}),
		closed:   make(chan struct{}),
	}
	ws.SetPongHandler(func(data string) error {
		if data == strconv.FormatUint(c.ping.Load(), 10) {
			select {
			case c.pong <- struct{}{}:
			default:
			}
		}
		return nil
	})
	// The library's own handlers would answer with writes of their own;
	// these send through socket, in order with everything else. A reply
	// that cannot be sent is not the reader's failure: the writer or the
	// close that follows finds the broken connection.
	ws.SetPingHandler(func(data string) error {
		_ = c.sock.reply(opPong, []byte(data), closeWait)
		return nil
	})
	ws.SetCloseHandler(func(code int, _ string) error {
		_ = c.sock.reply(opClose, closePayload(code, ""), closeWait)
		return nil
	})
	return c
}

func (c *conn) Info() hotstate.ConnInfo { return c.info }

func (c *conn) Read(ctx context.Context) ([]byte, error) {
	c.rmu.Lock()
	b, err := c.readLocked(ctx)
	c.rmu.Unlock()
	if errors.Is(err, errTooBig) {
		// What coder/websocket does past its read limit, so every
		// transport answers an oversize message alike.
		_ = c.Close(websocket.CloseMessageTooBig, "message too big")
	}
	return b, err
}

func (c *conn) readLocked(ctx context.Context) ([]byte, error) {
	if c.readErr != nil {
		return nil, c.readErr
	}
	if ctx != c.readWatched {
		if c.unwatch != nil {
			c.unwatch()
		}
		c.readWatched = ctx
		c.unwatch = interruptOn(ctx, func() { _ = c.ws.SetReadDeadline(aLongTimeAgo) })
	}
	deadline, _ := ctx.Deadline()
	_ = c.ws.SetReadDeadline(deadline)
	// Checked after the deadline was set: if ctx ends later, the interrupt
	// sets its deadline after this one.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	typ, r, err := c.ws.NextReader()
	var b []byte
	if err == nil {
		// The limit is enforced here rather than by the library, which
		// would send its 1009 around socket.
		b, err = io.ReadAll(io.LimitReader(r, int64(c.max)+1))
	}
	switch {
	case err != nil:
	case typ != websocket.BinaryMessage:
		err = fmt.Errorf("%w (%d bytes)", hotstate.ErrTextFrame, len(b))
	case len(b) > c.max:
		err = fmt.Errorf("%w: more than %d bytes", errTooBig, c.max)
	default:
		return b, nil
	}
	c.stopReadingLocked(err)
	return nil, err
}

func (c *conn) stopReadingLocked(err error) {
	if c.readErr != nil {
		return
	}
	c.readErr = err
	close(c.readDone)
}

func (c *conn) Write(ctx context.Context, frame []byte) error {
	return c.sock.write(ctx, frame)
}

// Cork holds data frames back until Flush, which sends them together.
func (c *conn) Cork() { c.sock.cork() }

// Flush sends what Cork held back.
func (c *conn) Flush() error { return c.sock.flush() }

// Ping sends a ping whose payload is a sequence number and waits for the
// pong that echoes it, which the reader's pong handler reports.
func (c *conn) Ping(ctx context.Context) error {
	n := c.ping.Add(1)
	select {
	case <-c.pong: // left by an earlier ping
	default:
	}
	if err := c.sock.ping(ctx, strconv.AppendUint(nil, n, 10)); err != nil {
		return err
	}
	// Once reading has stopped no pong can come, but the session is ending
	// then; failing the heartbeat early would only race its close code.
	select {
	case <-c.pong:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close sends a close frame and waits, for at most closeWait, for the
// peer's. Later calls wait for the first to finish.
func (c *conn) Close(code int, reason string) error {
	c.closeOnce.Do(func() {
		defer close(c.closed)
		c.close(code, reason)
	})
	<-c.closed
	return nil
}

func (c *conn) close(code int, reason string) {
	if !c.sock.closeFrame(code, reason, closeWait) {
		return
	}
	deadline := time.Now().Add(closeWait)
	// Wait for the peer's close frame. While the server's reader is in
	// Read it sees the frame; otherwise (before the first Read, after the
	// last) read it here.
	if !c.rmu.TryLock() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		select {
		case <-c.readDone:
		case <-t.C:
			return
		}
		c.rmu.Lock()
	}
	defer c.rmu.Unlock()
	c.awaitPeerCloseLocked(deadline)
}

// awaitPeerCloseLocked reads and discards messages until the peer's close
// frame, any error or the deadline.
func (c *conn) awaitPeerCloseLocked(deadline time.Time) {
	if c.readErr != nil && !errors.Is(c.readErr, hotstate.ErrTextFrame) && !errors.Is(c.readErr, errTooBig) {
		return // the peer's close, or a connection that can no longer be read
	}
	_ = c.ws.SetReadDeadline(deadline)
	for {
		if _, _, err := c.ws.NextReader(); err != nil {
			c.stopReadingLocked(err)
			return
		}
	}
}

// finish runs after ServeConn has returned, before the connection goes
// back to fasthttp. If the server never closed it, the peer went away or
// broke the protocol and there is nothing left to say.
func (c *conn) finish() {
	c.closeOnce.Do(func() { close(c.closed) })
	<-c.closed
	c.rmu.Lock()
	if c.unwatch != nil {
		c.unwatch()
		c.unwatch = nil
	}
	c.rmu.Unlock()
	c.sock.finish()
}
