package hotfiber_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/coder/websocket"
	hotfiber "github.com/hotstate/hotstate/adapters/fiber"
	"github.com/hotstate/hotstate/adapters/internal/evconn/evconntest"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/hotstatetest"
)

// TestEvents runs the event path's tests, shared with hothttp.
func TestEvents(t *testing.T) { evconntest.Run(t, serveOn) }

// BenchmarkCall is the event path's call benchmark, on both paths.
func BenchmarkCall(b *testing.B) { evconntest.BenchmarkCall(b, serveOn) }

// serveOn serves srv with Handler at "/" of an app on ln, for the event
// path's tests.
func serveOn(t testing.TB, srv *hotstate.Server, ln net.Listener, events bool) {
	app := newApp()
	app.Get("/", hotfiber.Handler(srv, hotfiber.WithEventLoop(events)))
	listen(t, srv, app, ln)
}

// TestHijackedDescriptorsClosed: the event path serves a duplicate of the
// descriptor fasthttp hijacked and closes the original itself, so no
// descriptor is left once connections end, whether fasthttp closes
// hijacked connections (the default) or leaves them to the handler
// (KeepHijackedConns).
func TestHijackedDescriptorsClosed(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("KeepHijackedConns=%v", keep), func(t *testing.T) {
			srv := hotstate.New()
			srv.HandleFunc("echo", func(ctx context.Context, args any) (any, error) { return args, nil })
			gone := make(chan struct{}, 64)
			srv.OnDisconnect(func(hotstate.Caller) { gone <- struct{}{} })
			app := newApp()
			app.Server().KeepHijackedConns = keep
			app.Get("/", hotfiber.Handler(srv))
			u := serve(t, srv, app) + "/"
			session := func() {
				p := hotstatetest.Dial(t, u, nil)
				if got := hotstatetest.Decode(t, p.Call(1, "echo", "hi").Value); got != "hi" {
					t.Fatalf("echo %v", got)
				}
				p.Conn().Close(websocket.StatusNormalClosure, "")
				<-gone
			}
			session() // what the app keeps for every connection
			base := openFiles(t)
			for range 20 {
				session()
			}
			deadline := time.Now().Add(10 * time.Second)
			for openFiles(t) > base {
				if time.Now().After(deadline) {
					t.Fatalf("%d descriptors open after 20 connections ended, %d before", openFiles(t), base)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// openFiles counts the process's open descriptors.
func openFiles(t *testing.T) int {
	des, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	return len(des)
}
