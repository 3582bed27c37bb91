package hothttp

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/coder/websocket"
	hotstate "github.com/hotstate/hotstate/core"
)

// closeWait bounds how long Close waits for the close handshake before it
// lets the server move on; the handshake itself finishes in the background
// and the handler waits for it before returning.
const closeWait = time.Second

// conn adapts a coder/websocket connection to hotstate.Conn.
type conn struct {
	ws   *websocket.Conn
	info hotstate.ConnInfo

	once   sync.Once
	closed chan struct{} // closed when the close handshake has finished
	// watched is the write context already watched; only the server's
	// writer goroutine touches it.
	watched context.Context
}

func newConn(ws *websocket.Conn, info hotstate.ConnInfo) *conn {
	return &conn{ws: ws, info: info, closed: make(chan struct{})}
}

func (c *conn) Read(ctx context.Context) ([]byte, error) {
	typ, b, err := c.ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageBinary {
		return nil, fmt.Errorf("%w (%d bytes)", hotstate.ErrTextFrame, len(b))
	}
	return b, nil
}

// Write sends a frame. coder/websocket arms a context watcher on every
// write whose context can be cancelled, which costs allocations per frame;
// the server writes under one context for the connection's life, so the
// watcher is armed once here instead, and cancelling closes the socket,
// which unblocks a write stuck on a peer that stopped reading.
func (c *conn) Write(ctx context.Context, frame []byte) error {
	if ctx.Done() != nil && ctx != c.watched {
		c.watched = ctx
		context.AfterFunc(ctx, func() { _ = c.ws.CloseNow() })
	}
	return c.ws.Write(context.Background(), websocket.MessageBinary, frame)
}

func (c *conn) Ping(ctx context.Context) error { return c.ws.Ping(ctx) }

func (c *conn) Info() hotstate.ConnInfo { return c.info }

func (c *conn) Close(code int, reason string) error {
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
