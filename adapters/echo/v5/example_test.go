package hotecho_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/coder/websocket"
	hotecho "github.com/hotstate/hotstate/adapters/echo/v5"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"
)

// An Echo router serves hotstate at /ws next to its REST routes. The
// application's authentication middleware runs before the upgrade, and
// WithIdentity hands the user it stored to hotstate's handlers.
func Example() {
	srv := hotstate.New()
	hotstate.Handle(srv, "greet", func(ctx context.Context, _ struct{}) (string, error) {
		caller, _ := hotstate.CallerFrom(ctx)
		return fmt.Sprintf("hello, %v", caller.Identity), nil
	})

	e := echo.New()
	e.Use(middleware.Recover(), func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			user, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
			if !ok {
				return echo.ErrUnauthorized
			}
			c.Set("user", user)
			return next(c)
		}
	})
	e.GET("/api/health", func(c *echo.Context) error { return c.JSON(http.StatusOK, map[string]bool{"ok": true}) })
	e.GET("/ws", hotecho.Handler(srv, hotecho.WithIdentity(func(c *echo.Context) (any, error) {
		return c.Get("user"), nil
	})))

	hs := httptest.NewServer(e) // in production: e.Start(":3000")
	defer hs.Close()
	defer srv.Shutdown(context.Background())

	// A client calls greet over the WebSocket.
	ctx := context.Background()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http")+"/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer ada"}},
	})
	if err != nil {
		panic(err)
	}
	defer ws.CloseNow()
	call, _ := wire.EncodeRPC(1, "greet", nil)
	_ = ws.Write(ctx, websocket.MessageBinary, call)
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			panic(err)
		}
		if f, _ := wire.Decode(b); f.Type == wire.TypeRes {
			var greeting string
			_ = wire.DecodeValue(f.Value, &greeting)
			fmt.Println(greeting)
			return
		}
	}
	// Output: hello, ada
}
