package hothttp_test

import (
	"net"
	"net/http"
	"testing"

	"github.com/hotstate/hotstate/adapters/internal/evconn/evconntest"
	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/hotstatetest"
)

// TestEvents runs the event path's tests, shared with the Fiber adapters.
func TestEvents(t *testing.T) { evconntest.Run(t, serveOn) }

// TestEventsTLS runs them over TLS, which hothttp serves by events too.
func TestEventsTLS(t *testing.T) { evconntest.RunTLS(t, serveOn) }

// BenchmarkCall is the event path's call benchmark, on both paths.
func BenchmarkCall(b *testing.B) { evconntest.BenchmarkCall(b, serveOn) }

// serveOn serves srv with Handler on ln, for the event path's tests.
func serveOn(t testing.TB, srv *hotstate.Server, ln net.Listener, events bool) {
	hs := &http.Server{Handler: hothttp.Handler(srv, hothttp.WithEventLoop(events))}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(ln)
	}()
	t.Cleanup(func() {
		hotstatetest.Shutdown(t, srv)
		hs.Close()
		<-done
	})
}
