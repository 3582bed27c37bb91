// Package hotstatetest is the conformance suite every hotstate transport
// runs: given a way to mount a Server and get its WebSocket URL, Run checks
// over real WebSockets on loopback that the transport delivers everything
// docs/PROTOCOL.md promises, from snapshots and ordered patches to close
// codes, origin checks, heartbeats, graceful shutdown and the absence of
// goroutine leaks.
//
// A transport's tests call it once:
//
//	func TestConformance(t *testing.T) {
//		hotstatetest.Run(t, func(t *testing.T, srv *hotstate.Server, opts hotstatetest.Options) string {
//			hs := httptest.NewServer(hothttp.Handler(srv, hothttp.WithOriginPatterns(opts.OriginPatterns...)))
//			t.Cleanup(func() { hotstatetest.Shutdown(t, srv); hs.Close() })
//			return "ws" + strings.TrimPrefix(hs.URL, "http")
//		})
//	}
//
// The package also exports Peer, the raw protocol client the suite uses,
// for a transport's own tests.
//
// It is a module of its own, required by a transport's tests alone, so
// that core, which every application imports, needs no WebSocket library:
//
//	go get github.com/hotstate/hotstate/core/hotstatetest
package hotstatetest

import (
	"context"
	"net/http"
	"testing"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"go.uber.org/goleak"
)

// Mount serves srv on the transport under test, configured as opts says,
// and returns the ws:// URL of its WebSocket endpoint. It registers a
// t.Cleanup that stops everything it started: Shutdown(t, srv) first, so
// clients get 1001, then the HTTP server. The suite calls Mount once or
// more per test, each time with a new Server.
type Mount func(t *testing.T, srv *hotstate.Server, opts Options) (url string)

// Options is what a test asks Mount to configure on the transport.
type Options struct {
	// OriginPatterns are the cross-origin patterns the transport must
	// allow, its WithOriginPatterns; nil means same-origin only.
	OriginPatterns []string
	// Identity, when set, must become the transport's identity hook, in
	// the framework's own idiom: the hook reads the request's headers
	// through the framework's context (gin.Context, echo.Context, the
	// *fiber.Ctx before the upgrade) and returns Identity(headers). The
	// suite uses it to check that identities reach handlers, that a
	// refusal happens before the upgrade and that a panicking hook is
	// recovered without leaking its value.
	Identity func(header http.Header) (any, error)
}

// SuiteOption changes how Run checks a transport.
type SuiteOption interface {
	apply(*suite)
}

type suiteOption func(*suite)

func (f suiteOption) apply(s *suite) { f(s) }

type suite struct {
	skips  map[string]string
	ignore []goleak.Option
}

// Skip skips the named test (a subtest name of Run, such as
// "Heartbeat") with reason, for a behaviour the transport cannot support.
// The reason appears in the test output, so the difference is documented
// where it is seen rather than silent.
func Skip(test, reason string) SuiteOption {
	return suiteOption(func(s *suite) { s.skips[test] = reason })
}

// IgnoreGoroutines tells the leak check about goroutines the transport's
// framework starts once and never stops (fasthttp's date updater, for
// instance). Name each one precisely, with goleak.IgnoreTopFunction or
// goleak.IgnoreAnyFunction; everything else still counts as a leak.
func IgnoreGoroutines(opts ...goleak.Option) SuiteOption {
	return suiteOption(func(s *suite) { s.ignore = append(s.ignore, opts...) })
}

// Run runs every conformance test against the transport that mount
// serves, each as a subtest that ends with a goroutine leak check.
func Run(t *testing.T, mount Mount, opts ...SuiteOption) {
	s := &suite{skips: map[string]string{}}
	for _, o := range opts {
		o.apply(s)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if reason, ok := s.skips[c.name]; ok {
				t.Skip(reason)
			}
			// Registered first, so it runs last: after the peers have
			// closed and the mount has shut everything down.
			before := goleak.IgnoreCurrent()
			t.Cleanup(func() {
				goleak.VerifyNone(t, append([]goleak.Option{before}, s.ignore...)...)
			})
			c.run(t, mount)
		})
	}
}

// Shutdown shuts srv down gracefully, failing t if that takes more than
// a few seconds. Mounts call it first in their cleanup.
func Shutdown(t testing.TB, srv *hotstate.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// within polls cond until it holds or the suite's wait passes.
func within(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, wait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
