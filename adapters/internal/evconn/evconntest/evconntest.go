// Package evconntest holds the tests of the event path that every
// transport serving by evconn passes: close codes, fragments and control
// frames, fairness under a flood, no goroutine per idle connection, a
// wrapped connection, peers that go away, a write stuck on a peer that
// stopped reading, frames sent with the handshake.
// Each transport runs them with Run over real sockets on loopback,
// speaking the frames itself where a library would refuse to.
package evconntest

import (
	"fmt"
	"net"
	"testing"

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
	t.Run("CloseCodes", func(t *testing.T) { testCloseCodes(t, serve) })
	t.Run("FragmentsAndControl", func(t *testing.T) { testFragmentsAndControl(t, serve) })
	t.Run("FloodDoesNotStarve", func(t *testing.T) { testFloodDoesNotStarve(t, serve) })
	t.Run("IdleKeepsNoGoroutine", func(t *testing.T) { testIdleKeepsNoGoroutine(t, serve) })
	t.Run("WrappedConn", func(t *testing.T) { testWrappedConn(t, serve) })
	t.Run("PeerGone", func(t *testing.T) { testPeerGone(t, serve) })
	t.Run("StuckWriteEnds", func(t *testing.T) { testStuckWriteEnds(t, serve) })
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprintf("FramesSentWithTheHandshake/events=%v", on), func(t *testing.T) {
			testFramesSentWithTheHandshake(t, serve, on)
		})
	}
}

// listen serves srv on a loopback listener and returns its address.
func listen(t testing.TB, srv *hotstate.Server, serve Serve, events bool) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, srv, ln, events)
	return ln.Addr().String()
}
