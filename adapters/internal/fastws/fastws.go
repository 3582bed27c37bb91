// Package fastws serves hotstate on a fasthttp server. It is the
// transport under both Fiber adapters, v2 and v3, which differ only in
// what the framework puts around a request: its context type, its errors,
// its logger. Everything below that, from the handshake checks to the
// connection with its batched writes, is here, once.
//
// On Linux, plain-TCP connections are served by events, by evconn, the
// event path hothttp uses too: the handshake is answered here, fasthttp
// hands the connection over, and an idle connection keeps no goroutine.
// TLS connections, other platforms and Config.Goroutines keep a goroutine
// per connection, over github.com/fasthttp/websocket.
//
// It is internal: its API is whatever the two adapters need, free to
// change with them. An adapter's handler calls Handshake and answers what
// it returns with its framework's error.
package fastws

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/fasthttp/websocket"
	"github.com/hotstate/hotstate/adapters/internal/evconn"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
	"github.com/valyala/fasthttp"
)

// Logf reports what no client may see, such as a recovered panic, through
// the framework's logger.
type Logf func(format string, args ...any)

// ErrPanicked is what Handshake returns when the identity hook panicked.
// The client gets 500 for it and never the panic's value.
var ErrPanicked = errors.New("fastws: identity hook panicked")

// Config is what an adapter's options set, for Handshake.
type Config[C any] struct {
	// Origins are the patterns a cross-origin handshake must match (see
	// hotstate.OriginAllowed).
	Origins []string
	// Identity is the identity hook, run on the framework's context; nil
	// when there is none.
	Identity func(C) (any, error)
	// Headers are the canonical names of the request headers a connection
	// keeps in ConnInfo.Header; none when empty.
	Headers []string
	// Logf reports what no client may see.
	Logf Logf
	// Goroutines keeps a reading goroutine per connection where the event
	// path could serve it (the adapters' WithEventLoop(false)).
	Goroutines bool

	// apps closes the event path's connections when their fasthttp server
	// shuts down.
	apps appConns
}

// Handshake answers the WebSocket handshake in rc, whose framework context
// is c, and has the connection served by srv once the framework's handler
// has returned. In order:
//
//   - a foreign origin gets 403, checked by the rule every transport
//     shares (hotstate.OriginAllowed), and a request that is not a
//     WebSocket handshake gets 426: Handshake returns that status and a
//     message;
//   - the identity hook, if any, runs on c; when it fails Handshake
//     returns its error, or ErrPanicked, for the adapter to turn into its
//     framework's;
//   - the upgrade, whose refusal (a wrong version, no key) returns its
//     status.
//
// Status 0 and a nil error mean the connection was upgraded.
func Handshake[C any](srv *hotstate.Server, rc *fasthttp.RequestCtx, c C, cfg *Config[C]) (status int, message string, hookErr error) {
	if status, message := refusal(rc, cfg.Origins); status != 0 {
		return status, message, nil
	}
	identity, err := identify(c, cfg.Identity, cfg.Logf)
	if err != nil {
		return 0, "", err
	}
	info := hotstate.ConnInfo{RemoteAddr: rc.RemoteAddr().String(), Header: keep(rc, cfg.Headers), Identity: identity}
	if !cfg.Goroutines && evconn.Supported && !rc.IsTLS() {
		status = upgradeEvents(srv, rc, info, cfg)
	} else {
		status = upgrade(srv, rc, info, cfg.Logf)
	}
	if status != 0 {
		return status, http.StatusText(status), nil
	}
	return 0, "", nil
}

// refusal returns the status and message that refuse the handshake in rc
// before any upgrade, or 0.
func refusal(rc *fasthttp.RequestCtx, origins []string) (status int, message string) {
	if !hotstate.OriginAllowed(string(rc.Request.Header.Peek("Origin")), string(rc.Host()), origins) {
		return http.StatusForbidden, "hotstate: origin not allowed"
	}
	if !websocket.FastHTTPIsWebSocketUpgrade(rc) {
		return http.StatusUpgradeRequired, http.StatusText(http.StatusUpgradeRequired)
	}
	return 0, ""
}

// identify runs the identity hook on the framework's context c, or returns
// nil without one. A panic in hook is recovered and reported to logf; the
// caller gets ErrPanicked.
func identify[C any](c C, hook func(C) (any, error), logf Logf) (identity any, err error) {
	if hook == nil {
		return nil, nil
	}
	defer func() {
		if v := recover(); v != nil {
			logf("identity hook panicked: %v", v)
			identity, err = nil, ErrPanicked
		}
	}()
	return hook(c)
}

// noWriteBuffers is the upgrader's write buffer pool. The library would
// give each connection a write buffer of its own, which socket makes
// useless; with a pool it takes one only when it writes a message, which
// it never does here.
var noWriteBuffers sync.Pool

// upgrade answers the handshake in rc with 101, through the library's
// upgrader, and, once the framework's handler has returned and fasthttp
// hands the connection over, serves it with srv until it closes from the
// goroutine fasthttp started for it. info was copied out of rc, which
// fasthttp reuses. If the upgrader refuses the handshake, upgrade returns
// the status to answer with and nothing was upgraded.
func upgrade(srv *hotstate.Server, rc *fasthttp.RequestCtx, info hotstate.ConnInfo, logf Logf) (status int) {
	appDone := rc.Done()
	u := websocket.FastHTTPUpgrader{
		// refusal has checked the origin, by the rule every transport
		// shares.
		CheckOrigin:     func(*fasthttp.RequestCtx) bool { return true },
		WriteBufferPool: &noWriteBuffers,
		// The adapter answers with its framework's error instead.
		Error: func(_ *fasthttp.RequestCtx, s int, _ error) { status = s },
	}
	if err := u.Upgrade(rc, func(ws *websocket.Conn) {
		serve(srv, ws, info, appDone, logf)
	}); err != nil && status == 0 {
		status = http.StatusBadRequest
	}
	return status
}

// keep copies the request headers named in names (canonical names) out of
// rc, whose memory fasthttp reuses; nil when none of them was sent. Every
// other header, cookies included, stays behind with the request.
func keep(rc *fasthttp.RequestCtx, names []string) http.Header {
	if len(names) == 0 {
		return nil
	}
	var kept http.Header
	// Compared without regard to case: an app may have turned fasthttp's
	// normalizing of header names off.
	for k, v := range rc.Request.Header.All() {
		for _, name := range names {
			if len(k) == len(name) && bytes.EqualFold(k, []byte(name)) {
				if kept == nil {
					kept = make(http.Header, len(names))
				}
				kept[name] = append(kept[name], string(v))
				break
			}
		}
	}
	return kept
}

// serve runs one upgraded connection. It returns only when nothing touches
// ws any more, so fasthttp may take the connection back.
func serve(srv *hotstate.Server, ws *websocket.Conn, info hotstate.ConnInfo, appDone <-chan struct{}, logf Logf) {
	c := newConn(ws, info, srv.MaxFrameBytes())
	defer c.finish()
	defer func() {
		if v := recover(); v != nil {
			logf("panic serving a connection: %v", v)
			_ = c.Close(wire.CloseInternalError, "internal server error")
		}
	}()
	// The request's done channel closes only when the server shuts down;
	// this context ends then too, which makes ServeConn close with 1001.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		select {
		case <-appDone:
			cancel()
		case <-ctx.Done():
		}
	})
	_ = srv.ServeConn(ctx, c)
}
