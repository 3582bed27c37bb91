package evconn

import (
	"encoding/binary"
	"net"
	"sync"
)

// corkLimit bounds what a corked socket holds back: a batch larger than
// this goes out in several system calls.
const corkLimit = 64 << 10

// corkBufs recycles the buffers of held-back bytes, so an idle connection
// holds none.
var corkBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// Socket is an upgraded connection's write side, with the bytes read past
// the handshake returned first by Read. The server's data frames go
// through WriteFrame, which frames them itself (an unmasked binary frame
// is two to ten header bytes, RFC 6455 section 5.2) and sends header and
// payload in one write. While corked it gathers writes and sends them in
// one system call when flushed. Whatever else is written (pongs, pings,
// the close frame, by a Conn or by a WebSocket library over the Socket)
// passes through Write under the same lock, so frames never interleave
// and keep their order.
//
// It is both transports' socket: the event path's, and the one hothttp's
// goroutine path hands coder/websocket.
type Socket struct {
	net.Conn
	mu  sync.Mutex // held across writes to the connection
	buf *[]byte    // non-nil while corked
	// unread is what the HTTP server had buffered past the request (a
	// client may send its first frames without waiting for the 101
	// response). Only the reader touches it.
	unread []byte
	// direct, when set (the event path on Linux), writes to the
	// descriptor itself, under mu.
	direct *rawWriter
}

// NewSocket returns the Socket of nc, whose Read returns unread first.
func NewSocket(nc net.Conn, unread []byte) *Socket {
	return &Socket{Conn: nc, unread: unread}
}

// send writes b to the connection; called with mu held.
func (c *Socket) send(b []byte) (int, error) {
	if c.direct != nil {
		return c.direct.write(b)
	}
	return c.Conn.Write(b)
}

func (c *Socket) Read(p []byte) (int, error) {
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

func (c *Socket) Write(p []byte) (int, error) {
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

// WriteFrame sends payload as one binary frame.
func (c *Socket) WriteFrame(payload []byte) error {
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
func (c *Socket) hold(a, b []byte) error {
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

// Cork holds back writes until Flush.
func (c *Socket) Cork() {
	c.mu.Lock()
	if c.buf == nil {
		c.buf = corkBufs.Get().(*[]byte)
	}
	c.mu.Unlock()
}

// Flush sends what Cork held back and uncorks, even when the write fails.
func (c *Socket) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return nil
	}
	return c.uncork()
}

// uncork sends the held-back bytes and returns the buffer to the pool.
// Called with mu held, while corked.
func (c *Socket) uncork() error {
	err := c.drain()
	if cap(*c.buf) <= corkLimit {
		corkBufs.Put(c.buf)
	}
	c.buf = nil
	return err
}

// drain writes the held-back bytes; called with mu held, while corked.
func (c *Socket) drain() error {
	b := *c.buf
	*c.buf = b[:0]
	if len(b) == 0 {
		return nil
	}
	_, err := c.send(b)
	return err
}
