// Command echov5 serves the todo app with Echo v5: the REST API under /api
// and hotstate at /ws, on one port.
//
//	go run ./examples/echov5 -addr :3000
//	curl -X POST localhost:3000/api/todos -d '{"text":"Buy milk"}'
package main

import (
	hotecho "github.com/hotstate/hotstate/adapters/echo/v5"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/examples/app"
	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"
)

// NewEcho returns the example's routes: the REST API and /ws.
func NewEcho(srv *hotstate.Server, a *app.App) *echo.Echo {
	e := echo.New()
	e.Use(middleware.Recover())
	e.GET("/api/health", func(c *echo.Context) error { return c.JSON(app.Health()) })
	e.GET("/api/todos", func(c *echo.Context) error { return c.JSON(a.ListTodos()) })
	e.POST("/api/todos", func(c *echo.Context) error { return c.JSON(a.CreateTodo(c.Request().Body)) })
	e.GET("/ws", hotecho.Handler(srv))
	return e
}

func main() {
	// Echo v5 is an http.Handler with no server of its own to manage.
	app.Main("echo/v5", func(srv *hotstate.Server, a *app.App) app.Server {
		return app.HTTPServer(NewEcho(srv, a))
	})
}
