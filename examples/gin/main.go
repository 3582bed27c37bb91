// Command gin serves the todo app with Gin: the REST API under /api and
// hotstate at /ws, on one port.
//
//	go run ./examples/gin -addr :3000
//	curl -X POST localhost:3000/api/todos -d '{"text":"Buy milk"}'
package main

import (
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
	gin.SetMode(gin.ReleaseMode)
	app.Main("gin", func(srv *hotstate.Server, a *app.App) app.Server {
		return app.HTTPServer(NewRouter(srv, a))
	})
}
