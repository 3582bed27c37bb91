// Command fiber serves the todo app with Fiber: the REST API under /api
// and hotstate at /ws, on one port.
//
//	go run ./examples/fiber -addr :3000
//	curl -X POST localhost:3000/api/todos -d '{"text":"Buy milk"}'
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	hotfiber "github.com/hotstate/hotstate/adapters/fiber"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/examples/app"
)

// NewApp returns the example's routes: the REST API and /ws.
func NewApp(srv *hotstate.Server, a *app.App) *fiber.App {
	f := fiber.New(fiber.Config{DisableStartupMessage: true})
	f.Use(recover.New())
	f.Get("/api/health", func(c *fiber.Ctx) error { return send(c)(app.Health()) })
	f.Get("/api/todos", func(c *fiber.Ctx) error { return send(c)(a.ListTodos()) })
	f.Post("/api/todos", func(c *fiber.Ctx) error { return send(c)(a.CreateTodo(bytes.NewReader(c.Body()))) })
	f.Get("/ws", hotfiber.Handler(srv))
	return f
}

// send answers with a status and a JSON body.
func send(c *fiber.Ctx) func(status int, body any) error {
	return func(status int, body any) error { return c.Status(status).JSON(body) }
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
	f := NewApp(srv, a)
	errc := make(chan error, 1)
	go func() { errc <- f.Listener(ln) }()
	logger.Info("todo server listening", "framework", "fiber", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// hotstate first: Fiber does not track upgraded connections.
	err = errors.Join(srv.Shutdown(shutdownCtx), f.ShutdownWithContext(shutdownCtx))
	return errors.Join(err, <-errc)
}
