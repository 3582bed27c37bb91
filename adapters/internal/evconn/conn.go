package evconn

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hotstate/hotstate/adapters/internal/wsframe"
	hotstate "github.com/hotstate/hotstate/core"
)

// Conn is a connection served by events (hotstate.Server.Open): the
// poller wakes it when its socket has bytes, it reads them with
// hotstate's own frame reader (wsframe) and hands the messages to the
// session. Writes go through its Socket, with corking.
//
// Reading belongs to whoever holds busy: a goroutine started for a
// wake-up, which lingers a little once the bytes run out, or the
// goroutine that reads in a loop when the socket cannot be polled. It
// alone touches rd and calls Message and Closed, so the session's events
// never overlap.
type Conn struct {
	sock *Socket
	// raw is the socket's descriptor, nil when a goroutine reads the
	// socket in a loop instead.
	raw syscall.RawConn
	// tls is the connection's TLS layer, when it has one: the poller
	// watches the socket under it, and reads and writes go through it.
	tls  *tls.Conn
	info hotstate.ConnInfo
	rd   *wsframe.Reader
	// first is what the peer sent past the handshake, until Serve hands
	// it to the reader.
	first []byte
	// discard is set after the peer broke the protocol: what it sends
	// next is read and dropped. Only the reading goroutine touches it.
	discard bool
	// id names the connection to the poller, ep is the epoll it is
	// registered with.
	id uint64
	ep *epoll
	// rs carries the arguments of the system calls on the socket; only
	// the reading goroutine uses it, and the registration before it.
	rs rawState
	// onEnd, if set, is called once the socket is closed.
	onEnd func(*Conn)
	// loopDone is closed when the goroutine reading in a loop is over; nil
	// on the event path.
	loopDone chan struct{}

	// closing is set once a close frame went out or is going: no data
	// frame may follow it, and the connection ends when the peer's close
	// arrives, the peer hangs up, or CloseWait passes.
	closing atomic.Bool
	// aborted is set once the server gave up on the peer: no close
	// handshake follows.
	aborted atomic.Bool
	// ping is the payload of the last ping sent; pong is signalled when
	// the pong that echoes it arrives.
	ping atomic.Uint64
	pong chan struct{}
	// wctx is the context writes run under, set by the first Write before
	// hasWctx; the server uses one for the connection's life, and gives
	// up on the peer by ending it.
	wctx    context.Context
	hasWctx atomic.Bool

	mu sync.Mutex // guards x, busy, ended, finished, err, timer
	x  *hotstate.Session
	// busy is set while a goroutine reads the connection.
	busy bool
	// ended is set once the socket is closed; err says why.
	ended bool
	err   error
	// finished is set once Closed was called, or is due from whoever
	// set it.
	finished bool
	timer    *time.Timer
}

// New returns the Conn of nc, an upgraded connection whose 101 response
// went out; first holds what the peer sent past the handshake that the
// HTTP server had already read. onEnd, if not nil, is called once the
// socket is closed. Serve starts serving it.
func New(nc net.Conn, first []byte, info hotstate.ConnInfo, onEnd func(*Conn)) *Conn {
	return &Conn{sock: NewSocket(nc, nil), first: first, info: info, onEnd: onEnd, pong: make(chan struct{}, 1), finished: true}
}

// Serve has srv serve c until it closes, and returns at once. On Linux,
// when c's connection is a syscall.Conn (a plain TCP connection), the
// poller wakes a goroutine whenever it has bytes; otherwise a goroutine
// of its own reads it (see Wait).
func (c *Conn) Serve(srv *hotstate.Server) {
	first := c.first
	c.first = nil
	c.rd = wsframe.NewReader(srv.MaxFrameBytes())
	_ = c.sock.SetDeadline(time.Time{})
	// Reading is the goroutine's that Serve starts below. The kernel
	// reports a hang-up or an error even to a disarmed registration, and
	// the wake-up that follows must not start a second reader.
	c.mu.Lock()
	c.busy = true
	c.mu.Unlock()
	nc := c.sock.Conn
	if tc, ok := nc.(*tls.Conn); ok {
		c.tls, nc = tc, tc.NetConn()
	}
	if sc, ok := nc.(syscall.Conn); ok && eventsSupported {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
			// Registered disarmed: nothing but a hang-up or an error
			// wakes c before it is armed.
			if err := events.add(c); err != nil {
				srv.Logger().Error("evconn: event loop", "err", err)
				c.raw = nil
			} else if c.tls == nil {
				c.sock.direct = newRawWriter(raw, c.writeBlocked)
			}
		}
	}
	x, err := srv.Open(c)
	if err != nil {
		// Open closed it with 1001 and the close timer ends it; nothing
		// reads it meanwhile.
		if c.raw != nil {
			events.remove(c)
		}
		return
	}
	c.mu.Lock()
	c.x, c.finished = x, false
	ended := c.ended
	if ended {
		c.finished = true
	}
	c.mu.Unlock()
	if ended {
		go func() { _ = x.Closed(c.err) }()
		return
	}
	if c.raw == nil {
		c.loopDone = make(chan struct{})
		go c.loop(first)
		return
	}
	go c.process(first)
}

// Wait returns once the goroutine reading c in a loop is over and c's
// socket closed; at once on the event path, where no goroutine reads. A
// transport whose server closes a connection when its handler returns
// calls it from the handler.
func (c *Conn) Wait() {
	if c.loopDone != nil {
		<-c.loopDone
	}
}

// Read is never called: the session gets its messages as events.
func (c *Conn) Read(ctx context.Context) ([]byte, error) { return nil, errEventConn }

// Info describes the request that opened the connection.
func (c *Conn) Info() hotstate.ConnInfo { return c.info }

// Write sends one binary frame. When ctx ends (a write timeout, a slow
// consumer, a missed heartbeat: the server gives up on the peer) before a
// close frame went out, the connection ends, which also unblocks a write
// stuck on the peer; after a close frame, the close handshake goes on.
//
// ctx is not watched for the connection's life, which would cost memory
// for as long as it is open: a write that finds the peer's buffer full
// watches it while it waits (writeBlocked), and Write and Close look at
// it when they are called.
func (c *Conn) Write(ctx context.Context, frame []byte) error {
	if !c.hasWctx.Load() && ctx.Done() != nil {
		c.wctx = ctx
		c.hasWctx.Store(true)
		if c.sock.direct == nil {
			// Writes that go through the connection's own Write (TLS, or
			// a connection the poller cannot watch) cannot tell when they
			// wait: watch ctx for the connection's life.
			context.AfterFunc(ctx, c.abort)
		}
	}
	if c.closing.Load() {
		return net.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		c.abort()
		return err
	}
	return c.sock.WriteFrame(frame)
}

// writeBlocked is called when a write finds the socket's buffer full: the
// connection ends if the server gives up on the peer while it waits.
func (c *Conn) writeBlocked() (stop func() bool) {
	if !c.hasWctx.Load() || c.closing.Load() {
		return nil // a close frame has its own deadline
	}
	return context.AfterFunc(c.wctx, c.abort)
}

// abort ends the connection at once once the server gave up on the peer,
// unless a close frame went out: the close handshake then goes on.
func (c *Conn) abort() {
	c.aborted.Store(true)
	if !c.closing.Load() {
		c.end(c.wctx.Err())
	}
}

// gaveUp reports whether the server gave up on the peer.
func (c *Conn) gaveUp() bool {
	return c.aborted.Load() || c.hasWctx.Load() && c.wctx.Err() != nil
}

// Cork holds writes back until Flush, which sends them in one system call.
func (c *Conn) Cork() { c.sock.Cork() }

// Flush sends what Cork held back.
func (c *Conn) Flush() error { return c.sock.Flush() }

// Ping sends a ping with a fresh payload and waits for the pong that
// echoes it, which the reading goroutine signals.
func (c *Conn) Ping(ctx context.Context) error {
	if c.closing.Load() {
		return net.ErrClosed
	}
	id := c.ping.Add(1)
	select {
	case <-c.pong: // a late pong of an earlier ping
	default:
	}
	// A peer that stops reading would keep the ping, and a pong the
	// reading goroutine owes it, stuck in a write: when ctx ends, so do
	// writes to the peer, and the heartbeat gives up on it.
	stop := context.AfterFunc(ctx, func() { _ = c.sock.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	var b [2 + 8]byte
	frame := binary.BigEndian.AppendUint64(wsframe.AppendHeader(b[:0], wsframe.OpPing, 8), id)
	if _, err := c.sock.Write(frame); err != nil {
		return err
	}
	select {
	case <-c.pong:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close sends a close frame with code and reason and returns; the
// connection ends when the peer answers or hangs up, or after CloseWait.
func (c *Conn) Close(code int, reason string) error {
	c.closeWith(code, reason, nil)
	return nil
}

// closeWith sends the close frame unless one went out already. err is
// what the session is told if the connection ends before the peer's
// close.
func (c *Conn) closeWith(code int, reason string, cause error) {
	if !c.closing.CompareAndSwap(false, true) {
		return
	}
	if c.gaveUp() {
		c.end(net.ErrClosed)
		return
	}
	var b [2 + 125]byte
	_ = c.sock.SetWriteDeadline(time.Now().Add(CloseWait))
	if _, err := c.sock.Write(wsframe.AppendClose(b[:0], code, reason)); err != nil {
		c.end(err)
		return
	}
	if cause == nil {
		cause = errNoCloseReply
	}
	c.mu.Lock()
	if !c.ended {
		c.timer = time.AfterFunc(CloseWait, func() { c.end(cause) })
	}
	c.mu.Unlock()
}

// end closes the socket, once, and calls Closed unless a reading
// goroutine is there to call it, or it was called.
func (c *Conn) end(err error) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended, c.err = true, err
	if c.timer != nil {
		c.timer.Stop()
	}
	call := !c.busy && !c.finished
	if call {
		c.finished = true
	}
	x := c.x
	c.mu.Unlock()
	if c.raw != nil {
		events.remove(c)
	}
	_ = c.sock.Close()
	if c.onEnd != nil {
		c.onEnd(c)
	}
	if call && x != nil {
		go func() { _ = x.Closed(err) }()
	}
}
