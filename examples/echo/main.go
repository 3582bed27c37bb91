// Command echo serves the todo app with Echo: the REST API under /api and
// hotstate at /ws, on one port.
//
//	go run ./examples/echo -addr :3000
//	curl -X POST localhost:3000/api/todos -d '{"text":"Buy milk"}'
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	hotecho "github.com/hotstate/hotstate/adapters/echo"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/examples/app"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// NewEcho returns the example's routes: the REST API and /ws.
func NewEcho(srv *hotstate.Server, a *app.App) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(middleware.Recover())
	e.GET("/api/health", func(c echo.Context) error { return c.JSON(app.Health()) })
	e.GET("/api/todos", func(c echo.Context) error { return c.JSON(a.ListTodos()) })
	e.POST("/api/todos", func(c echo.Context) error { return c.JSON(a.CreateTodo(c.Request().Body)) })
	e.GET("/ws", hotecho.Handler(srv))
	return e
}

func main() {
	addr := flag.String("addr", ":3000", "address to listen on")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*addr, logger); err != nil {
		logger.Error("todo server failed", "err", err)
		os.Exit(1)
	}
}

func run(addr string, logger *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := hotstate.New(hotstate.WithLogger(logger))
	a := app.New(srv)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	e := NewEcho(srv, a)
	e.Listener = ln
	errc := make(chan error, 1)
	go func() { errc <- e.Start("") }()
	logger.Info("todo server listening", "framework", "echo", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// hotstate first: Echo's Shutdown does not wait for WebSockets.
	err = errors.Join(srv.Shutdown(shutdownCtx), e.Shutdown(shutdownCtx))
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
