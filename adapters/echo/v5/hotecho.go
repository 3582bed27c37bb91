// Package hotecho serves hotstate from an Echo v5 router. It is the Echo
// v4 adapter (github.com/hotstate/hotstate/adapters/echo) for Echo v5's
// *echo.Context and, like it, a thin layer over hothttp: the upgrade, the
// origin check and the connection are hothttp's, so both transports behave
// the same and share their options.
//
// Mount it like any route, next to the REST routes; middleware registered
// before it (logging, authentication, recovery) runs before the upgrade:
//
//	e.GET("/ws", hotecho.Handler(srv))
//
// WithIdentity reads who is connecting from the *echo.Context, for
// instance a user that an authentication middleware stored with c.Set, and
// hands it to function handlers and listeners as hotstate.Caller.Identity.
package hotecho

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/labstack/echo/v5"
)

// Option configures Handler. It is hothttp's Option, so every hothttp
// option applies (hothttp.WithOriginPatterns, hothttp.WithIdentity on the
// *http.Request); WithIdentity adds one that reads the *echo.Context.
type Option = hothttp.Option

// WithOriginPatterns allows cross-origin handshakes from origins matching
// the patterns (see hotstate.OriginAllowed). By default only same-origin
// browsers and clients that send no Origin may connect; others get 403
// before any upgrade.
func WithOriginPatterns(patterns ...string) Option {
	return hothttp.WithOriginPatterns(patterns...)
}

// WithHeaders keeps the named request headers for the connection's life,
// where function handlers and listeners read them as Caller.Header. By
// default none is kept; the identity hook sees the whole request.
func WithHeaders(names ...string) Option {
	return hothttp.WithHeaders(names...)
}

// WithIdentity sets a hook that runs before the upgrade, after the
// router's middleware, and returns who is connecting, typically read with
// c.Get from what an authentication middleware stored. Its result reaches
// function handlers and listeners as hotstate.Caller.Identity. An error
// refuses the connection with 401, or with the status of an error that
// carries one (echo.ErrForbidden, echo.NewHTTPError, any
// echo.HTTPStatusCoder) and the message of an *echo.HTTPError.
//
// A panic in fn is recovered: the client gets 500, and Handler returns the
// panic as a *PanicError to Echo, where a logging middleware such as
// middleware.RequestLogger reports it.
func WithIdentity(fn func(c *echo.Context) (any, error)) Option {
	return hothttp.WithIdentity(func(r *http.Request) (any, error) {
		h, ok := r.Context().Value(handshakeKey{}).(*handshake)
		if !ok {
			// The option was given to a handler other than hotecho.Handler.
			return nil, errInternal
		}
		return h.identify(fn)
	})
}

var errInternal = &hothttp.StatusError{Status: http.StatusInternalServerError, Message: http.StatusText(http.StatusInternalServerError)}

// handshake carries the *echo.Context into hothttp's identity hook, which
// only sees the *http.Request, and a panic of the hook back out to Handler.
type handshake struct {
	c        *echo.Context
	panicked *PanicError
}

type handshakeKey struct{}

func (h *handshake) identify(fn func(*echo.Context) (any, error)) (identity any, err error) {
	defer func() {
		if v := recover(); v != nil {
			h.panicked = &PanicError{Value: v}
			identity, err = nil, errInternal
		}
	}()
	identity, err = fn(h.c)
	if status := echo.StatusCode(err); status != 0 {
		msg := http.StatusText(status)
		if he, ok := errors.AsType[*echo.HTTPError](err); ok && he.Message != "" {
			msg = he.Message
		}
		return nil, &hothttp.StatusError{Status: status, Message: msg}
	}
	return identity, err
}

// PanicError is what Handler returns after a panicking identity hook. The
// response (500) has been sent by then, so Echo's error handler leaves it
// alone; its value never reaches the client.
type PanicError struct {
	Value any
}

// Error reports the panic's value, for the server's log.
func (e *PanicError) Error() string {
	return fmt.Sprintf("hotecho: identity hook panicked: %v", e.Value)
}

// Handler returns an echo.HandlerFunc that upgrades the request to a
// WebSocket connection, which srv then serves until it closes. It returns
// once the request is upgraded, so the router's and net/http's state for
// the request is released while the connection lives on (see
// hothttp.Serve).
func Handler(srv *hotstate.Server, opts ...Option) echo.HandlerFunc {
	h := hothttp.Handler(srv, opts...)
	return func(c *echo.Context) error {
		hs := &handshake{c: c}
		r := c.Request()
		h.ServeHTTP(c.Response(), r.WithContext(context.WithValue(r.Context(), handshakeKey{}, hs)))
		if hs.panicked != nil {
			return hs.panicked
		}
		return nil
	}
}
