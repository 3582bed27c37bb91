package evconn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/hotstate/hotstate/adapters/internal/wsframe"
	hotstate "github.com/hotstate/hotstate/core"
)

// read reads what the socket has without waiting for more; it reports
// syscall.EAGAIN when there is nothing.
func (c *Conn) read(p []byte) (n int, err error) {
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
// the HTTP server had read past the request). Once the socket is drained it
// lingers for more through Go's netpoller, so a client in a conversation
// (calls in a closed loop) costs what it costs on the goroutine path;
// after lingerTime of quiet it goes back to epoll and holds nothing.
func (c *Conn) process(first []byte) {
	if c.tls != nil {
		c.processTLS(first)
		return
	}
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

// processTLS is process for a connection with TLS. Records are read
// through the TLS layer, which may hold some that the socket no longer
// has, so it reads on until lingerTime passes with nothing: the TLS layer
// then holds at most part of a record, and the rest of it wakes the
// connection again. (A read that times out leaves the TLS layer usable.)
// Once wakeBytes were read it goes on in a new goroutine, behind the
// others that are ready to run.
func (c *Conn) processTLS(first []byte) {
	if len(first) > 0 && !c.feed(first) {
		c.idle(false)
		return
	}
	state := c.readTLS()
	if state == turnExhausted {
		go c.processTLS(nil)
		return
	}
	c.idle(state == turnQuiet)
}

// readTLS reads records for processTLS until lingerTime of quiet, the end
// of the connection or wakeBytes.
func (c *Conn) readTLS() int {
	bp := lingerBufs.Get().(*[]byte)
	defer lingerBufs.Put(bp)
	buf := *bp
	// The deadline goes before the turn ends: a passed one would fail
	// the next turn's reads.
	defer c.sock.SetReadDeadline(time.Time{})
	for budget := wakeBytes; budget > 0; {
		_ = c.sock.SetReadDeadline(time.Now().Add(lingerTime))
		n, err := c.tls.Read(buf)
		if n > 0 {
			budget -= n
			if !c.feed(buf[:n]) {
				return turnStopped
			}
		}
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			return turnQuiet
		case err != nil:
			c.readEnded(err)
			return turnStopped
		}
	}
	return turnExhausted
}

// turnQuiet ends a linger with nothing read.
const turnQuiet = turnStopped + 1

// drain reads what the socket has, up to budget bytes.
func (c *Conn) drain(budget *int) int {
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
func (c *Conn) linger(budget *int) int {
	if c.raw == nil {
		return turnQuiet
	}
	bp := lingerBufs.Get().(*[]byte)
	defer lingerBufs.Put(bp)
	buf := *bp
	// The deadline bounds the wait and goes with it: a passed one would
	// fail every later read, those of drain below included, which under
	// load can run past it.
	_ = c.sock.SetReadDeadline(time.Now().Add(lingerTime))
	n, err := c.rs.readWait(c.raw, buf)
	_ = c.sock.SetReadDeadline(time.Time{})
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
func (c *Conn) readEnded(err error) {
	if c.closing.Load() && errors.Is(err, io.EOF) {
		err = nil // the peer hung up after our close frame
	}
	c.end(err)
}

// idle ends a reading turn: it calls Closed if the connection ended
// meanwhile, or else waits for the next wake-up when rearm is set.
func (c *Conn) idle(rearm bool) {
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
func (c *Conn) feed(p []byte) bool {
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
				_ = c.sock.SetWriteDeadline(time.Now().Add(CloseWait))
				_, _ = c.sock.Write(wsframe.AppendClose(b[:0], ev.Code, ""))
			}
			c.end(nil)
			return false
		}
	}
	return true
}

func (c *Conn) isFinished() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.finished
}

// closed calls Closed from the reading goroutine, while the connection
// may still be open, unless it was called.
func (c *Conn) closed(err error) {
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
func (c *Conn) loop(first []byte) {
	defer close(c.loopDone)
	if len(first) > 0 && !c.feed(first) {
		c.idle(false)
		return
	}
	buf := make([]byte, loopReadBytes)
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

// wake starts a goroutine to read c, which the poller found ready.
func (c *Conn) wake() {
	c.mu.Lock()
	if c.ended || c.busy {
		c.mu.Unlock()
		return
	}
	c.busy = true
	c.mu.Unlock()
	go c.process(nil)
}
