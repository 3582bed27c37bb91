package hotfiber_test

import (
	"net"
	"testing"

	hotfiber "github.com/hotstate/hotstate/adapters/fiber/v3"
	"github.com/hotstate/hotstate/adapters/internal/evconn/evconntest"
	hotstate "github.com/hotstate/hotstate/core"
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
