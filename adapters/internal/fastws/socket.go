package fastws

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/fasthttp/websocket"
)

// corkLimit is the size of the buffered writer frames are gathered in: a
// batch that outgrows it goes out in several system calls.
const corkLimit = 64 << 10

// The opcodes of the frames the server sends (RFC 6455 section 5.2).
const (
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xa
)

// errWritesCut is returned once the context the server writes under has
// ended: the connection is being abandoned.
var errWritesCut = errors.New("fastws: writes cut off")

// aLongTimeAgo is a deadline in the past: setting it makes a blocked read
// or write return at once.
var aLongTimeAgo = time.Unix(1, 0)

// writers recycles the buffered writers frames are gathered in, so an idle
// connection holds none.
var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, corkLimit) }}

// socket is the write side of a connection. fasthttp/websocket writes
// every message with its own system call and has no way to gather several,
// so the server's frames bypass it: socket frames them itself (an unmasked
// frame is two to ten header bytes before the payload) and sends them
// through a buffered writer, which a single frame leaves with one system
// call and a corked batch with one per corkLimit bytes.
//
// Every frame the server sends goes through here under one lock, pings,
// pongs and the close frame included (the reader's replies to the peer's
// pings and close are routed here by handlers set on the library's
// connection), so frames never interleave and keep their order. The
// library still writes on its own in one case: a close frame when the peer
// breaks the protocol, on a connection that is over anyway.
//
// Deadlines, not contexts, bound the writes: each one sets its own before
// it touches the network, and a context that ends interrupts a write
// blocked on the peer by setting one in the past.
type socket struct {
	nc net.Conn
	// sem has room for one: whoever holds it may write to nc and use the
	// fields below.
	sem chan struct{}
	// bw holds frames not yet sent; nil when there are none.
	bw     *bufio.Writer
	corked bool
	// batch is the deadline a corked batch goes out under: that of the
	// data frames in it.
	batch time.Time
	// closed is set once the close frame was sent: nothing may follow it.
	closed bool
	// err is the first failed write. A frame may have been cut short, so
	// nothing else can be sent, not even a close frame.
	err error
	// head holds the frame header being written: a local array would
	// escape through bufio.Writer to the heap, once per frame.
	head [10]byte

	// cut is set once the context data frames are written under has ended.
	// Only the close frame may still go out, within its own deadline.
	cut atomic.Bool
	// watched is that context, and unwatch stops its interrupt; guarded by
	// sem.
	watched context.Context
	unwatch func()
}

func newSocket(nc net.Conn) *socket {
	return &socket{nc: nc, sem: make(chan struct{}, 1)}
}

// lock takes the right to write, giving up when ctx ends.
func (s *socket) lock(ctx context.Context) error {
	select {
	case s.sem <- struct{}{}:
		return nil
	default:
	}
	select {
	case s.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lockWithin takes the right to write unless that takes longer than d: the
// reader's replies and the close frame must not wait forever behind a
// write stuck on the peer.
func (s *socket) lockWithin(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case s.sem <- struct{}{}:
		return true
	case <-t.C:
		return false
	}
}

func (s *socket) unlock() { <-s.sem }

// write sends a data frame, or gathers it while corked.
func (s *socket) write(ctx context.Context, payload []byte) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	s.watch(ctx)
	deadline, _ := ctx.Deadline()
	if s.corked {
		s.batch = deadline
	}
	return s.send(opBinary, payload, deadline)
}

// watch arms the interrupt for ctx, the context data frames are written
// under. The server uses one for the connection's life, so this costs
// nothing per frame, where an interrupt armed for each write would
// allocate. Called with sem held.
func (s *socket) watch(ctx context.Context) {
	if ctx == s.watched {
		return
	}
	if s.unwatch != nil {
		s.unwatch()
	}
	s.watched = ctx
	s.unwatch = interruptOn(ctx, func() {
		// cut first: a writer that set its deadline and then finds cut
		// unset is still stopped by the deadline set here after it.
		s.cut.Store(true)
		_ = s.nc.SetWriteDeadline(aLongTimeAgo)
	})
}

// ping sends a ping frame; it gives up when ctx ends.
func (s *socket) ping(ctx context.Context, payload []byte) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	// Stopped before the unlock above: an interrupt arriving later would
	// cut the next holder's write.
	stop := interruptOn(ctx, func() { _ = s.nc.SetWriteDeadline(aLongTimeAgo) })
	defer stop()
	deadline, _ := ctx.Deadline()
	return s.send(opPing, payload, deadline)
}

// reply sends a frame on the reader's behalf (a pong, the close frame
// that answers the peer's), waiting at most wait for the right to write.
func (s *socket) reply(op byte, payload []byte, wait time.Duration) error {
	if !s.lockWithin(wait) {
		return errWritesCut
	}
	defer s.unlock()
	return s.send(op, payload, time.Now().Add(wait))
}

// closeFrame sends the close frame, at once even while corked. It reports
// whether the peer has been sent one, by this call or an earlier one.
func (s *socket) closeFrame(code int, reason string, wait time.Duration) bool {
	if !s.lockWithin(wait) {
		return false // a write is stuck; the server's teardown cuts it
	}
	defer s.unlock()
	if s.closed {
		return true
	}
	return s.send(opClose, closePayload(code, reason), time.Now().Add(wait)) == nil
}

// closePayload is the body of a close frame. A control frame carries at
// most 125 bytes, so a longer reason is cut, on a rune boundary since the
// peer checks that it is UTF-8.
func closePayload(code int, reason string) []byte {
	const maxReason = 125 - 2
	if len(reason) > maxReason {
		reason = reason[:maxReason]
		for !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	return websocket.FormatCloseMessage(code, reason)
}

// send frames payload as one message of type op and sends it, unless the
// socket is corked: then the frame waits in bw, and goes out early only
// when bw is full. The close frame always goes out at once. Called with
// sem held.
func (s *socket) send(op byte, payload []byte, deadline time.Time) error {
	if s.err != nil {
		return s.err
	}
	if s.closed {
		return websocket.ErrCloseSent
	}
	_ = s.nc.SetWriteDeadline(deadline)
	// Read after the deadline was set; see watch.
	if op != opClose && s.cut.Load() {
		return errWritesCut
	}
	if s.bw == nil {
		s.bw = writers.Get().(*bufio.Writer)
		s.bw.Reset(s.nc)
	}
	_, err := s.bw.Write(appendFrameHeader(s.head[:0], op, len(payload)))
	if err == nil {
		_, err = s.bw.Write(payload)
	}
	if err != nil {
		return s.fail(err)
	}
	if op == opClose {
		s.closed = true
	} else if s.corked {
		return nil
	}
	return s.drain()
}

// appendFrameHeader appends the header of a final, unmasked frame of type
// op carrying n bytes.
func appendFrameHeader(b []byte, op byte, n int) []byte {
	const fin = 0x80
	switch {
	case n <= 125:
		return append(b, fin|op, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, fin|op, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, fin|op, 127), uint64(n))
	}
}

// cork holds data frames back until flush.
func (s *socket) cork() {
	s.sem <- struct{}{}
	s.corked = true
	s.unlock()
}

// flush sends what cork held back and uncorks, even when the write fails.
func (s *socket) flush() error {
	s.sem <- struct{}{}
	defer s.unlock()
	if !s.corked {
		return nil
	}
	s.corked = false
	if s.bw == nil {
		return nil
	}
	_ = s.nc.SetWriteDeadline(s.batch)
	if s.cut.Load() {
		// Part of a frame may have left when bw filled up; what is held
		// back cannot be sent, so nothing after it can either.
		return s.fail(errWritesCut)
	}
	return s.drain()
}

// drain sends what bw holds and gives bw back. Called with sem held.
func (s *socket) drain() error {
	if err := s.bw.Flush(); err != nil {
		return s.fail(err)
	}
	s.release()
	return nil
}

// fail records the first failed write; called with sem held.
func (s *socket) fail(err error) error {
	s.err = err
	if s.bw != nil {
		s.release()
	}
	return err
}

// release gives bw back, dropping whatever it held.
func (s *socket) release() {
	s.bw.Reset(nil)
	writers.Put(s.bw)
	s.bw = nil
}

// finish stops the write interrupt and gives bw back. It runs once nobody
// writes any more, before the connection goes back to fasthttp.
func (s *socket) finish() {
	s.sem <- struct{}{}
	defer s.unlock()
	if s.unwatch != nil {
		s.unwatch()
		s.unwatch = nil
	}
	if s.bw != nil {
		s.release()
	}
}

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
