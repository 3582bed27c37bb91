// Package hotfiber serves hotstate from a Fiber (v2) app; for Fiber v3,
// use github.com/hotstate/hotstate/adapters/fiber/v3, which behaves the
// same. On Linux, plain-TCP connections are read by events, on hothttp's
// event path, and an idle connection keeps no goroutine (WithEventLoop);
// TLS connections and other platforms keep a goroutine per connection,
// over github.com/fasthttp/websocket.
//
// Mount it like any route, next to the REST routes; middleware registered
// before it (logging, authentication, recovery) runs before the upgrade:
//
//	app.Get("/ws", hotfiber.Handler(srv))
//
// The adapter keeps hothttp's behaviour where Fiber's own WebSocket
// middleware (gofiber/contrib/websocket) differs: it checks the Origin
// before the upgrade, where the middleware allows every origin by default;
// it recovers panics without sending their value anywhere, where the
// middleware's default recovery writes it to the client; and it gathers
// the frames queued for a client into one write, as hothttp does.
//
// Call srv.Shutdown before app.Shutdown: Fiber does not track upgraded
// connections, so only the hotstate server can wait for them. If the app
// shuts down first, its clients still get 1001.
package hotfiber

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/log"
	"github.com/hotstate/hotstate/adapters/internal/fastws"
	hotstate "github.com/hotstate/hotstate/core"
)

// Option configures Handler.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config is what the options set; Handler adds the logger.
type config = fastws.Config[*fiber.Ctx]

// WithOriginPatterns allows cross-origin handshakes from origins matching
// the patterns (see hotstate.OriginAllowed). By default only same-origin
// browsers and clients that send no Origin may connect; others get 403
// before any upgrade.
func WithOriginPatterns(patterns ...string) Option {
	return optionFunc(func(c *config) { c.Origins = append(c.Origins, patterns...) })
}

// WithIdentity sets a hook that runs before the upgrade, after the app's
// middleware, and returns who is connecting, typically read with c.Locals
// from what an authentication middleware stored. Its result reaches
// function handlers and listeners as hotstate.Caller.Identity. An error
// refuses the connection with 401, or with the code and message of a
// *fiber.Error (fiber.ErrForbidden, fiber.NewError).
//
// The identity outlives the request, so copy strings taken from it
// (utils.CopyString) unless the app is configured Immutable. A panic in fn
// is recovered: the client gets 500 and the value goes to Fiber's log.
func WithIdentity(fn func(c *fiber.Ctx) (any, error)) Option {
	return optionFunc(func(c *config) { c.Identity = fn })
}

// WithHeaders keeps the named request headers for the connection's life,
// in hotstate.ConnInfo.Header, where function handlers and listeners read
// them through Caller.Header. By default no header is kept: the identity
// hook sees the whole request before the upgrade, and what it returns
// stays with the connection as Caller.Identity, while a header map kept
// for every connection costs memory and holds its cookies.
func WithHeaders(names ...string) Option {
	return optionFunc(func(c *config) {
		for _, n := range names {
			c.Headers = append(c.Headers, http.CanonicalHeaderKey(n))
		}
	})
}

// WithEventLoop chooses how plain-TCP connections are read on Linux: on,
// the kernel's readiness (epoll) tells the server when a connection has
// bytes, and a goroutine runs only while it does, so an idle connection
// keeps none; off, each connection keeps a goroutine that reads it, over
// github.com/fasthttp/websocket. TLS connections and other platforms
// always keep a goroutine. The default is on, as in hothttp, whose event
// path this is (see hothttp.WithEventLoop).
//
// On the event path the adapter answers the handshake itself and takes
// the connection from fasthttp through a duplicate of its descriptor, so
// the goroutine fasthttp runs for a hijacked connection returns at once,
// whatever the app's Server().KeepHijackedConns.
func WithEventLoop(on bool) Option {
	return optionFunc(func(c *config) { c.Goroutines = !on })
}

// Handler returns a fiber.Handler that upgrades the request to a WebSocket
// connection served by srv until it closes. A request that is not a
// WebSocket handshake gets 426.
func Handler(srv *hotstate.Server, opts ...Option) fiber.Handler {
	cfg := &config{Logf: logf}
	for _, o := range opts {
		o.apply(cfg)
	}
	return func(c *fiber.Ctx) error {
		status, msg, err := fastws.Handshake(srv, c.Context(), c, cfg)
		if err != nil {
			return refusal(err)
		}
		if status != 0 {
			return fiber.NewError(status, msg)
		}
		return nil
	}
}

// refusal is the answer to an identity hook's error.
func refusal(err error) error {
	if errors.Is(err, fastws.ErrPanicked) {
		return fiber.ErrInternalServerError
	}
	if fe, ok := errors.AsType[*fiber.Error](err); ok {
		return fe
	}
	return fiber.ErrUnauthorized
}

// logf reports to Fiber's log what no client may see.
func logf(format string, args ...any) { log.Errorf("hotfiber: "+format, args...) }
