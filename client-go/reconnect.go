package hotclient

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/hotstate/hotstate/core/wire"
)

// run is the supervisor goroutine: it connects, serves the connection
// until it ends, and with reconnection on waits out the backoff and
// connects again, until ctx (the client's life) ends.
func (c *Client) run(ctx context.Context, url string) {
	defer c.wg.Done()
	attempt := 0
	for {
		connected, err := c.session(ctx, url)
		if ctx.Err() != nil {
			return
		}
		if !connected {
			c.failure(err, "")
		}
		if !c.opts.reconnect {
			c.giveUp(err)
			return
		}
		if connected {
			attempt = 0
		}
		attempt++
		delay := backoff(attempt, c.opts.reconnectDelay, c.opts.reconnectMax, rand.Int64N)
		c.mu.Lock()
		c.emitLocked(Lifecycle{Kind: Reconnecting, Attempt: attempt, Delay: delay, Err: err})
		c.mu.Unlock()
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// backoff returns the wait before reconnection attempt n (from 1): a
// uniformly random duration below base·2^(n-1), capped by max. rnd is
// rand.Int64N, replaceable in tests.
func backoff(n int, base, max time.Duration, rnd func(int64) int64) time.Duration {
	ceil := max
	if n-1 < 62 {
		if d := base << (n - 1); d > 0 && d < max && d>>(n-1) == base {
			ceil = d
		}
	}
	if ceil <= 0 {
		return 0
	}
	return time.Duration(rnd(int64(ceil)))
}

// session makes one connection and serves it until it ends. connected
// reports whether it opened; err says why it ended or failed.
func (c *Client) session(ctx context.Context, url string) (connected bool, err error) {
	ws, hello, err := c.dial(ctx, url)
	if err != nil {
		return false, err
	}
	cn := newConn(ws)
	if !c.attach(cn, hello) {
		_ = ws.CloseNow()
		return false, ErrClosed
	}
	// The read context is the client's hard stop for this connection; it
	// is not derived from ctx so that Close can say goodbye first.
	readCtx, cutRead := context.WithCancel(context.Background())
	defer cutRead()
	readerGone := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		cn.writeLoop(ctx, readerGone, cutRead)
	}()
	err = c.readLoop(readCtx, cn)
	close(readerGone)
	c.detach(err)
	<-writerDone
	return true, err
}

// attach makes cn the client's connection: it subscribes every live store
// again, offering the held version so the server may send only what was
// missed, and wakes whoever waits for a connection. It reports false when
// the client was closed meanwhile.
func (c *Client) attach(cn *conn, hello wire.Frame) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.conn = cn
	c.id = hello.Client
	c.lastErr = nil
	for _, st := range c.stores {
		// Refusals and their backoff belonged to the last connection.
		st.stopRetryLocked()
		st.served, st.refused, st.retries = false, nil, 0
		cn.send(st.subFrameLocked())
	}
	c.broadcastLocked()
	c.emitLocked(Lifecycle{Kind: Connected, ClientID: hello.Client})
	return true
}

// detach forgets the connection that ended with err: calls in flight fail
// with ErrDisconnected, and their optimistic overlays go with them. Pending
// retries of refused subscriptions are dropped: attach subscribes again.
func (c *Client) detach(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn = nil
	c.lastErr = err
	for _, st := range c.stores {
		st.stopRetryLocked()
	}
	for id, cl := range c.calls {
		delete(c.calls, id)
		c.dropOverlayLocked(cl)
		cl.done <- callResult{err: ErrDisconnected}
	}
	c.broadcastLocked()
	if !c.closed {
		c.emitLocked(Lifecycle{Kind: Disconnected, Err: err})
	}
}

// giveUp records that the supervisor stopped for good after err.
func (c *Client) giveUp(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	c.lastErr = err
	c.broadcastLocked()
}
