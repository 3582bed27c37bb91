// Package inspectmount mounts the inspector next to a hotstate app on each
// router the README names, as an application would; its test opens the
// page and the page's WebSocket through every one of them.
package inspectmount

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	fiber3 "github.com/gofiber/fiber/v3"
	adaptor3 "github.com/gofiber/fiber/v3/middleware/adaptor"
	hotecho "github.com/hotstate/hotstate/adapters/echo"
	hotecho5 "github.com/hotstate/hotstate/adapters/echo/v5"
	hotfiber "github.com/hotstate/hotstate/adapters/fiber"
	hotfiber3 "github.com/hotstate/hotstate/adapters/fiber/v3"
	hotgin "github.com/hotstate/hotstate/adapters/gin"
	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotstate "github.com/hotstate/hotstate/core"
	hotinspect "github.com/hotstate/hotstate/inspector"
	"github.com/labstack/echo/v4"
	echo5 "github.com/labstack/echo/v5"
)

// inspector is the inspector's handler, mounted at /inspect/.
func inspector(insp *hotinspect.Inspector, srv *hotstate.Server) http.Handler {
	return http.StripPrefix("/inspect", insp.Handler(srv))
}

// NetHTTP serves the app's WebSocket at /ws and the inspector at /inspect/.
func NetHTTP(srv *hotstate.Server, insp *hotinspect.Inspector) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/ws", hothttp.Handler(srv))
	mux.Handle("/inspect/", inspector(insp, srv))
	return mux
}

// Gin is NetHTTP on Gin.
func Gin(srv *hotstate.Server, insp *hotinspect.Inspector) *gin.Engine {
	r := gin.New()
	r.GET("/ws", hotgin.Handler(srv))
	r.Any("/inspect/*path", gin.WrapH(inspector(insp, srv)))
	return r
}

// Echo is NetHTTP on Echo.
func Echo(srv *hotstate.Server, insp *hotinspect.Inspector) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/ws", hotecho.Handler(srv))
	e.Any("/inspect/*", echo.WrapHandler(inspector(insp, srv)))
	return e
}

// Fiber is NetHTTP on Fiber. Fiber's net/http adaptor serves the page, but
// not a WebSocket, so the page's WebSocket is the Fiber adapter's, whose
// identity hook asks the inspector.
func Fiber(srv *hotstate.Server, insp *hotinspect.Inspector) *fiber.App {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/ws", hotfiber.Handler(srv))
	app.Get("/inspect/ws", hotfiber.Handler(srv, hotfiber.WithIdentity(func(c *fiber.Ctx) (any, error) {
		r, err := adaptor.ConvertRequest(c, true)
		if err != nil {
			return nil, fiber.ErrBadRequest
		}
		if id, err := insp.Identity(r); err == nil {
			return id, nil
		}
		return nil, fiber.ErrForbidden
	})))
	app.All("/inspect/*", adaptor.HTTPHandler(inspector(insp, srv)))
	return app
}

// EchoV5 is Echo on Echo v5.
func EchoV5(srv *hotstate.Server, insp *hotinspect.Inspector) *echo5.Echo {
	e := echo5.New()
	e.GET("/ws", hotecho5.Handler(srv))
	e.Any("/inspect/*", echo5.WrapHandler(inspector(insp, srv)))
	return e
}

// FiberV3 is Fiber on Fiber v3.
func FiberV3(srv *hotstate.Server, insp *hotinspect.Inspector) *fiber3.App {
	app := fiber3.New()
	app.Get("/ws", hotfiber3.Handler(srv))
	app.Get("/inspect/ws", hotfiber3.Handler(srv, hotfiber3.WithIdentity(func(c fiber3.Ctx) (any, error) {
		r, err := adaptor3.ConvertRequest(c, true)
		if err != nil {
			return nil, fiber3.ErrBadRequest
		}
		if id, err := insp.Identity(r); err == nil {
			return id, nil
		}
		return nil, fiber3.ErrForbidden
	})))
	app.All("/inspect/*", adaptor3.HTTPHandler(inspector(insp, srv)))
	return app
}
