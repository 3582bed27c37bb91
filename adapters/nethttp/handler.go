// Package hothttp serves hotstate over net/http. On Linux, connections,
// plain or TLS, are read by events: epoll reports when a socket has
// bytes, hotstate's own frame reader parses them, and an idle connection
// keeps no goroutine (WithEventLoop). Other platforms keep a goroutine
// per connection and github.com/coder/websocket, the maintained
// continuation of nhooyr.io/websocket.
//
// Mount Handler at any path of an existing mux, next to the REST routes:
//
//	mux.Handle("/ws", hothttp.Handler(srv))
//
// or run the standalone server with ListenAndServe.
package hothttp

import (
	"context"
	"errors"
	"net/http"

	"github.com/coder/websocket"
	hotstate "github.com/hotstate/hotstate/core"
)

// Option configures how connections are accepted: Handler, Serve, and the
// standalone server (every Option is also a ServerOption).
type Option interface {
	ServerOption
	apply(*config)
}

// ServerOption configures ListenAndServe and ServeListener: every Option,
// and the options only a standalone server has (WithAddr, WithPath,
// WithFallback), which Handler therefore cannot be given.
type ServerOption interface {
	applyServer(*serverConfig)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config)             { f(c) }
func (f optionFunc) applyServer(c *serverConfig) { f(&c.config) }

type serverOptionFunc func(*serverConfig)

func (f serverOptionFunc) applyServer(c *serverConfig) { f(c) }

type config struct {
	origins  []string
	identity func(r *http.Request) (any, error)
	headers  []string // canonical names of the request headers to keep
	// goroutines keeps a reading goroutine per connection where the
	// event path could serve it (WithEventLoop(false)).
	goroutines bool
}

type serverConfig struct {
	config
	addr     string
	path     string
	fallback http.Handler
	mounts   []mount
}

// mount is a handler WithMount placed under a path prefix.
type mount struct {
	prefix string
	h      http.Handler
}

// WithOriginPatterns allows cross-origin handshakes from origins matching
// the patterns (see hotstate.OriginAllowed). By default only same-origin
// browsers and clients that send no Origin may connect.
func WithOriginPatterns(patterns ...string) Option {
	return optionFunc(func(c *config) { c.origins = append(c.origins, patterns...) })
}

// WithIdentity sets a hook that runs before the upgrade and returns who is
// connecting (read a cookie, a header, a value an auth middleware put in the
// request context). Its result reaches function handlers and listeners as
// Caller.Identity. An error refuses the connection with 401, or with the
// status of a *StatusError.
func WithIdentity(fn func(r *http.Request) (any, error)) Option {
	return optionFunc(func(c *config) { c.identity = fn })
}

// WithHeaders keeps the named request headers for the connection's life,
// in ConnInfo.Header, where function handlers and listeners read them
// through Caller.Header. By default no header is kept: the identity hook
// sees the whole request before the upgrade, and what it returns stays
// with the connection as Caller.Identity, while a header map kept for
// every connection costs memory and holds its cookies.
func WithHeaders(names ...string) Option {
	return optionFunc(func(c *config) {
		for _, n := range names {
			c.headers = append(c.headers, http.CanonicalHeaderKey(n))
		}
	})
}

// StatusError refuses a connection with an HTTP status before the upgrade.
type StatusError struct {
	Status  int
	Message string
}

func (e *StatusError) Error() string { return e.Message }

// Handler returns an http.Handler that upgrades requests to WebSocket
// connections served by srv. It returns once a request is upgraded, so
// net/http releases what it holds for the request while srv serves the
// connection until it closes (see Serve).
func Handler(srv *hotstate.Server, opts ...Option) http.Handler {
	c := newConfig(opts)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serve(srv, c, w, r)
	})
}

func newConfig(opts []Option) *config {
	c := &config{}
	for _, o := range opts {
		o.apply(c)
	}
	return c
}

// Serve upgrades one request and returns; srv serves the connection until
// it closes, by events or from a goroutine of its own (WithEventLoop), and
// srv.Shutdown closes it and waits for its session to end.
// The connection outlives the request: it keeps neither the request's
// context (net/http cancels it when the handler returns) nor its values,
// nor its headers beyond those named with WithHeaders. Framework adapters
// built on net/http call it from their own handlers.
func Serve(srv *hotstate.Server, w http.ResponseWriter, r *http.Request, opts ...Option) {
	serve(srv, newConfig(opts), w, r)
}

func serve(srv *hotstate.Server, c *config, w http.ResponseWriter, r *http.Request) {
	if !hotstate.OriginAllowed(r.Header.Get("Origin"), r.Host, c.origins) {
		http.Error(w, "hotstate: origin not allowed", http.StatusForbidden)
		return
	}
	var identity any
	if c.identity != nil {
		id, err := callIdentity(srv, c.identity, r)
		if err != nil {
			status, msg := http.StatusUnauthorized, http.StatusText(http.StatusUnauthorized)
			var se *StatusError
			if errors.As(err, &se) {
				status, msg = se.Status, se.Message
			}
			http.Error(w, msg, status)
			return
		}
		identity = id
	}
	info := hotstate.ConnInfo{RemoteAddr: r.RemoteAddr, Header: c.keep(r.Header), Identity: identity}
	if !c.goroutines && serveEvents(srv, w, r, info) {
		return
	}
	hj := &hijacker{ResponseWriter: w}
	ws, err := websocket.Accept(hj, r, &websocket.AcceptOptions{
		// The origin was checked above, by the rule every transport shares.
		InsecureSkipVerify: true,
	})
	if err != nil {
		return
	}
	ws.SetReadLimit(int64(srv.MaxFrameBytes()))
	conn := newConn(ws, hj.sock, info)
	// The handler returns now, and with it net/http's per-connection state
	// (its buffers, the request, the goroutine's grown stack); a fresh
	// goroutine reads. srv owns it: Shutdown closes the connection and
	// waits for its session to end, after which only the close handshake
	// is left, bounded by closeWait and coder/websocket's own timeouts.
	go func() {
		_ = srv.ServeConn(context.Background(), conn)
		conn.wait()
	}()
}

// keep copies the headers named with WithHeaders out of the request's
// header map, which then goes with the request.
func (c *config) keep(h http.Header) http.Header {
	var kept http.Header
	for _, name := range c.headers {
		if v, ok := h[name]; ok {
			if kept == nil {
				kept = make(http.Header, len(c.headers))
			}
			kept[name] = append([]string(nil), v...)
		}
	}
	return kept
}

// callIdentity runs the identity hook, turning a panic into a logged error
// so the client gets a plain 500 and never the panic value.
func callIdentity(srv *hotstate.Server, fn func(*http.Request) (any, error), r *http.Request) (id any, err error) {
	defer func() {
		if v := recover(); v != nil {
			srv.Logger().Error("hotstate: identity hook panicked", "panic", v)
			id, err = nil, &StatusError{Status: http.StatusInternalServerError, Message: http.StatusText(http.StatusInternalServerError)}
		}
	}()
	return fn(r)
}
