package hothttp

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
)

// WithAddr sets the address ListenAndServe binds, host:port. The default
// is "localhost:4400".
func WithAddr(addr string) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.addr = addr })
}

// WithPath limits ListenAndServe to one path, such as "/ws". By default
// every path upgrades.
func WithPath(path string) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.path = path })
}

// WithFallback sets the handler ListenAndServe gives every request that is
// not a WebSocket upgrade for its path, such as a file server for the web
// page that connects back.
func WithFallback(h http.Handler) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.fallback = h })
}

// WithMount gives every request whose path starts with prefix, WebSocket
// upgrades included, to h instead of the hotstate endpoint: a handler with
// a WebSocket of its own, such as the inspector, mounted next to the
// endpoint that takes upgrades on every other path.
//
//	hothttp.WithMount("/inspect/", http.StripPrefix("/inspect", insp.Handler(srv)))
func WithMount(prefix string, h http.Handler) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.mounts = append(c.mounts, mount{prefix, h}) })
}

// ListenAndServe runs a standalone hotstate server until ctx is cancelled,
// then shuts it down gracefully: clients get 1001, and it returns once every
// connection has ended. It returns nil after a shutdown that ctx caused.
func ListenAndServe(ctx context.Context, srv *hotstate.Server, opts ...ServerOption) error {
	c := newServerConfig(opts)
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	return serveListener(ctx, srv, ln, c)
}

// ServeListener is ListenAndServe on a listener the caller opened.
func ServeListener(ctx context.Context, srv *hotstate.Server, ln net.Listener, opts ...ServerOption) error {
	return serveListener(ctx, srv, ln, newServerConfig(opts))
}

func newServerConfig(opts []ServerOption) *serverConfig {
	c := &serverConfig{addr: "localhost:4400"}
	for _, o := range opts {
		o.applyServer(c)
	}
	return c
}

func serveListener(ctx context.Context, srv *hotstate.Server, ln net.Listener, c *serverConfig) error {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, m := range c.mounts {
			if strings.HasPrefix(r.URL.Path, m.prefix) {
				m.h.ServeHTTP(w, r)
				return
			}
		}
		upgrade := strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
		switch {
		case upgrade && (c.path == "" || r.URL.Path == c.path):
			serve(srv, &c.config, w, r)
		case c.fallback != nil:
			c.fallback.ServeHTTP(w, r)
		case upgrade:
			http.NotFound(w, r)
		default:
			http.Error(w, "hotstate: this endpoint speaks WebSocket", http.StatusUpgradeRequired)
		}
	})
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Stop accepting first, then close the WebSockets, which net/http's
	// Shutdown does not track once they are hijacked.
	_ = ln.Close()
	err := srv.Shutdown(shutdownCtx)
	if herr := hs.Shutdown(shutdownCtx); err == nil {
		err = herr
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && !errors.Is(serr, net.ErrClosed) && err == nil {
		err = serr
	}
	return err
}
