package suite

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	fiber2 "github.com/gofiber/fiber/v2"
	fiber3 "github.com/gofiber/fiber/v3"
	hotecho4 "github.com/hotstate/hotstate/adapters/echo"
	hotecho5 "github.com/hotstate/hotstate/adapters/echo/v5"
	hotfiber2 "github.com/hotstate/hotstate/adapters/fiber"
	hotfiber3 "github.com/hotstate/hotstate/adapters/fiber/v3"
	hotgin "github.com/hotstate/hotstate/adapters/gin"
	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotstate "github.com/hotstate/hotstate/core"
	echo4 "github.com/labstack/echo/v4"
	echo5 "github.com/labstack/echo/v5"
)

// The transports that can serve the hotstate system, named as the
// examples are (examples/nethttp, examples/echov5, ...).
const (
	NetHTTP = "nethttp"
	// NetHTTPGoroutines is hothttp with WithEventLoop(false): a reading
	// goroutine per connection, as on platforms without the event path.
	NetHTTPGoroutines = "nethttp-goroutines"
	Gin               = "gin"
	Echo              = "echo"
	EchoV5            = "echov5"
	Fiber             = "fiber"
	FiberV3           = "fiberv3"
)

// Transports lists every transport -transport accepts; the first is the
// default.
var Transports = []string{NetHTTP, NetHTTPGoroutines, Gin, Echo, EchoV5, Fiber, FiberV3}

// webServer is a framework's server: it serves on a listener until
// shutdown, as an application runs it.
type webServer interface {
	serve(ln net.Listener) error
	shutdown(ctx context.Context) error
}

// newWebServer mounts srv's handler at "/", where the load generator
// dials, on the named transport with the framework's defaults.
func newWebServer(transport string, srv *hotstate.Server) (webServer, error) {
	switch transport {
	case Gin:
		// Debug mode prints every route to standard output, which carries
		// the serve child's "ready" line.
		gin.SetMode(gin.ReleaseMode)
		r := gin.New()
		r.GET("/", hotgin.Handler(srv))
		return newHTTPServer(r), nil
	case Echo:
		e := echo4.New()
		e.GET("/", hotecho4.Handler(srv))
		return newHTTPServer(e), nil
	case EchoV5:
		e := echo5.New()
		e.GET("/", hotecho5.Handler(srv))
		return newHTTPServer(e), nil
	case Fiber:
		app := fiber2.New(fiber2.Config{DisableStartupMessage: true})
		app.Get("/", hotfiber2.Handler(srv))
		return fiberServer{
			serveFn:    app.Listener,
			shutdownFn: app.ShutdownWithContext,
		}, nil
	case FiberV3:
		app := fiber3.New()
		app.Get("/", hotfiber3.Handler(srv))
		return fiberServer{
			serveFn: func(ln net.Listener) error {
				return app.Listener(ln, fiber3.ListenConfig{DisableStartupMessage: true})
			},
			shutdownFn: app.ShutdownWithContext,
		}, nil
	}
	return nil, fmt.Errorf("suite: unknown transport %q (transports are %v)", transport, Transports)
}

// httpServer serves the frameworks built on net/http with the server
// hothttp.ServeListener uses, so only the framework's handler differs.
type httpServer struct{ hs *http.Server }

func newHTTPServer(h http.Handler) httpServer {
	return httpServer{&http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
}

func (s httpServer) serve(ln net.Listener) error { return s.hs.Serve(ln) }

func (s httpServer) shutdown(ctx context.Context) error { return s.hs.Shutdown(ctx) }

// fiberServer holds the methods of a Fiber v2 or v3 app, whose types
// differ.
type fiberServer struct {
	serveFn    func(ln net.Listener) error
	shutdownFn func(ctx context.Context) error
}

func (s fiberServer) serve(ln net.Listener) error { return s.serveFn(ln) }

func (s fiberServer) shutdown(ctx context.Context) error { return s.shutdownFn(ctx) }

// serveHot serves srv on ln with transport until ctx ends, then closes
// every connection and returns.
func serveHot(ctx context.Context, transport string, srv *hotstate.Server, ln net.Listener) error {
	switch transport {
	case NetHTTP:
		return hothttp.ServeListener(ctx, srv, ln)
	case NetHTTPGoroutines:
		return hothttp.ServeListener(ctx, srv, ln, hothttp.WithEventLoop(false))
	}
	web, err := newWebServer(transport, srv)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- web.serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// hotstate first: no framework tracks the connections it upgraded.
	err = errors.Join(srv.Shutdown(shutdownCtx), web.shutdown(shutdownCtx))
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
