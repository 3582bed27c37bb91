// Package consumer uses hotstate the way an application outside its
// repository does, through the module proxy: one server, mounted at /ws by
// each adapter in turn. scripts/consumer-check.sh copies it into a module
// of its own in a temporary directory and tests it there.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"
	fiberv2 "github.com/gofiber/fiber/v2"
	fiberv3 "github.com/gofiber/fiber/v3"
	hotechov4 "github.com/hotstate/hotstate/adapters/echo"
	hotechov5 "github.com/hotstate/hotstate/adapters/echo/v5"
	hotfiberv2 "github.com/hotstate/hotstate/adapters/fiber"
	hotfiberv3 "github.com/hotstate/hotstate/adapters/fiber/v3"
	hotgin "github.com/hotstate/hotstate/adapters/gin"
	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotstate "github.com/hotstate/hotstate/core"
	echov4 "github.com/labstack/echo/v4"
	echov5 "github.com/labstack/echo/v5"
)

// Counter is the state of the store "Counter".
type Counter struct {
	N int `json:"n"`
}

// NewServer returns a hotstate server with the store "Counter".
func NewServer() (*hotstate.Server, *hotstate.Store[Counter]) {
	srv := hotstate.New()
	return srv, hotstate.NewStore(srv, "Counter", Counter{})
}

// Frameworks are the names Serve knows.
func Frameworks() []string {
	return []string{"net/http", "gin", "echo/v4", "echo/v5", "fiber/v2", "fiber/v3"}
}

// Serve serves srv at /ws on ln with framework, until stop, which shuts
// srv down first (no framework waits for upgraded connections) and then
// the framework's server.
func Serve(framework string, srv *hotstate.Server, ln net.Listener) (stop func(), err error) {
	var serve func() error
	var shutdown func() error
	switch framework {
	case "net/http", "gin", "echo/v4", "echo/v5":
		var h http.Handler
		switch framework {
		case "net/http":
			mux := http.NewServeMux()
			mux.Handle("/ws", hothttp.Handler(srv))
			h = mux
		case "gin":
			r := gin.New()
			r.GET("/ws", hotgin.Handler(srv))
			h = r
		case "echo/v4":
			e := echov4.New()
			e.GET("/ws", hotechov4.Handler(srv))
			h = e
		case "echo/v5":
			e := echov5.New()
			e.GET("/ws", hotechov5.Handler(srv))
			h = e
		}
		hs := &http.Server{Handler: h}
		serve = func() error { return hs.Serve(ln) }
		shutdown = hs.Close
	case "fiber/v2":
		app := fiberv2.New(fiberv2.Config{DisableStartupMessage: true})
		app.Get("/ws", hotfiberv2.Handler(srv))
		serve = func() error { return app.Listener(ln) }
		shutdown = app.Shutdown
	case "fiber/v3":
		app := fiberv3.New()
		app.Get("/ws", hotfiberv3.Handler(srv))
		serve = func() error { return app.Listener(ln, fiberv3.ListenConfig{DisableStartupMessage: true}) }
		shutdown = app.Shutdown
	default:
		return nil, fmt.Errorf("no framework %q", framework)
	}
	done := make(chan error, 1)
	go func() { done <- serve() }()
	return func() {
		_ = srv.Shutdown(context.Background())
		_ = shutdown()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			panic(err)
		}
	}, nil
}
