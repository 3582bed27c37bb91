// Package evconn serves upgraded WebSocket connections by events: on
// Linux, epoll reports when a TCP socket has bytes, a goroutine runs only
// while it does, hotstate's own frame reader (wsframe) parses them, and
// the messages go to the server through hotstate.Server.Open and Session;
// an idle connection keeps no goroutine. A *tls.Conn is served the same
// way: the poller watches the socket under it, and its records are read
// and written through it. A connection the poller cannot watch (one
// wrapped by a listener) is read the same way from a goroutine of its
// own.
//
// It is the event path of every transport: hothttp hands it the
// connections net/http hijacked, the Fiber adapters those fasthttp did.
// Each transport does its handshake, writes the 101 response, and calls
// New and Serve. It is internal: its API is whatever they need.
package evconn

import (
	"errors"
	"sync"
	"time"
)

// Supported reports whether this platform has the event path; elsewhere a
// transport keeps a goroutine per connection.
const Supported = eventsSupported

// CloseWait bounds how long a close frame waits for the peer's reply: the
// connection ends then, whether or not it came.
const CloseWait = time.Second

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
	// loopReadBytes is the buffer of a connection read from a goroutine
	// of its own.
	loopReadBytes = 256
)

// readBufs recycles the read buffers of the event path, so an idle
// connection holds none.
var readBufs = sync.Pool{New: func() any { b := make([]byte, eventReadBytes); return &b }}

// lingerBufs recycles the small buffers of lingering connections.
var lingerBufs = sync.Pool{New: func() any { b := make([]byte, lingerBytes); return &b }}

// errEventConn is what Read returns on the event path, where the
// connection's bytes arrive as events instead.
var errEventConn = errors.New("evconn: connection read by events")

// errNoCloseReply ends a connection whose peer did not answer the close
// frame within CloseWait.
var errNoCloseReply = errors.New("evconn: no close frame in reply")
