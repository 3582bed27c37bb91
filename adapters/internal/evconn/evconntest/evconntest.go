// Package evconntest holds the tests of the event path that every
// transport serving by evconn passes: close codes, fragments and control
// frames, fairness under a flood, no goroutine per idle connection, a
// wrapped connection, peers that go away, a write stuck on a peer that
// stopped reading, frames sent with the handshake.
// Each transport runs them with Run over real sockets on loopback,
// speaking the frames itself where a library would refuse to.
package evconntest

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
)

// Serve serves srv at the path "/" of the transport under test, on ln,
// with its event path on or off (the transport's WithEventLoop), until
// the test ends: its cleanup shuts srv down (hotstatetest.Shutdown), then
// the transport's server.
type Serve func(t testing.TB, srv *hotstate.Server, ln net.Listener, events bool)

// Run runs every test of the event path against the transport that serve
// serves, each as a subtest.
func Run(t *testing.T, serve Serve) {
	tg := target{serve: serve}
	run(t, tg)
	t.Run("WrappedConn", func(t *testing.T) { testWrappedConn(t, tg) })
}

// RunTLS runs them over TLS, for a transport that serves TLS by events
// too: the listener serve gets hands out TLS connections, with a test
// certificate the clients trust.
func RunTLS(t *testing.T, serve Serve) {
	server, client := testCerts(t)
	run(t, target{
		serve: func(t testing.TB, srv *hotstate.Server, ln net.Listener, events bool) {
			serve(t, srv, tls.NewListener(ln, server), events)
		},
		client: client,
	})
}

func run(t *testing.T, tg target) {
	t.Run("CloseCodes", func(t *testing.T) { testCloseCodes(t, tg) })
	t.Run("FragmentsAndControl", func(t *testing.T) { testFragmentsAndControl(t, tg) })
	t.Run("FloodDoesNotStarve", func(t *testing.T) { testFloodDoesNotStarve(t, tg) })
	t.Run("IdleKeepsNoGoroutine", func(t *testing.T) { testIdleKeepsNoGoroutine(t, tg) })
	t.Run("PeerGone", func(t *testing.T) { testPeerGone(t, tg) })
	t.Run("StuckWriteEnds", func(t *testing.T) { testStuckWriteEnds(t, tg) })
	t.Run("SlowMessageWhileLingering", func(t *testing.T) { testSlowMessageWhileLingering(t, tg) })
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprintf("FramesSentWithTheHandshake/events=%v", on), func(t *testing.T) {
			testFramesSentWithTheHandshake(t, tg, on)
		})
	}
}

// target is the transport under test and how its clients connect: over
// plain TCP, or over TLS with client when it is not nil.
type target struct {
	serve  Serve
	client *tls.Config
}

// listen serves srv on a loopback listener and returns its address.
func (tg target) listen(t testing.TB, srv *hotstate.Server, events bool) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tg.serve(t, srv, ln, events)
	return ln.Addr().String()
}

// dial connects to addr, closing the connection when the test ends.
func (tg target) dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	var nc net.Conn
	var err error
	if tg.client != nil {
		nc, err = tls.Dial("tcp", addr, tg.client)
	} else {
		nc, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	return nc
}

// dialRaw is DialRaw through tg.
func (tg target) dialRaw(t testing.TB, addr string) *RawConn {
	t.Helper()
	return handshake(t, tg.dial(t, addr), addr)
}

// testCerts are the TLS configurations of a server with a test
// certificate for 127.0.0.1 and of clients that trust it: those of
// net/http/httptest's TLS servers.
func testCerts(t testing.TB) (server, client *tls.Config) {
	ts := httptest.NewUnstartedServer(nil)
	ts.StartTLS()
	defer ts.Close()
	server = ts.TLS.Clone()
	client = ts.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	return server, client
}
