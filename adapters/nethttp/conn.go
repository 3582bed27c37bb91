package hothttp

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/hotstate/hotstate/adapters/internal/evconn"
	hotstate "github.com/hotstate/hotstate/core"
)

// closeWait bounds how long Close waits for the close handshake before it
// lets the server move on; the handshake itself finishes in the background
// and the goroutine serving the connection waits for it before ending.
const closeWait = evconn.CloseWait

// conn adapts a coder/websocket connection to hotstate.Conn.
type conn struct {
	ws   *websocket.Conn
	info hotstate.ConnInfo
	// sock is the socket under ws; data frames are written to it directly.
	sock *evconn.Socket
	// closing is set once Close was called: no data frame may follow the
	// close frame.
	closing atomic.Bool

	once   sync.Once
	closed chan struct{} // closed when the close handshake has finished
	// readWatched and writeWatched are the contexts already watched. The
	// server reads from one goroutine and writes from one at a time, so
	// each is touched by one goroutine at a time.
	readWatched, writeWatched context.Context
}

func newConn(ws *websocket.Conn, sock *evconn.Socket, info hotstate.ConnInfo) *conn {
	return &conn{ws: ws, sock: sock, info: info, closed: make(chan struct{})}
}

// watch closes the socket when ctx ends. coder/websocket would arm a
// watcher on every read and write whose context can be cancelled, which
// costs allocations per frame; the server reads and writes under one
// context each for the connection's life, so each is watched once here.
// Closing the socket unblocks a read or a write stuck on the peer. It is
// closed directly: CloseNow defers to a close handshake in progress, which
// itself waits for the reader.
func (c *conn) watch(ctx context.Context, watched *context.Context) {
	if ctx.Done() != nil && ctx != *watched {
		*watched = ctx
		context.AfterFunc(ctx, func() { _ = c.sock.Close() })
	}
}

func (c *conn) Read(ctx context.Context) ([]byte, error) {
	c.watch(ctx, &c.readWatched)
	typ, b, err := c.ws.Read(context.Background())
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageBinary {
		return nil, fmt.Errorf("%w (%d bytes)", hotstate.ErrTextFrame, len(b))
	}
	return b, nil
}

func (c *conn) Write(ctx context.Context, frame []byte) error {
	c.watch(ctx, &c.writeWatched)
	if c.closing.Load() {
		return net.ErrClosed
	}
	return c.sock.WriteFrame(frame)
}

// Cork holds writes back until Flush, which sends them in one system call.
func (c *conn) Cork() { c.sock.Cork() }

// Flush sends what Cork held back.
func (c *conn) Flush() error { return c.sock.Flush() }

func (c *conn) Ping(ctx context.Context) error { return c.ws.Ping(ctx) }

func (c *conn) Info() hotstate.ConnInfo { return c.info }

func (c *conn) Close(code int, reason string) error {
	c.closing.Store(true)
	c.once.Do(func() {
		go func() {
			defer close(c.closed)
			_ = c.ws.Close(websocket.StatusCode(code), reason)
		}()
	})
	select {
	case <-c.closed:
	case <-time.After(closeWait):
	}
	return nil
}

// wait returns once the connection is fully closed, closing it first if the
// server has not.
func (c *conn) wait() {
	c.once.Do(func() {
		close(c.closed)
		_ = c.ws.CloseNow()
	})
	<-c.closed
}
