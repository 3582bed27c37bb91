// Package hotgin serves hotstate from a Gin router. It is a thin layer over
// hothttp: the upgrade, the origin check and the connection are hothttp's,
// so both transports behave the same and share their options.
//
// Mount it like any route, next to the REST routes; middleware registered
// before it (logging, authentication, recovery) runs before the upgrade:
//
//	r.GET("/ws", hotgin.Handler(srv))
//
// WithIdentity reads who is connecting from the gin.Context, for instance
// a user that an authentication middleware stored with c.Set, and hands it
// to function handlers and listeners as hotstate.Caller.Identity.
package hotgin

import (
	"context"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotstate "github.com/hotstate/hotstate/core"
)

// Option configures Handler. It is hothttp's Option, so every hothttp
// option applies (hothttp.WithOriginPatterns, hothttp.WithIdentity on the
// *http.Request); WithIdentity adds one that reads the gin.Context.
type Option = hothttp.Option

// StatusError, returned by an identity hook, refuses the connection with
// its HTTP status instead of 401.
type StatusError = hothttp.StatusError

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
// refuses the connection with 401, or with the status of a *StatusError.
//
// A panic in fn is recovered: the client gets 500 and the panic, as a
// *PanicError, goes to c.Errors, where gin's logger reports it.
func WithIdentity(fn func(c *gin.Context) (any, error)) Option {
	return hothttp.WithIdentity(func(r *http.Request) (any, error) {
		c, ok := r.Context().Value(ginContextKey{}).(*gin.Context)
		if !ok {
			// The option was given to a handler other than hotgin.Handler.
			return nil, errInternal
		}
		return identify(c, fn)
	})
}

var errInternal = &StatusError{Status: http.StatusInternalServerError, Message: http.StatusText(http.StatusInternalServerError)}

func identify(c *gin.Context, fn func(*gin.Context) (any, error)) (identity any, err error) {
	defer func() {
		if v := recover(); v != nil {
			_ = c.Error(&PanicError{Value: v})
			identity, err = nil, errInternal
		}
	}()
	return fn(c)
}

// PanicError is what a panicking identity hook leaves in c.Errors. It is
// logged on the server and never sent to the client.
type PanicError struct {
	Value any
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("hotgin: identity hook panicked: %v", e.Value)
}

type ginContextKey struct{}

// Handler returns a gin.HandlerFunc that upgrades the request to a
// WebSocket connection, which srv then serves until it closes. It returns
// once the request is upgraded, so the router's and net/http's state for
// the request is released while the connection lives on (see
// hothttp.Serve).
func Handler(srv *hotstate.Server, opts ...Option) gin.HandlerFunc {
	h := hothttp.Handler(srv, opts...)
	return func(c *gin.Context) {
		// WithIdentity's hook runs inside hothttp; the request's context is
		// how it finds the gin.Context again.
		r := c.Request.WithContext(context.WithValue(c.Request.Context(), ginContextKey{}, c))
		h.ServeHTTP(c.Writer, r)
	}
}
