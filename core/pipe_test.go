package hotstate_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// pipe is an in-memory hotstate.Conn for engine tests; its other end is
// the test's, which sends client frames and reads what the server wrote.
type pipe struct {
	in     chan []byte
	out    chan []byte
	closed chan struct{}
	once   sync.Mutex
	code   int
	// identity is what an identity hook would have produced.
	identity any
}

func (p *pipe) Read(ctx context.Context) ([]byte, error) {
	select {
	case b := <-p.in:
		return b, nil
	case <-p.closed:
		return nil, errors.New("pipe closed")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *pipe) Write(ctx context.Context, frame []byte) error {
	select {
	case p.out <- frame:
		return nil
	case <-p.closed:
		return errors.New("pipe closed")
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pipe) Ping(ctx context.Context) error { return nil }

func (p *pipe) Close(code int, reason string) error {
	p.once.Lock()
	defer p.once.Unlock()
	if p.code == 0 {
		p.code = code
		close(p.closed)
	}
	return nil
}

func (p *pipe) Info() hotstate.ConnInfo {
	return hotstate.ConnInfo{RemoteAddr: "pipe", Identity: p.identity}
}

// client is the test's end of a pipe served by srv.
type client struct {
	t    testing.TB
	p    *pipe
	done chan struct{}
	id   string // from hello
}

// connect serves a new pipe on srv and reads its hello; the connection is
// closed and its ServeConn awaited when the test ends.
func connect(t testing.TB, srv *hotstate.Server) *client {
	t.Helper()
	return connectAs(t, srv, nil)
}

// connectAs is connect for a client the transport authenticated as identity.
func connectAs(t testing.TB, srv *hotstate.Server, identity any) *client {
	t.Helper()
	p := &pipe{in: make(chan []byte, 64), out: make(chan []byte, 1024), closed: make(chan struct{}), identity: identity}
	c := &client{t: t, p: p, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		_ = srv.ServeConn(context.Background(), p)
	}()
	t.Cleanup(c.close)
	c.id = c.expect(wire.TypeHello).Client
	return c
}

func (c *client) close() {
	_ = c.p.Close(1000, "")
	<-c.done
}

func (c *client) send(frame []byte) {
	select {
	case c.p.in <- frame:
	case <-c.p.closed:
	}
}

// next returns the next frame the server wrote, failing after 5 s.
func (c *client) next() wire.Frame {
	c.t.Helper()
	select {
	case b := <-c.p.out:
		f, err := wire.Decode(b)
		if err != nil {
			c.t.Fatalf("server wrote an undecodable frame: %v", err)
		}
		return f
	case <-time.After(5 * time.Second):
		c.t.Fatal("no frame from the server within 5 s")
		return wire.Frame{}
	}
}

func (c *client) expect(typ wire.Type) wire.Frame {
	c.t.Helper()
	f := c.next()
	if f.Type != typ {
		c.t.Fatalf("got frame %+v, want type %d", f, typ)
	}
	return f
}

// quiet fails if the server writes anything within d.
func (c *client) quiet(d time.Duration) {
	c.t.Helper()
	select {
	case b := <-c.p.out:
		f, _ := wire.Decode(b)
		c.t.Fatalf("unexpected frame %+v", f)
	case <-time.After(d):
	}
}

// within polls cond until it holds, failing after 5 s.
func within(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
