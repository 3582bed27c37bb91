// Command gin serves the todo app with Gin: the REST API under /api and
// hotstate at /ws, on one port.
//
//	go run ./examples/gin -addr :3000
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

	"github.com/gin-gonic/gin"
	hotgin "github.com/hotstate/hotstate/adapters/gin"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/examples/app"
)

// NewRouter returns the example's routes: the REST API and /ws.
func NewRouter(srv *hotstate.Server, a *app.App) *gin.Engine {
	r := gin.New()
	r.Use(gin.Recovery())
	r.GET("/api/health", func(c *gin.Context) { c.JSON(app.Health()) })
	r.GET("/api/todos", func(c *gin.Context) { c.JSON(a.ListTodos()) })
	r.POST("/api/todos", func(c *gin.Context) { c.JSON(a.CreateTodo(c.Request.Body)) })
	r.GET("/ws", hotgin.Handler(srv))
	return r
}

func main() {
	addr := flag.String("addr", ":3000", "address to listen on")
	flag.Parse()
	gin.SetMode(gin.ReleaseMode)
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
	hs := &http.Server{Handler: NewRouter(srv, a), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	logger.Info("todo server listening", "framework", "gin", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// hotstate first: net/http's Shutdown does not wait for WebSockets.
	err = errors.Join(srv.Shutdown(shutdownCtx), hs.Shutdown(shutdownCtx))
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
