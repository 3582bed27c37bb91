package hotgin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/coder/websocket"
	"github.com/gin-gonic/gin"
	hotgin "github.com/hotstate/hotstate/adapters/gin"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// A Gin router serves hotstate at /ws next to its REST routes. The
// application's authentication middleware runs before the upgrade, and
// WithIdentity hands the user it stored to hotstate's handlers.
func Example() {
	srv := hotstate.New()
	hotstate.Handle(srv, "greet", func(ctx context.Context, _ struct{}) (string, error) {
		caller, _ := hotstate.CallerFrom(ctx)
		return fmt.Sprintf("hello, %v", caller.Identity), nil
	})

	r := gin.New()
	r.Use(gin.Recovery(), func(c *gin.Context) {
		user, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok {
			c.AbortWithStatus(http.StatusUnauthorized)
			return
		}
		c.Set("user", user)
	})
	r.GET("/api/health", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"ok": true}) })
	r.GET("/ws", hotgin.Handler(srv, hotgin.WithIdentity(func(c *gin.Context) (any, error) {
		return c.GetString("user"), nil
	})))

	hs := httptest.NewServer(r) // in production: r.Run(":3000")
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
