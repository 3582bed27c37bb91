package hotstate_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// openPipe serves a new pipe on srv by events and reads its hello.
func openPipe(t *testing.T, srv *hotstate.Server) (*client, *hotstate.Session) {
	t.Helper()
	p := &pipe{in: make(chan []byte), out: make(chan []byte, 1024), closed: make(chan struct{})}
	c := &client{t: t, p: p, done: make(chan struct{})}
	x, err := srv.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	c.id = c.expect(wire.TypeHello).Client
	return c, x
}

// TestOpenMessageClosed: a connection served by events gets what one served
// by ServeConn gets, and Closed releases it: its subscription ends, the
// listeners hear of it, and the server forgets the client.
func TestOpenMessageClosed(t *testing.T) {
	srv := hotstate.New()
	hotstate.NewStore(srv, "Counter", 0)
	disconnected := make(chan string, 1)
	srv.OnDisconnect(func(c hotstate.Caller) { disconnected <- c.ID })
	c, x := openPipe(t, srv)
	if !x.Message(wire.EncodeSub("Counter")) {
		t.Fatal("Message refused a subscription")
	}
	c.expect(wire.TypeSnap)
	if !x.Message([]byte{0xc1}) {
		t.Fatal("Message refused bad input instead of answering it")
	}
	c.expect(wire.TypeErr)

	if err := x.Closed(nil); err != nil {
		t.Fatalf("Closed(nil) = %v", err)
	}
	if id := <-disconnected; id != c.id {
		t.Fatalf("disconnected %q, want %q", id, c.id)
	}
	if err := srv.EmitTo(c.id, "ping", nil); !errors.Is(err, hotstate.ErrUnknownClient) {
		t.Fatalf("EmitTo after Closed: %v, want ErrUnknownClient", err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestClosedErrors: Closed closes the connection with 1003 for a text
// message and returns the error a failed connection ended with.
func TestClosedErrors(t *testing.T) {
	srv := hotstate.New()
	c, x := openPipe(t, srv)
	if err := x.Closed(fmt.Errorf("%w (2 bytes)", hotstate.ErrTextFrame)); err != nil {
		t.Fatalf("Closed(text) = %v, want nil", err)
	}
	if c.p.code != wire.CloseUnsupportedData {
		t.Fatalf("close code %d, want 1003", c.p.code)
	}
	_, x = openPipe(t, srv)
	if err := x.Closed(io.ErrUnexpectedEOF); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Closed(failure) = %v", err)
	}
}

// TestOpenAfterShutdown: Open refuses a connection once Shutdown began.
func TestOpenAfterShutdown(t *testing.T) {
	srv := hotstate.New()
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := &pipe{in: make(chan []byte), out: make(chan []byte, 1), closed: make(chan struct{})}
	if _, err := srv.Open(p); !errors.Is(err, hotstate.ErrServerClosed) {
		t.Fatalf("Open after Shutdown: %v", err)
	}
	if p.code != wire.CloseGoingAway {
		t.Fatalf("close code %d, want 1001", p.code)
	}
}
