// Package hotfiber serves hotstate from a Fiber (v2) app, over
// github.com/gofiber/contrib/websocket.
//
// Mount it like any route, next to the REST routes; middleware registered
// before it (logging, authentication, recovery) runs before the upgrade:
//
//	app.Get("/ws", hotfiber.Handler(srv))
//
// The adapter keeps hothttp's behaviour where Fiber's WebSocket middleware
// differs: it checks the Origin itself, before the upgrade, because the
// middleware allows every origin by default; it recovers panics without
// sending their value anywhere, where the middleware's default recovery
// writes it to the client; and it serialises writes, turns contexts into
// deadlines and finishes with the connection before the middleware puts
// it back in its pool.
//
// Call srv.Shutdown before app.Shutdown: Fiber does not track upgraded
// connections, so only the hotstate server can wait for them. If the app
// shuts down first, its clients still get 1001.
package hotfiber

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/log"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// Option configures Handler.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	origins  []string
	identity func(c *fiber.Ctx) (any, error)
}

// WithOriginPatterns allows cross-origin handshakes from origins matching
// the patterns (see hotstate.OriginAllowed). By default only same-origin
// browsers and clients that send no Origin may connect; others get 403
// before any upgrade.
func WithOriginPatterns(patterns ...string) Option {
	return optionFunc(func(c *config) { c.origins = append(c.origins, patterns...) })
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
	return optionFunc(func(c *config) { c.identity = fn })
}

// Handler returns a fiber.Handler that upgrades the request to a WebSocket
// connection served by srv until it closes. A request that is not a
// WebSocket handshake gets 426.
func Handler(srv *hotstate.Server, opts ...Option) fiber.Handler {
	cfg := &config{}
	for _, o := range opts {
		o.apply(cfg)
	}
	return func(c *fiber.Ctx) error {
		if !hotstate.OriginAllowed(c.Get(fiber.HeaderOrigin), string(c.Request().Host()), cfg.origins) {
			return fiber.NewError(fiber.StatusForbidden, "hotstate: origin not allowed")
		}
		if !websocket.IsWebSocketUpgrade(c) {
			return fiber.ErrUpgradeRequired
		}
		identity, err := cfg.identify(c)
		if err != nil {
			return err
		}
		// Everything the connection needs from the request is copied now:
		// the handler below runs after Fiber has released c.
		info := hotstate.ConnInfo{RemoteAddr: c.Context().RemoteAddr().String(), Header: header(c), Identity: identity}
		appDone := c.Context().Done()
		return websocket.New(func(ws *websocket.Conn) {
			serve(srv, ws, info, appDone)
		}, websocket.Config{
			// serve recovers every panic itself; this replaces the default
			// recovery, which writes the panic value to the client.
			RecoverHandler: func(*websocket.Conn) {
				if v := recover(); v != nil {
					log.Errorf("hotfiber: panic: %v", v)
				}
			},
		})(c)
	}
}

func (cfg *config) identify(c *fiber.Ctx) (identity any, err error) {
	if cfg.identity == nil {
		return nil, nil
	}
	defer func() {
		if v := recover(); v != nil {
			log.Errorf("hotfiber: identity hook panicked: %v", v)
			identity, err = nil, fiber.ErrInternalServerError
		}
	}()
	identity, err = cfg.identity(c)
	if err != nil {
		if fe, ok := errors.AsType[*fiber.Error](err); ok {
			return nil, fe
		}
		return nil, fiber.ErrUnauthorized
	}
	return identity, nil
}

// header copies the request's headers; Fiber reuses their memory.
func header(c *fiber.Ctx) http.Header {
	h := http.Header{}
	c.Request().Header.VisitAll(func(k, v []byte) {
		h.Add(string(k), string(v))
	})
	return h
}

// serve runs one upgraded connection. It returns only when nothing touches
// ws any more, so the middleware may pool it.
func serve(srv *hotstate.Server, ws *websocket.Conn, info hotstate.ConnInfo, appDone <-chan struct{}) {
	ws.SetReadLimit(int64(srv.MaxFrameBytes()))
	c := newConn(ws.Conn, info)
	defer c.finish()
	defer func() {
		if v := recover(); v != nil {
			log.Errorf("hotfiber: panic serving a connection: %v", v)
			_ = c.Close(wire.CloseInternalError, "internal server error")
		}
	}()
	// The request's context ends only when the app shuts down; so does
	// this one, which makes ServeConn close with 1001.
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
