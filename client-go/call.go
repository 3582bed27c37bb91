package hotclient

import (
	"context"
	"fmt"
	"time"

	"github.com/hotstate/hotstate/core/wire"
)

// call is one function call from Call until it is answered or abandoned.
type call struct {
	id uint64
	// store and optimistic describe the overlay; optimistic is nil
	// without one.
	store      string
	optimistic func(state any) (any, error)
	done       chan callResult // capacity 1: receives exactly one result
}

type callResult struct {
	raw []byte // the encoded result
	err error
}

// CallOption configures one Call.
type CallOption interface {
	applyCall(*callConfig)
}

type callOptionFunc func(*callConfig)

func (f callOptionFunc) applyCall(c *callConfig) { f(c) }

type callConfig struct {
	timeout    time.Duration
	store      string
	optimistic func(state any) (any, error)
}

// WithCallTimeout sets this call's timeout instead of the client's RPC timeout.
func WithCallTimeout(d time.Duration) CallOption {
	return callOptionFunc(func(c *callConfig) { c.timeout = d })
}

// Call calls the server function name with args and decodes its result
// into result (a non-nil pointer, or nil to ignore it) with the rules of
// encoding/json. args is encoded the way encoding/json would encode it; nil
// sends none.
//
// Call needs only an open connection, not store data; when there is none it
// waits for one, within the timeout. It returns a *RemoteError when the
// function failed or does not exist, ErrRPCTimeout after the RPC timeout (a
// late answer is ignored), ErrDisconnected when the connection dropped with
// the call in flight, ErrClosed after Close, or ctx's error.
func (c *Client) Call(ctx context.Context, name string, args, result any, opts ...CallOption) error {
	cfg := callConfig{timeout: c.opts.rpcTimeout}
	for _, o := range opts {
		o.applyCall(&cfg)
	}
	timer := time.NewTimer(cfg.timeout)
	defer timer.Stop()

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.nextCall++
	cl := &call{id: c.nextCall, store: cfg.store, optimistic: cfg.optimistic, done: make(chan callResult, 1)}
	c.mu.Unlock()

	frame, err := wire.EncodeRPC(cl.id, name, args)
	if err != nil {
		return fmt.Errorf("hotstate: call %s: encoding arguments: %w", name, err)
	}

	c.mu.Lock()
	c.addOverlayLocked(cl)
	for c.conn == nil {
		var err error
		switch {
		case c.closed:
			err = ErrClosed
		case c.stopped:
			err = ErrDisconnected
		}
		if err != nil {
			c.dropOverlayLocked(cl)
			c.mu.Unlock()
			return err
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			err = ctx.Err()
		case <-timer.C:
			err = ErrRPCTimeout
		}
		c.mu.Lock()
		if err != nil {
			c.dropOverlayLocked(cl)
			c.mu.Unlock()
			return err
		}
	}
	c.calls[cl.id] = cl
	c.conn.send(frame)
	c.mu.Unlock()

	var r callResult
	select {
	case r = <-cl.done:
	case <-ctx.Done():
		r = c.abandon(cl, ctx.Err())
	case <-timer.C:
		r = c.abandon(cl, ErrRPCTimeout)
	}
	if r.err != nil {
		return r.err
	}
	if result != nil {
		if err := wire.DecodeValue(r.raw, result); err != nil {
			return fmt.Errorf("hotstate: call %s: decoding the result: %w", name, err)
		}
	}
	return nil
}

// abandon gives up on cl with err, unless its answer won the race.
func (c *Client) abandon(cl *call, err error) callResult {
	c.mu.Lock()
	if c.calls[cl.id] == cl {
		delete(c.calls, cl.id)
		c.dropOverlayLocked(cl)
		c.mu.Unlock()
		return callResult{err: err}
	}
	c.mu.Unlock()
	return <-cl.done
}

func (c *Client) onResultLocked(f wire.Frame) {
	cl := c.calls[f.ID]
	if cl == nil {
		return // timed out or abandoned: the answer is late
	}
	delete(c.calls, f.ID)
	c.dropOverlayLocked(cl)
	if f.Err != nil {
		cl.done <- callResult{err: &RemoteError{Code: f.Err.Code, Message: f.Err.Message}}
		return
	}
	cl.done <- callResult{raw: f.Value}
}
