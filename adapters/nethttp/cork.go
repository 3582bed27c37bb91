package hothttp

import (
	"bufio"
	"net"
	"net/http"
	"sync"
)

// corkLimit bounds what a corked connection holds back: a batch larger than
// this goes out in several system calls.
const corkLimit = 64 << 10

// corkBufs recycles the buffers of corked batches, so an idle connection
// holds none.
var corkBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// corkConn is the hijacked connection. While corked it gathers what
// coder/websocket writes (one system call per message otherwise) and sends
// it in one write when uncorked. Writes from any goroutine (pongs, pings,
// the close frame) keep their order, since all of them pass through here.
type corkConn struct {
	net.Conn
	mu  sync.Mutex // held across writes to the socket, which keeps order
	buf *[]byte    // non-nil while corked
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return c.Conn.Write(p)
	}
	if len(*c.buf)+len(p) > corkLimit {
		if err := c.drain(); err != nil {
			return 0, err
		}
		return c.Conn.Write(p)
	}
	*c.buf = append(*c.buf, p...)
	return len(p), nil
}

// cork holds back writes until flush.
func (c *corkConn) cork() {
	c.mu.Lock()
	if c.buf == nil {
		c.buf = corkBufs.Get().(*[]byte)
	}
	c.mu.Unlock()
}

// flush sends what cork held back and uncorks, even when the write fails.
func (c *corkConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return nil
	}
	err := c.drain()
	if cap(*c.buf) <= corkLimit {
		corkBufs.Put(c.buf)
	}
	c.buf = nil
	return err
}

// drain writes the held-back bytes; called with mu held.
func (c *corkConn) drain() error {
	b := *c.buf
	*c.buf = b[:0]
	if len(b) == 0 {
		return nil
	}
	_, err := c.Conn.Write(b)
	return err
}

// corkWriter hands coder/websocket a corkConn when it hijacks the request.
type corkWriter struct {
	http.ResponseWriter
	conn *corkConn
}

// WriteHeader passes the status on. Gin's writer holds the header back
// until WriteHeaderNow, which coder/websocket calls only on the writer it is
// given, so it is called here on Gin's behalf.
func (w *corkWriter) WriteHeader(code int) {
	w.ResponseWriter.WriteHeader(code)
	if now, ok := w.ResponseWriter.(interface{ WriteHeaderNow() }); ok {
		now.WriteHeaderNow()
	}
}

func (w *corkWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		return nil, nil, err
	}
	w.conn = &corkConn{Conn: nc}
	brw.Writer.Reset(w.conn)
	return w.conn, brw, nil
}

func (w *corkWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
