package hotfiber_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gofiber/fiber/v3"
	"github.com/gofiber/fiber/v3/log"
	"github.com/gofiber/utils/v2"
	hotfiber "github.com/hotstate/hotstate/adapters/fiber/v3"
	"github.com/hotstate/hotstate/adapters/internal/fastws/fastwstest"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/hotstatetest"
	"github.com/hotstate/hotstate/core/wire"
)

func TestMain(m *testing.M) {
	log.SetOutput(&fiberLog)
	fastwstest.Main(m)
}

// fiberLog collects what Fiber's logger writes: the adapter reports
// recovered panics there.
var fiberLog fastwstest.Log

func newApp() *fiber.App {
	app := fiber.New()
	// fasthttp's worker pool cleaner wakes every MaxIdleWorkerDuration (10 s
	// by default) and only then sees that the server stopped; keep that
	// wait within what the leak check waits for.
	app.Server().MaxIdleWorkerDuration = 100 * time.Millisecond
	return app
}

// quiet keeps Fiber's startup banner out of the test output.
var quiet = fiber.ListenConfig{DisableStartupMessage: true}

// serve runs app on a loopback listener and returns its ws:// base URL.
func serve(t *testing.T, srv *hotstate.Server, app *fiber.App) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen(t, srv, app, ln)
	return "ws://" + ln.Addr().String()
}

// listen runs app on ln; the test's cleanup shuts srv down, then app.
func listen(t testing.TB, srv *hotstate.Server, app *fiber.App, ln net.Listener) {
	errc := make(chan error, 1)
	go func() { errc <- app.Listener(ln, quiet) }()
	t.Cleanup(func() {
		hotstatetest.Shutdown(t, srv)
		if err := app.ShutdownWithTimeout(5 * time.Second); err != nil {
			t.Errorf("app shutdown: %v", err)
		}
		if err := <-errc; err != nil {
			t.Errorf("listener: %v", err)
		}
	})
}

// TestConformance runs the suite on both paths: connections read by
// events (epoll, the default on Linux) and by a goroutine each.
func TestConformance(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprintf("events=%v", on), func(t *testing.T) { conformance(t, on) })
	}
}

func conformance(t *testing.T, events bool) {
	hotstatetest.Run(t, func(t *testing.T, srv *hotstate.Server, opts hotstatetest.Options) string {
		app := newApp()
		hopts := []hotfiber.Option{hotfiber.WithOriginPatterns(opts.OriginPatterns...), hotfiber.WithEventLoop(events)}
		if opts.Identity != nil {
			hopts = append(hopts, hotfiber.WithIdentity(func(c fiber.Ctx) (any, error) {
				h := http.Header{}
				for k, v := range c.Request().Header.All() {
					h.Add(string(k), string(v))
				}
				return opts.Identity(h)
			}))
		}
		app.Get("/ws", hotfiber.Handler(srv, hopts...))
		return serve(t, srv, app) + "/ws"
	}, hotstatetest.IgnoreGoroutines(fastwstest.DateUpdater()))
}

// auth is an application's authentication middleware: it stores the user
// in the request's locals or refuses the request.
func auth(c fiber.Ctx) error {
	user, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if !ok {
		return fiber.ErrUnauthorized
	}
	c.Locals("user", utils.CopyString(user))
	return c.Next()
}

func userFromLocals(c fiber.Ctx) (any, error) {
	switch user, _ := c.Locals("user").(string); user {
	case "mallory":
		return nil, fiber.NewError(fiber.StatusForbidden, "banned")
	case "panic":
		panic("secret detail")
	default:
		return user, nil
	}
}

func TestIdentityFromLocals(t *testing.T) {
	srv := hotstate.New()
	srv.HandleFunc("me", func(ctx context.Context, _ any) (any, error) {
		c, _ := hotstate.CallerFrom(ctx)
		return c.Identity, nil
	})
	app := newApp()
	app.Use(auth)
	app.Get("/ws", hotfiber.Handler(srv, hotfiber.WithIdentity(userFromLocals)))
	u := serve(t, srv, app) + "/ws"

	p := hotstatetest.Dial(t, u, http.Header{"Authorization": {"Bearer ada"}})
	if got := hotstatetest.Decode(t, p.Call(1, "me", nil).Value); got != "ada" {
		t.Fatalf("identity %v, want ada", got)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	for _, c := range []struct {
		auth   string
		status int
		body   string
	}{
		{"", http.StatusUnauthorized, "Unauthorized"}, // refused by the middleware
		{"Bearer mallory", http.StatusForbidden, "banned"},
		{"Bearer panic", http.StatusInternalServerError, "Internal Server Error"},
	} {
		_, resp, err := websocket.Dial(context.Background(), u, &websocket.DialOptions{
			HTTPClient: &http.Client{Transport: tr},
			HTTPHeader: http.Header{"Authorization": {c.auth}},
		})
		if err == nil || resp == nil || resp.StatusCode != c.status {
			t.Fatalf("%q: response %v, want %d", c.auth, resp, c.status)
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != c.body {
			t.Fatalf("%q: body %q, want %q", c.auth, body, c.body)
		}
	}
	if !strings.Contains(fiberLog.String(), "identity hook panicked: secret detail") {
		t.Fatalf("the panic was not logged: %q", fiberLog.String())
	}
}

func TestPlainRequestGets426(t *testing.T) {
	srv := hotstate.New()
	app := newApp()
	app.Get("/ws", hotfiber.Handler(srv))
	resp, err := app.Test(httptestRequest("/ws"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != fiber.StatusUpgradeRequired {
		t.Fatalf("status %d, want 426", resp.StatusCode)
	}
}

func httptestRequest(path string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, path, nil)
	return r
}

// TestAppShutdownClosesClients checks the other order: the app shuts down
// first, and its WebSocket clients still hear 1001.
func TestAppShutdownClosesClients(t *testing.T) {
	srv := hotstate.New()
	app := newApp()
	app.Get("/ws", hotfiber.Handler(srv))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- app.Listener(ln, quiet) }()
	p := hotstatetest.Dial(t, "ws://"+ln.Addr().String()+"/ws", nil)
	p.Send(wire.EncodeSub("Nothing"))
	p.Expect(wire.TypeErr)
	if err := app.ShutdownWithTimeout(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if code := p.CloseCode(); code != websocket.StatusGoingAway {
		t.Fatalf("close code %d, want 1001", code)
	}
	hotstatetest.Shutdown(t, srv)
}

// TestTLS serves over a TLS listener, which fasthttp serves with HTTP/1.1
// only (it has no HTTP/2): snapshots, patches and calls travel through the
// TLS connection fastws writes to.
func TestTLS(t *testing.T) {
	srv := hotstatetest.TLSServer()
	app := newApp()
	app.Get("/ws", hotfiber.Handler(srv))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg, roots := fastwstest.SelfSigned(t)
	listen(t, srv, app, tls.NewListener(ln, cfg))
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	defer tr.CloseIdleConnections()
	hotstatetest.CheckTLS(t, "wss://"+ln.Addr().String()+"/ws", &http.Client{Transport: tr})
}

// TestWithHeaders: a connection keeps the request headers named with
// WithHeaders and no others, cookies included; without the option it
// keeps none.
func TestWithHeaders(t *testing.T) {
	header := http.Header{
		"X-Tenant":      {"acme"},
		"Cookie":        {"session=secret"},
		"Authorization": {"Bearer secret"},
	}
	for _, tc := range []struct {
		opts []hotfiber.Option
		want string
	}{
		{nil, "map[]"},
		{[]hotfiber.Option{hotfiber.WithHeaders("x-tenant", "X-Absent")}, "map[X-Tenant:[acme]]"},
		{[]hotfiber.Option{hotfiber.WithHeaders("cookie")}, "map[Cookie:[session=secret]]"},
	} {
		srv := hotstate.New()
		srv.HandleFunc("header", func(ctx context.Context, args any) (any, error) {
			c, _ := hotstate.CallerFrom(ctx)
			return fmt.Sprint(c.Header), nil
		})
		app := newApp()
		app.Get("/ws", hotfiber.Handler(srv, tc.opts...))
		p := hotstatetest.Dial(t, serve(t, srv, app)+"/ws", header)
		if got := hotstatetest.Decode(t, p.Call(1, "header", nil).Value); got != tc.want {
			t.Errorf("%d options: Caller.Header = %v, want %s", len(tc.opts), got, tc.want)
		}
	}
}
