package hothttp

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hotstate/hotstate/adapters/internal/wsframe"
	hotstate "github.com/hotstate/hotstate/core"
)

// WithEventLoop chooses how plain-TCP connections are read on Linux: on,
// the kernel's readiness (epoll) tells the server when a connection has
// bytes, and a goroutine runs only while it does, so an idle connection
// keeps none; off, each connection keeps a goroutine that reads it. TLS
// connections and other platforms always keep a goroutine. The default is
// on: both paths pass the same conformance suite, and the event path
// holds 5.0 KiB per idle subscribed connection against 11.7 KiB, for the
// same CPU per call and per delivery within the spread of the runs
// (docs/BENCHMARKS.md).
func WithEventLoop(on bool) Option {
	return optionFunc(func(c *config) { c.goroutines = !on })
}

// The event path's sizes.
const (
	// eventReadBytes is the read buffer a connection borrows from a pool
	// while it has bytes to process.
	eventReadBytes = 16 << 10
	// wakeBytes bounds what one connection reads per wake-up: a client
	// that keeps sending is read again after the others that are ready,
	// not before them.
	wakeBytes = 64 << 10
	// lingerTime is how long a connection keeps its goroutine after its
	// bytes ran out, waiting for more through Go's netpoller.
	lingerTime = 10 * time.Millisecond
	// lingerBytes is the buffer a lingering connection reads into.
	lingerBytes = 512
)

// readBufs recycles the read buffers of the event path, so an idle
// connection holds none.
var readBufs = sync.Pool{New: func() any { b := make([]byte, eventReadBytes); return &b }}

// lingerBufs recycles the small buffers of lingering connections.
var lingerBufs = sync.Pool{New: func() any { b := make([]byte, lingerBytes); return &b }}

// errEventConn is what Read returns on the event path, where the
// connection's bytes arrive as events instead.
var errEventConn = errors.New("hothttp: connection read by events")

// errNoCloseReply ends a connection whose peer did not answer the close
// frame within closeWait.
var errNoCloseReply = errors.New("hothttp: no close frame in reply")

// econn is a connection served by events (hotstate.Server.Open): the
// poller wakes it when its socket has bytes, it reads them with
// hotstate's own frame reader (wsframe) and hands the messages to the
// session. Writes take the
// same path as on the goroutine path (socket, with corking).
//
// Reading belongs to whoever holds busy: a goroutine started for a
// wake-up, which lingers a little once the bytes run out, or the goroutine
// that reads in a loop when the socket cannot be polled. It alone touches rd and calls Message and Closed, so the
// session's events never overlap.
type econn struct {
	sock *socket
	// raw is the socket's descriptor, nil when a goroutine reads the
	// socket in a loop instead.
	raw  syscall.RawConn
	info hotstate.ConnInfo
	rd   *wsframe.Reader
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

	// closing is set once a close frame went out or is going: no data
	// frame may follow it, and the connection ends when the peer's close
	// arrives, the peer hangs up, or closeWait passes.
	closing atomic.Bool
	// aborted is set once the server gave up on the peer: no close
	// handshake follows.
	aborted atomic.Bool
	// ping is the payload of the last ping sent; pong is signalled when
	// the pong that echoes it arrives.
	ping atomic.Uint64
	pong chan struct{}
	// writeWatched is the context already watched by Write; only the
	// goroutine with the writer's turn touches it.
	writeWatched context.Context

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

func (c *econn) Read(ctx context.Context) ([]byte, error) { return nil, errEventConn }

func (c *econn) Info() hotstate.ConnInfo { return c.info }

// Write sends one binary frame. When ctx ends (a write timeout, a slow
// consumer, a missed heartbeat: the server gives up on the peer) before a
// close frame went out, the connection ends at once, which also unblocks
// a write stuck on the peer; after a close frame, the close handshake goes
// on.
func (c *econn) Write(ctx context.Context, frame []byte) error {
	if ctx.Done() != nil && ctx != c.writeWatched {
		c.writeWatched = ctx
		context.AfterFunc(ctx, func() {
			c.aborted.Store(true)
			if !c.closing.Load() {
				c.end(ctx.Err())
			}
		})
	}
	if c.closing.Load() {
		return net.ErrClosed
	}
	return c.sock.writeFrame(frame)
}

// Cork holds writes back until Flush, which sends them in one system call.
func (c *econn) Cork() { c.sock.cork() }

// Flush sends what Cork held back.
func (c *econn) Flush() error { return c.sock.flush() }

// Ping sends a ping with a fresh payload and waits for the pong that
// echoes it, which the reading goroutine signals.
func (c *econn) Ping(ctx context.Context) error {
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
// connection ends when the peer answers or hangs up, or after closeWait.
func (c *econn) Close(code int, reason string) error {
	c.closeWith(code, reason, nil)
	return nil
}

// closeWith sends the close frame unless one went out already. err is
// what the session is told if the connection ends before the peer's
// close.
func (c *econn) closeWith(code int, reason string, cause error) {
	if !c.closing.CompareAndSwap(false, true) {
		return
	}
	if c.aborted.Load() {
		c.end(net.ErrClosed)
		return
	}
	var b [2 + 125]byte
	_ = c.sock.SetWriteDeadline(time.Now().Add(closeWait))
	if _, err := c.sock.Write(wsframe.AppendClose(b[:0], code, reason)); err != nil {
		c.end(err)
		return
	}
	if cause == nil {
		cause = errNoCloseReply
	}
	c.mu.Lock()
	if !c.ended {
		c.timer = time.AfterFunc(closeWait, func() { c.end(cause) })
	}
	c.mu.Unlock()
}

// end closes the socket, once, and calls Closed unless a reading
// goroutine is there to call it, or it was called.
func (c *econn) end(err error) {
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
	if call && x != nil {
		go func() { _ = x.Closed(err) }()
	}
}

// read reads what the socket has without waiting for more; it reports
// syscall.EAGAIN when there is nothing.
func (c *econn) read(p []byte) (n int, err error) {
	if c.raw == nil {
		return c.sock.Read(p)
	}
	n, err = c.rs.read(c.raw, p)
	if n < 0 {
		n = 0
	}
	if n == 0 && err == nil {
		err = io.EOF
	}
	return n, err
}

// What a reading turn ends with.
const (
	turnDrained   = iota // the socket has nothing more for now
	turnExhausted        // wakeBytes were read; there may be more
	turnStopped          // reading is over: the connection ended
)

// process reads what the socket has after a wake-up and hands the events
// in it on, up to wakeBytes; first holds bytes that arrived before (what
// net/http had read past the request). Once the socket is drained it
// lingers for more through Go's netpoller, so a client in a conversation
// (calls in a closed loop) costs what it costs on the goroutine path;
// after lingerTime of quiet it goes back to epoll and holds nothing.
func (c *econn) process(first []byte) {
	budget := wakeBytes
	state := turnDrained
	if len(first) > 0 && !c.feed(first) {
		state = turnStopped
	}
	if state != turnStopped {
		state = c.drain(&budget)
	}
	for state == turnDrained && budget > 0 {
		state = c.linger(&budget)
	}
	switch state {
	case turnStopped:
		c.idle(false)
	default: // quiet, or the budget is spent and epoll says when to go on
		c.idle(true)
	}
}

// turnQuiet ends a linger with nothing read.
const turnQuiet = turnStopped + 1

// drain reads what the socket has, up to budget bytes.
func (c *econn) drain(budget *int) int {
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	buf := *bp
	for {
		n, err := c.read(buf[:min(len(buf), *budget)])
		if n > 0 {
			*budget -= n
			if !c.feed(buf[:n]) {
				return turnStopped
			}
		}
		switch {
		case errors.Is(err, syscall.EAGAIN):
			return turnDrained
		case err != nil:
			c.readEnded(err)
			return turnStopped
		case *budget == 0:
			return turnExhausted
		case n < len(buf):
			return turnDrained // the next read would most likely find nothing
		}
	}
}

// linger waits up to lingerTime for the socket's next bytes and hands them
// on; it reads into a small buffer, which holds a typical call whole.
func (c *econn) linger(budget *int) int {
	if c.raw == nil {
		return turnQuiet
	}
	// The deadline bounds the wait; it goes with it, since a passed one
	// would fail the reads of the next wake-up too.
	_ = c.sock.SetReadDeadline(time.Now().Add(lingerTime))
	defer c.sock.SetReadDeadline(time.Time{})
	bp := lingerBufs.Get().(*[]byte)
	defer lingerBufs.Put(bp)
	buf := *bp
	n, err := c.rs.readWait(c.raw, buf)
	if n > 0 {
		*budget -= n
		if !c.feed(buf[:n]) {
			return turnStopped
		}
		if n == len(buf) {
			return c.drain(budget)
		}
		return turnDrained
	}
	if err == nil {
		err = io.EOF
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return turnQuiet
	}
	c.readEnded(err)
	return turnStopped
}

// readEnded ends the connection when reading fails or the peer hangs up.
func (c *econn) readEnded(err error) {
	if c.closing.Load() && errors.Is(err, io.EOF) {
		err = nil // the peer hung up after our close frame
	}
	c.end(err)
}

// idle ends a reading turn: it calls Closed if the connection ended
// meanwhile, or else waits for the next wake-up when rearm is set.
func (c *econn) idle(rearm bool) {
	c.mu.Lock()
	c.busy = false
	call := c.ended && !c.finished
	if call {
		c.finished = true
	}
	x, err := c.x, c.err
	if !c.ended && rearm {
		// Armed under mu, so end cannot close the socket meanwhile.
		events.arm(c)
	}
	c.mu.Unlock()
	if call && x != nil {
		_ = x.Closed(err)
	}
}

// feed hands the events in p to the session, and reports whether to read
// on.
func (c *econn) feed(p []byte) bool {
	for !c.discard {
		n, ev, err := c.rd.Next(p)
		p = p[n:]
		if wsframe.InvalidText(err) {
			// A text message, refused as such whatever it holds.
			c.discard = true
			c.closed(fmt.Errorf("%w: %w", hotstate.ErrTextFrame, err))
			return true
		}
		if err != nil {
			code, reason := wsframe.CloseProtocolError, "protocol error"
			var we *wsframe.Error
			if errors.As(err, &we) {
				code, reason = we.Code, we.Reason
			}
			// The peer's further bytes are read and dropped until it
			// answers the close frame or hangs up: closing with them
			// unread would reset the connection, and the peer might lose
			// the close frame.
			c.discard = true
			c.closeWith(code, reason, err)
			c.closed(err)
			return true
		}
		switch ev.Op {
		case 0:
			return true
		case wsframe.OpBinary:
			if !c.closing.Load() && !c.isFinished() && !c.x.Message(bytes.Clone(ev.Payload)) {
				return true // the server closes the connection
			}
		case wsframe.OpText:
			c.closed(fmt.Errorf("%w (%d bytes)", hotstate.ErrTextFrame, len(ev.Payload)))
		case wsframe.OpPing:
			if !c.closing.Load() {
				var b [2 + 125]byte
				_, _ = c.sock.Write(wsframe.AppendFrame(b[:0], wsframe.OpPong, ev.Payload))
			}
		case wsframe.OpPong:
			if len(ev.Payload) == 8 && binary.BigEndian.Uint64(ev.Payload) == c.ping.Load() {
				select {
				case c.pong <- struct{}{}:
				default:
				}
			}
		case wsframe.OpClose:
			if c.closing.CompareAndSwap(false, true) {
				// Echo the peer's code (RFC 6455 section 5.5.1).
				var b [2 + 125]byte
				_ = c.sock.SetWriteDeadline(time.Now().Add(closeWait))
				_, _ = c.sock.Write(wsframe.AppendClose(b[:0], ev.Code, ""))
			}
			c.end(nil)
			return false
		}
	}
	return true
}

func (c *econn) isFinished() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.finished
}

// closed calls Closed from the reading goroutine, while the connection
// may still be open, unless it was called.
func (c *econn) closed(err error) {
	c.mu.Lock()
	call := !c.finished
	c.finished = true
	x := c.x
	c.mu.Unlock()
	if call && x != nil {
		_ = x.Closed(err)
	}
}

// loop reads the socket from a goroutine of its own, for a connection the
// poller cannot watch (a listener's wrapped connection).
func (c *econn) loop(first []byte) {
	if len(first) > 0 && !c.feed(first) {
		c.idle(false)
		return
	}
	buf := make([]byte, readBufferBytes)
	for {
		n, err := c.read(buf)
		if n > 0 && !c.feed(buf[:n]) {
			break
		}
		if err != nil {
			c.readEnded(err)
			break
		}
	}
	c.idle(false)
}

// serveEvents completes the handshake itself and serves the connection by
// events. It reports false, having done nothing, for a connection the
// event path does not take (TLS).
func serveEvents(srv *hotstate.Server, w http.ResponseWriter, r *http.Request, info hotstate.ConnInfo) bool {
	if r.TLS != nil || !eventsSupported {
		return false
	}
	key, ok := checkHandshake(w, r)
	if !ok {
		return true
	}
	h := w.Header()
	h.Set("Upgrade", "websocket")
	h.Set("Connection", "Upgrade")
	h.Set("Sec-WebSocket-Accept", acceptKey(key))
	hj := &hijacker{ResponseWriter: w}
	hj.WriteHeader(http.StatusSwitchingProtocols)
	if _, _, err := hj.Hijack(); err != nil {
		return true
	}
	sock := hj.sock
	_ = sock.SetDeadline(time.Time{})
	first := sock.unread
	sock.unread = nil
	ec := &econn{sock: sock, info: info, rd: wsframe.NewReader(srv.MaxFrameBytes()), pong: make(chan struct{}, 1), finished: true}
	if sc, ok := sock.Conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			ec.raw = raw
			sock.direct = newRawWriter(raw)
		}
	}
	x, err := srv.Open(ec)
	if err != nil {
		return true // Open closed it with 1001; the close timer ends it
	}
	ec.mu.Lock()
	ec.x, ec.finished = x, false
	ended := ec.ended
	if ended {
		ec.finished = true
	}
	ec.busy = true
	ec.mu.Unlock()
	if ended {
		go func() { _ = x.Closed(ec.err) }()
		return true
	}
	if ec.raw != nil {
		if err := events.add(ec); err != nil {
			srv.Logger().Error("hothttp: event loop", "err", err)
			ec.raw = nil
		}
	}
	if ec.raw == nil {
		go ec.loop(first)
		return true
	}
	go ec.process(first)
	return true
}

// checkHandshake checks an upgrade request as RFC 6455 section 4.2.1
// asks, answering a bad one, and returns its key.
func checkHandshake(w http.ResponseWriter, r *http.Request) (string, bool) {
	if !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		http.Error(w, "WebSocket protocol violation: not an upgrade to websocket", http.StatusUpgradeRequired)
		return "", false
	}
	if r.Method != http.MethodGet {
		http.Error(w, "WebSocket protocol violation: handshake request method is not GET", http.StatusMethodNotAllowed)
		return "", false
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, "unsupported WebSocket protocol version (only 13 is supported)", http.StatusBadRequest)
		return "", false
	}
	key := strings.TrimSpace(r.Header.Get("Sec-WebSocket-Key"))
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		http.Error(w, "WebSocket protocol violation: invalid Sec-WebSocket-Key", http.StatusBadRequest)
		return "", false
	}
	return key, true
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// acceptKey is the Sec-WebSocket-Accept of key (RFC 6455 section 4.2.2).
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// wake starts a goroutine to read c, which the poller found ready.
func (c *econn) wake() {
	c.mu.Lock()
	if c.ended || c.busy {
		c.mu.Unlock()
		return
	}
	c.busy = true
	c.mu.Unlock()
	go c.process(nil)
}
