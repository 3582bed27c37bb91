package hotclient

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/hotstate/hotstate/core/wire"
)

const (
	// writeTimeout bounds one write; a server that takes longer to accept
	// a frame has stopped reading, and the connection is dropped.
	writeTimeout = 10 * time.Second
	// closeWait bounds the close handshake of Close before the connection
	// is cut, so a server that stopped answering cannot hold Close up.
	closeWait = time.Second
)

var errTextFrame = errors.New("hotstate: server sent a text message")

// conn is one open WebSocket connection: the supervisor goroutine reads
// from it and one writer goroutine drains its queue.
type conn struct {
	ws   *websocket.Conn
	wake chan struct{} // capacity 1: "the queue has frames"

	mu    sync.Mutex // guards queue
	queue [][]byte
}

func newConn(ws *websocket.Conn) *conn {
	return &conn{ws: ws, wake: make(chan struct{}, 1)}
}

// send queues frame for the writer; it never blocks. Frames still queued
// when the connection ends are dropped: what they asked for is redone on
// the next connection (subscriptions) or failed (calls).
func (cn *conn) send(frame []byte) {
	cn.mu.Lock()
	cn.queue = append(cn.queue, frame)
	cn.mu.Unlock()
	select {
	case cn.wake <- struct{}{}:
	default:
	}
}

func (cn *conn) take() [][]byte {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	q := cn.queue
	cn.queue = nil
	return q
}

// writeLoop writes queued frames until the reader is gone (then it cuts
// the connection) or the client is closed (then it closes it with 1000,
// cutting it if the handshake takes longer than closeWait).
func (cn *conn) writeLoop(client context.Context, readerGone <-chan struct{}, cutRead context.CancelFunc) {
	for {
		select {
		case <-cn.wake:
			for _, f := range cn.take() {
				// Close cancels a write stuck on a server that stopped
				// reading, which cuts the connection.
				ctx, cancel := context.WithTimeout(client, writeTimeout)
				err := cn.ws.Write(ctx, websocket.MessageBinary, f)
				cancel()
				if err != nil {
					// A failed write has closed the connection; cutting
					// the read makes sure the reader returns too.
					cutRead()
					return
				}
			}
		case <-readerGone:
			_ = cn.ws.CloseNow()
			return
		case <-client.Done():
			t := time.AfterFunc(closeWait, cutRead)
			_ = cn.ws.Close(websocket.StatusNormalClosure, "")
			t.Stop()
			return
		}
	}
}

// dial opens a connection and reads the server's hello.
func (c *Client) dial(ctx context.Context, url string) (*websocket.Conn, wire.Frame, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.dialTimeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, c.opts.dial())
	if err != nil {
		return nil, wire.Frame{}, err
	}
	ws.SetReadLimit(c.opts.readLimit)
	typ, b, err := ws.Read(ctx)
	if err != nil {
		_ = ws.CloseNow()
		return nil, wire.Frame{}, fmt.Errorf("hotstate: waiting for hello: %w", err)
	}
	if typ != websocket.MessageBinary {
		_ = ws.Close(websocket.StatusUnsupportedData, "binary frames only")
		return nil, wire.Frame{}, errTextFrame
	}
	f, err := wire.DecodeDepth(b, wire.MaxStateDepth)
	if err == nil && f.Type != wire.TypeHello {
		err = fmt.Errorf("hotstate: first frame is %v, not hello", f.Type)
	}
	if err == nil && f.Protocol != wire.ProtocolVersion {
		err = fmt.Errorf("hotstate: server speaks protocol %d, this client %d", f.Protocol, wire.ProtocolVersion)
	}
	if err != nil {
		_ = ws.Close(websocket.StatusProtocolError, "unsupported protocol")
		return nil, wire.Frame{}, err
	}
	return ws, f, nil
}

// readLoop handles frames until the connection ends and returns why.
func (c *Client) readLoop(ctx context.Context, cn *conn) error {
	for {
		typ, b, err := cn.ws.Read(ctx)
		if err != nil {
			return err
		}
		if typ != websocket.MessageBinary {
			_ = cn.ws.Close(websocket.StatusUnsupportedData, "binary frames only")
			return errTextFrame
		}
		f, err := wire.DecodeDepth(b, wire.MaxStateDepth)
		if err != nil {
			c.failure(fmt.Errorf("hotstate: undecodable frame from server: %w", err), "")
			continue
		}
		c.handle(f)
	}
}

// handle acts on one frame from the server. Values are decoded before the
// lock is taken; results are decoded later by the caller of Call.
func (c *Client) handle(f wire.Frame) {
	var value any
	switch f.Type {
	case wire.TypeSnap, wire.TypeEvt:
		v, err := wire.DecodeAny(f.Value)
		if err != nil {
			c.failure(fmt.Errorf("hotstate: undecodable %v value: %w", f.Type, err), f.Store)
			return
		}
		value = v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch f.Type {
	case wire.TypeSnap:
		c.onSnapLocked(f, value)
	case wire.TypePatch:
		c.onPatchLocked(f)
	case wire.TypeDel:
		c.onDelLocked(f.Store)
	case wire.TypeRes:
		c.onResultLocked(f)
	case wire.TypeEvt:
		c.onEventLocked(f.Name, value)
	case wire.TypeErr:
		c.onErrLocked(f)
	}
	// hello again and types of later protocol versions are ignored.
}
