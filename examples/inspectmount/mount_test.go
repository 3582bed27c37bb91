package inspectmount_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	fiber3 "github.com/gofiber/fiber/v3"
	hotclient "github.com/hotstate/hotstate/client-go"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/examples/inspectmount"
	hotinspect "github.com/hotstate/hotstate/inspector"
	"go.uber.org/goleak"
)

// fasthttp refreshes its Date header from a goroutine it starts once and
// never stops.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"))
}

const wait = 10 * time.Second

// TestMountedOnEveryRouter: on each router the page is refused without
// the token and served with it, and the page's WebSocket gets the
// inspector's store while the app's own is refused it.
func TestMountedOnEveryRouter(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	for _, router := range []string{"net/http", "gin", "echo", "echov5", "fiber", "fiberv3"} {
		t.Run(strings.ReplaceAll(router, "/", ""), func(t *testing.T) {
			insp := hotinspect.New(hotinspect.Authorize(hotinspect.Token("t0k")))
			srv := hotstate.New(hotstate.WithObserver(insp.Observer()))
			hotstate.NewStore(srv, "Todos", struct{}{})
			base := serve(t, router, srv, insp)
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), wait)
				defer cancel()
				_ = srv.Shutdown(ctx)
				insp.Close()
			})
			if code, _ := get(t, base+"/inspect/"); code != http.StatusForbidden {
				t.Errorf("without the token: %d, want 403", code)
			}
			if code, body := get(t, base+"/inspect/?token=t0k"); code != http.StatusOK || !strings.Contains(body, "hotstate inspector") {
				t.Errorf("with the token: %d", code)
			}
			ws := "ws" + strings.TrimPrefix(base, "http")
			if err := subscribe(ws+"/inspect/ws?token=t0k", "$inspect"); err != nil {
				t.Errorf("the page's WebSocket: %v", err)
			}
			var re *hotclient.RemoteError
			if err := subscribe(ws+"/ws", "$inspect"); !errors.As(err, &re) || re.Code != "forbidden" {
				t.Errorf("the app's WebSocket: %v, want forbidden", err)
			}
		})
	}
}

// serve runs the router on a loopback port and returns its base URL.
func serve(t *testing.T, router string, srv *hotstate.Server, insp *hotinspect.Inspector) string {
	t.Helper()
	var h http.Handler
	switch router {
	case "net/http":
		h = inspectmount.NetHTTP(srv, insp)
	case "gin":
		h = inspectmount.Gin(srv, insp)
	case "echo":
		h = inspectmount.Echo(srv, insp)
	case "echov5":
		h = inspectmount.EchoV5(srv, insp)
	case "fiber":
		app := inspectmount.Fiber(srv, insp)
		app.Server().MaxIdleWorkerDuration = 100 * time.Millisecond
		return listen(t, app.Listener, app.ShutdownWithTimeout)
	case "fiberv3":
		app := inspectmount.FiberV3(srv, insp)
		app.Server().MaxIdleWorkerDuration = 100 * time.Millisecond
		return listen(t, func(ln net.Listener) error {
			return app.Listener(ln, fiber3.ListenConfig{DisableStartupMessage: true})
		}, app.ShutdownWithTimeout)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL
}

// listen runs a Fiber app on a loopback port until the test ends and
// returns its base URL.
func listen(t *testing.T, run func(net.Listener) error, shutdown func(time.Duration) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- run(ln) }()
	t.Cleanup(func() {
		if err := shutdown(5 * time.Second); err != nil {
			t.Error(err)
		}
		<-errc
	})
	return "http://" + ln.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// subscribe connects to url and subscribes to store.
func subscribe(url, store string) error {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := hotclient.Dial(ctx, url, hotclient.WithReconnect(false))
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Subscribe(store, nil).Ready(ctx)
}
