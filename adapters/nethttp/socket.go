package hothttp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"net"
	"net/http"
	"sync"
)

// corkLimit bounds what a corked socket holds back: a batch larger than
// this goes out in several system calls.
const corkLimit = 64 << 10

// corkBufs recycles the buffers of held-back bytes, so an idle connection
// holds none.
var corkBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// socket is the hijacked connection under coder/websocket. The server's
// data frames bypass coder/websocket: writeFrame frames them itself (an
// unmasked binary frame is two to ten header bytes, RFC 6455 section 5.2)
// and sends header and payload in one write. While corked it gathers
// writes and sends them in one system call when flushed. Whatever
// coder/websocket writes (pongs, pings, the close frame) passes through
// Write under the same lock, so frames never interleave and keep their
// order.
//
// It also returns first what net/http had read past the request before
// the hijack (a client may send its first frames without waiting for the
// 101 response).
type socket struct {
	net.Conn
	mu  sync.Mutex // held across writes to the connection
	buf *[]byte    // non-nil while corked
	// unread is what net/http had buffered past the request. Only the
	// reader touches it: coder/websocket reads under its read lock.
	unread []byte
	// direct, when set (the event path on Linux), writes to the
	// descriptor itself, under mu.
	direct *rawWriter
}

// send writes b to the connection; called with mu held.
func (c *socket) send(b []byte) (int, error) {
	if c.direct != nil {
		return c.direct.write(b)
	}
	return c.Conn.Write(b)
}

func (c *socket) Read(p []byte) (int, error) {
	if len(c.unread) == 0 {
		return c.Conn.Read(p)
	}
	n := copy(p, c.unread)
	c.unread = c.unread[n:]
	if len(c.unread) == 0 {
		c.unread = nil
	}
	return n, nil
}

func (c *socket) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return c.send(p)
	}
	if err := c.hold(nil, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// writeFrame sends payload as one binary frame.
func (c *socket) writeFrame(payload []byte) error {
	var h [10]byte
	head := appendFrameHeader(h[:0], len(payload))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf != nil {
		return c.hold(head, payload)
	}
	if c.direct != nil && len(head)+len(payload) <= corkLimit {
		// Straight to the descriptor, a few calls deep: the writer's
		// goroutine then fits its starting stack.
		bp := corkBufs.Get().(*[]byte)
		b := append(append((*bp)[:0], head...), payload...)
		_, err := c.direct.write(b)
		*bp = b[:0]
		corkBufs.Put(bp)
		return err
	}
	c.buf = corkBufs.Get().(*[]byte)
	err := c.hold(head, payload)
	if ferr := c.uncork(); err == nil {
		err = ferr
	}
	return err
}

// appendFrameHeader appends the header of a final, unmasked binary frame
// of n bytes.
func appendFrameHeader(b []byte, n int) []byte {
	const finBinary = 0x82
	switch {
	case n <= 125:
		return append(b, finBinary, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, finBinary, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, finBinary, 127), uint64(n))
	}
}

// hold appends a and b to the held-back bytes. When that would pass
// corkLimit it sends them with what it holds, b in a write of its own if
// b alone passes the limit. Called with mu held, while corked. (a, a frame
// header, never reaches a Write call itself, which keeps it on the
// caller's stack.)
func (c *socket) hold(a, b []byte) error {
	if len(*c.buf)+len(a)+len(b) <= corkLimit {
		*c.buf = append(append(*c.buf, a...), b...)
		return nil
	}
	*c.buf = append(*c.buf, a...)
	if len(b) <= corkLimit {
		if err := c.drain(); err != nil {
			return err
		}
		*c.buf = append(*c.buf, b...)
		return nil
	}
	if err := c.drain(); err != nil {
		return err
	}
	_, err := c.send(b)
	return err
}

// cork holds back writes until flush.
func (c *socket) cork() {
	c.mu.Lock()
	if c.buf == nil {
		c.buf = corkBufs.Get().(*[]byte)
	}
	c.mu.Unlock()
}

// flush sends what cork held back and uncorks, even when the write fails.
func (c *socket) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return nil
	}
	return c.uncork()
}

// uncork sends the held-back bytes and returns the buffer to the pool.
// Called with mu held, while corked.
func (c *socket) uncork() error {
	err := c.drain()
	if cap(*c.buf) <= corkLimit {
		corkBufs.Put(c.buf)
	}
	c.buf = nil
	return err
}

// drain writes the held-back bytes; called with mu held, while corked.
func (c *socket) drain() error {
	b := *c.buf
	*c.buf = b[:0]
	if len(b) == 0 {
		return nil
	}
	_, err := c.send(b)
	return err
}

// Buffer sizes of the hijacked connection, which it keeps for life.
// net/http's are 4 KiB each; an idle connection needs neither.
const (
	// readBufferBytes holds a frame header and a small message (a call, a
	// subscription); a larger payload is read straight into the message,
	// which bufio does when its own buffer is empty.
	readBufferBytes = 256
	// controlFrameBytes is the largest frame coder/websocket writes: the
	// server's data frames go through socket.writeFrame, so it writes
	// only control frames (a 2-byte header, at most 125 bytes of payload,
	// unmasked), each then in one write.
	controlFrameBytes = 2 + 125
)

// hijacker hands coder/websocket a socket when it hijacks the request,
// with small buffers of its own instead of net/http's.
type hijacker struct {
	http.ResponseWriter
	sock *socket
}

// WriteHeader passes the status on. Gin's writer holds the header back
// until WriteHeaderNow, which coder/websocket calls only on the writer it is
// given, so it is called here on Gin's behalf.
func (w *hijacker) WriteHeader(code int) {
	w.ResponseWriter.WriteHeader(code)
	if now, ok := w.ResponseWriter.(interface{ WriteHeaderNow() }); ok {
		now.WriteHeaderNow()
	}
}

// Hijack takes the connection from net/http and drops its buffers: what
// its reader holds past the request moves to the socket, which returns it
// first, and the bufio pair coder/websocket keeps is sized for what an
// open connection reads and writes through it.
func (w *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		return nil, nil, err
	}
	w.sock = &socket{Conn: nc}
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		w.sock.unread = bytes.Clone(b)
	}
	return w.sock, bufio.NewReadWriter(
		bufio.NewReaderSize(w.sock, readBufferBytes),
		bufio.NewWriterSize(w.sock, controlFrameBytes),
	), nil
}

func (w *hijacker) Unwrap() http.ResponseWriter { return w.ResponseWriter }
