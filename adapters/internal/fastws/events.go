package fastws

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/hotstate/hotstate/adapters/internal/evconn"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/valyala/fasthttp"
)

// upgradeEvents answers the handshake in rc with 101 itself and, once the
// framework's handler has returned and fasthttp hands the connection
// over, has evconn serve it by events. A refused handshake returns the
// status to answer with, as the library's upgrader would.
func upgradeEvents[C any](srv *hotstate.Server, rc *fasthttp.RequestCtx, info hotstate.ConnInfo, cfg *Config[C]) (status int) {
	if !rc.IsGet() {
		return http.StatusMethodNotAllowed
	}
	if !bytes.Equal(rc.Request.Header.Peek("Sec-WebSocket-Version"), []byte("13")) {
		return http.StatusBadRequest
	}
	key := string(bytes.TrimSpace(rc.Request.Header.Peek("Sec-WebSocket-Key")))
	if !evconn.ValidKey(key) {
		return http.StatusBadRequest
	}
	rc.SetStatusCode(fasthttp.StatusSwitchingProtocols)
	rc.Response.Header.Set("Upgrade", "websocket")
	rc.Response.Header.Set("Connection", "Upgrade")
	rc.Response.Header.Set("Sec-WebSocket-Accept", evconn.AcceptKey(key))
	appDone := rc.Done()
	rc.Hijack(func(nc net.Conn) { serveEvents(srv, nc, info, appDone, &cfg.apps) })
	return 0
}

// serveEvents serves a connection fasthttp hijacked, nc, by events. It
// runs on a goroutine fasthttp started for it, which returns at once: the
// connection then holds none while idle. fasthttp closes its own
// descriptor of the connection when the goroutine returns (unless the app
// set KeepHijackedConns, when nobody would), so the connection is served
// through a duplicate of it, and the original is closed here either way.
// A connection that cannot be duplicated (a listener's wrapper) is read
// from this goroutine instead, which then returns when it has ended.
func serveEvents(srv *hotstate.Server, nc net.Conn, info hotstate.ConnInfo, appDone <-chan struct{}, apps *appConns) {
	first := buffered(nc)
	raw := nc
	if u, ok := nc.(interface{ UnsafeConn() net.Conn }); ok {
		raw = u.UnsafeConn()
	}
	own, err := duplicate(raw)
	if err != nil {
		c := evconn.New(raw, first, info, apps.forget)
		apps.watch(appDone, c)
		c.Serve(srv)
		c.Wait()
		return
	}
	_ = raw.Close()
	c := evconn.New(own, first, info, apps.forget)
	apps.watch(appDone, c)
	c.Serve(srv)
}

// buffered returns what fasthttp read past the request, which nc's Read
// returns before the socket's own bytes. fasthttp recycles that buffer
// once the hijack handler returns. With a read deadline in the past, a
// Read that would wait on the socket fails at once, so the socket's own
// bytes stay there for the poller to report.
func buffered(nc net.Conn) []byte {
	_ = nc.SetReadDeadline(aLongTimeAgo)
	defer nc.SetReadDeadline(time.Time{})
	var out []byte
	buf := make([]byte, 512)
	for {
		n, err := nc.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil || n == 0 {
			return out
		}
	}
}

// duplicate returns a connection of its own on nc's socket, through a
// duplicate of its descriptor: closing nc then leaves it open. It fails
// for a connection that has no descriptor to duplicate.
func duplicate(nc net.Conn) (net.Conn, error) {
	fc, ok := nc.(interface{ File() (*os.File, error) })
	if !ok {
		return nil, errNoDescriptor
	}
	f, err := fc.File()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return net.FileConn(f)
}
