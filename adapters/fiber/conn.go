package hotfiber

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
	hotstate "github.com/hotstate/hotstate/core"
)

// closeWait bounds each half of a close: sending our close frame, then
// waiting for the peer's.
const closeWait = time.Second

// aLongTimeAgo is a deadline in the past: setting it makes a blocked read
// or write return at once.
var aLongTimeAgo = time.Unix(1, 0)

// conn adapts a gorilla-style fasthttp/websocket connection to
// hotstate.Conn. Such a connection has rules coder/websocket hides:
//
//   - One reader at a time: rmu is held by whoever reads, the server's
//     reader goroutine in Read or Close waiting for the peer's close frame.
//   - One writer at a time: wsem serialises Write, Ping and Close.
//   - Deadlines, not contexts: each call turns its ctx's deadline into a
//     read or write deadline, and ctx's cancellation into a deadline in
//     the past, through interruptOn.
//   - A pooled *Conn: contrib/websocket releases it when the handler
//     returns. Every goroutine that touches it is over by then: the
//     server's own are, once ServeConn returns, and interruptOn's stop
//     waits for a running interrupt.
type conn struct {
	ws   *websocket.Conn
	info hotstate.ConnInfo
	// wsem has room for one: whoever holds it may write.
	wsem chan struct{}

	// ping is the payload of the last ping sent; pong is signalled when
	// the pong that echoes it arrives (the reader runs the pong handler).
	ping atomic.Uint64
	pong chan struct{}

	// readDone is closed when reading has ended for good (an error, the
	// peer's close frame, a text message), after readErr was set.
	readDone chan struct{}

	rmu     sync.Mutex // held while reading; guards readErr
	readErr error

	closeOnce sync.Once
	closed    chan struct{} // closed once closing has finished
}

func newConn(ws *websocket.Conn, info hotstate.ConnInfo) *conn {
	c := &conn{
		ws:       ws,
		info:     info,
		wsem:     make(chan struct{}, 1),
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
	return c
}

func (c *conn) Info() hotstate.ConnInfo { return c.info }

func (c *conn) Read(ctx context.Context) ([]byte, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.readErr != nil {
		return nil, c.readErr
	}
	deadline, _ := ctx.Deadline()
	_ = c.ws.SetReadDeadline(deadline)
	stop := interruptOn(ctx, func() { _ = c.ws.SetReadDeadline(aLongTimeAgo) })
	typ, b, err := c.ws.ReadMessage()
	stop()
	switch {
	case err != nil:
		// An oversize message comes back as ErrReadLimit after the library
		// has sent 1009 itself.
	case typ != websocket.BinaryMessage:
		err = fmt.Errorf("%w (%d bytes)", hotstate.ErrTextFrame, len(b))
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
	if err := c.lockWrite(ctx); err != nil {
		return err
	}
	defer c.unlockWrite()
	deadline, _ := ctx.Deadline()
	_ = c.ws.SetWriteDeadline(deadline)
	// The library sets its own deadline on the network connection before
	// each frame; one in the past set from here still cuts a write that
	// blocks on a peer that stopped reading.
	stop := interruptOn(ctx, func() { _ = c.ws.NetConn().SetWriteDeadline(aLongTimeAgo) })
	defer stop()
	return c.ws.WriteMessage(websocket.BinaryMessage, frame)
}

// Ping sends a ping whose payload is a sequence number and waits for the
// pong that echoes it, which the reader's pong handler reports.
func (c *conn) Ping(ctx context.Context) error {
	n := c.ping.Add(1)
	select {
	case <-c.pong: // left by an earlier ping
	default:
	}
	if err := c.lockWrite(ctx); err != nil {
		return err
	}
	deadline, _ := ctx.Deadline()
	err := c.ws.WriteControl(websocket.PingMessage, strconv.AppendUint(nil, n, 10), deadline)
	c.unlockWrite()
	if err != nil {
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
	ctx, cancel := context.WithTimeout(context.Background(), closeWait)
	defer cancel()
	if c.lockWrite(ctx) != nil {
		return // a write is stuck; the server's teardown cuts it
	}
	deadline, _ := ctx.Deadline()
	err := c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), deadline)
	c.unlockWrite()
	if err != nil && !errors.Is(err, websocket.ErrCloseSent) {
		return
	}
	// Wait for the peer's close frame. While the server's reader is in
	// Read it sees the frame; otherwise (before the first Read, after the
	// last) read it here.
	if !c.rmu.TryLock() {
		select {
		case <-c.readDone:
		case <-ctx.Done():
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
	if c.readErr != nil && !errors.Is(c.readErr, hotstate.ErrTextFrame) {
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

// finish runs after ServeConn has returned, before the handler gives the
// connection back to its pool. If the server never closed it, the peer
// went away or broke the protocol and there is nothing left to say.
func (c *conn) finish() {
	c.closeOnce.Do(func() { close(c.closed) })
	<-c.closed
}

func (c *conn) lockWrite(ctx context.Context) error {
	select {
	case c.wsem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *conn) unlockWrite() { <-c.wsem }

// interruptOn runs interrupt if ctx ends before the returned stop is
// called. stop waits for an interrupt that has started, so none runs after
// the call it guards has returned.
func interruptOn(ctx context.Context, interrupt func()) (stop func()) {
	if ctx.Done() == nil {
		return func() {}
	}
	done := make(chan struct{})
	stopFunc := context.AfterFunc(ctx, func() {
		defer close(done)
		interrupt()
	})
	return func() {
		if !stopFunc() {
			<-done
		}
	}
}
