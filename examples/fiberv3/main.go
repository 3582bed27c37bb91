// Command fiberv3 serves the todo app with Fiber v3: the REST API under
// /api and hotstate at /ws, on one port.
//
//	go run ./examples/fiberv3 -addr :3000
//	curl -X POST localhost:3000/api/todos -d '{"text":"Buy milk"}'
package main

import (
	"bytes"
	"context"
	"net"

	"github.com/gofiber/fiber/v3"
	"github.com/gofiber/fiber/v3/middleware/recover"
	hotfiber "github.com/hotstate/hotstate/adapters/fiber/v3"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/examples/app"
)

// NewApp returns the example's routes: the REST API and /ws.
func NewApp(srv *hotstate.Server, a *app.App) *fiber.App {
	f := fiber.New()
	f.Use(recover.New())
	f.Get("/api/health", func(c fiber.Ctx) error { return send(c)(app.Health()) })
	f.Get("/api/todos", func(c fiber.Ctx) error { return send(c)(a.ListTodos()) })
	f.Post("/api/todos", func(c fiber.Ctx) error { return send(c)(a.CreateTodo(bytes.NewReader(c.Body()))) })
	f.Get("/ws", hotfiber.Handler(srv))
	return f
}

// send answers with a status and a JSON body.
func send(c fiber.Ctx) func(status int, body any) error {
	return func(status int, body any) error { return c.Status(status).JSON(body) }
}

func main() {
	app.Main("fiber/v3", func(srv *hotstate.Server, a *app.App) app.Server { return fiberServer{NewApp(srv, a)} })
}

// fiberServer serves a Fiber app on a listener.
type fiberServer struct{ *fiber.App }

func (f fiberServer) Serve(ln net.Listener) error {
	return f.Listener(ln, fiber.ListenConfig{DisableStartupMessage: true})
}

func (f fiberServer) Shutdown(ctx context.Context) error { return f.ShutdownWithContext(ctx) }
