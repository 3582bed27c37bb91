// Command echo serves the todo app with Echo: the REST API under /api and
// hotstate at /ws, on one port.
//
//	go run ./examples/echo -addr :3000
//	curl -X POST localhost:3000/api/todos -d '{"text":"Buy milk"}'
package main

import (
	"net"

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
	app.Main("echo", func(srv *hotstate.Server, a *app.App) app.Server { return echoServer{NewEcho(srv, a)} })
}

// echoServer serves an Echo instance on a listener.
type echoServer struct{ *echo.Echo }

func (e echoServer) Serve(ln net.Listener) error {
	e.Listener = ln
	return e.Start("")
}
