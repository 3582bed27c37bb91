package hotfiber_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/coder/websocket"
	"github.com/gofiber/fiber/v3"
	"github.com/gofiber/utils/v2"
	hotfiber "github.com/hotstate/hotstate/adapters/fiber/v3"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// A Fiber app serves hotstate at /ws next to its REST routes. The app's
// authentication middleware runs before the upgrade, and WithIdentity
// hands the user it stored in the locals to hotstate's handlers.
func Example() {
	srv := hotstate.New()
	hotstate.Handle(srv, "greet", func(ctx context.Context, _ struct{}) (string, error) {
		caller, _ := hotstate.CallerFrom(ctx)
		return fmt.Sprintf("hello, %v", caller.Identity), nil
	})

	app := fiber.New()
	app.Use(func(c fiber.Ctx) error {
		user, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
		if !ok {
			return fiber.ErrUnauthorized
		}
		c.Locals("user", utils.CopyString(user)) // it outlives the request
		return c.Next()
	})
	app.Get("/api/health", func(c fiber.Ctx) error { return c.JSON(fiber.Map{"ok": true}) })
	app.Get("/ws", hotfiber.Handler(srv, hotfiber.WithIdentity(func(c fiber.Ctx) (any, error) {
		return c.Locals("user"), nil
	})))

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go app.Listener(ln, fiber.ListenConfig{DisableStartupMessage: true}) // in production: app.Listen(":3000")
	defer app.Shutdown()
	defer srv.Shutdown(context.Background()) // first: Fiber does not wait for WebSockets

	// A client calls greet over the WebSocket.
	ctx := context.Background()
	ws, _, err := websocket.Dial(ctx, "ws://"+ln.Addr().String()+"/ws", &websocket.DialOptions{
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
