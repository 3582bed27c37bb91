package hotclient_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"
	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotclient "github.com/hotstate/hotstate/client-go"
	hotstate "github.com/hotstate/hotstate/core"
)

// TestHandshakeHeaders checks that WithHeader and WithDialOptions reach the
// server's identity hook, the way a client authenticates.
func TestHandshakeHeaders(t *testing.T) {
	srv := hotstate.New()
	hotstate.Handle(srv, "whoami", func(ctx context.Context, _ any) (any, error) {
		c, _ := hotstate.CallerFrom(ctx)
		return c.Identity, nil
	})
	h := hothttp.Handler(srv, hothttp.WithIdentity(func(r *http.Request) (any, error) {
		user, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || r.Header.Get("X-Trace") != "on" {
			return nil, errors.New("who are you?")
		}
		return user, nil
	}))
	hs := httptest.NewServer(h)
	t.Cleanup(func() {
		_ = srv.Shutdown(context.Background())
		hs.Close()
	})
	url := "ws" + strings.TrimPrefix(hs.URL, "http")

	if _, err := hotclient.Dial(ctxT(t), url, hotclient.WithReconnect(false)); err == nil {
		t.Fatal("connected without credentials")
	}
	c := dial(t, url,
		hotclient.WithDialOptions(&websocket.DialOptions{HTTPHeader: http.Header{"X-Trace": {"on"}}}),
		hotclient.WithHeader(http.Header{"Authorization": {"Bearer ada"}}),
	)
	var who string
	if err := c.Call(ctxT(t), "whoami", nil, &who); err != nil || who != "ada" {
		t.Fatalf("whoami = %q, %v", who, err)
	}
}

func TestCallWaitsForConnection(t *testing.T) {
	a := newApp(t, "127.0.0.1:0")
	c := hotclient.New()
	t.Cleanup(func() { _ = c.Close() })
	type result struct {
		todo Todo
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		r.err = c.Call(ctxT(t), "todos.add", map[string]string{"text": "early"}, &r.todo)
		done <- r
	}()
	if err := c.Connect(a.url()); err != nil {
		t.Fatal(err)
	}
	if r := recv(t, done); r.err != nil || r.todo.Text != "early" {
		t.Fatalf("call: %+v", r)
	}
}
