package hothttp

import (
	"bufio"
	"net"
	"net/http"

	"github.com/hotstate/hotstate/adapters/internal/evconn"
)

// Buffer sizes of the hijacked connection, which it keeps for life.
// net/http's are 4 KiB each; an idle connection needs neither.
const (
	// readBufferBytes holds a frame header and a small message (a call, a
	// subscription); a larger payload is read straight into the message,
	// which bufio does when its own buffer is empty.
	readBufferBytes = 256
	// controlFrameBytes is the largest frame coder/websocket writes: the
	// server's data frames go through Socket.WriteFrame, so it writes
	// only control frames (a 2-byte header, at most 125 bytes of payload,
	// unmasked), each then in one write.
	controlFrameBytes = 2 + 125
)

// hijacker hands coder/websocket a socket when it hijacks the request,
// with small buffers of its own instead of net/http's.
type hijacker struct {
	http.ResponseWriter
	sock *evconn.Socket
}

// WriteHeader passes the status on (see writeHeader).
func (w *hijacker) WriteHeader(code int) { writeHeader(w.ResponseWriter, code) }

// writeHeader writes the status. Gin's writer holds the header back until
// WriteHeaderNow, which coder/websocket calls only on the writer it is
// given, so it is called here on Gin's behalf.
func writeHeader(w http.ResponseWriter, code int) {
	w.WriteHeader(code)
	if now, ok := w.(interface{ WriteHeaderNow() }); ok {
		now.WriteHeaderNow()
	}
}

// Hijack takes the connection from net/http and drops its buffers: what
// its reader holds past the request moves to the socket, which returns it
// first, and the bufio pair coder/websocket keeps is sized for what an
// open connection reads and writes through it.
func (w *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, unread, err := hijack(w.ResponseWriter)
	if err != nil {
		return nil, nil, err
	}
	w.sock = evconn.NewSocket(nc, unread)
	return w.sock, bufio.NewReadWriter(
		bufio.NewReaderSize(w.sock, readBufferBytes),
		bufio.NewWriterSize(w.sock, controlFrameBytes),
	), nil
}

func (w *hijacker) Unwrap() http.ResponseWriter { return w.ResponseWriter }
