package hotecho_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	hotecho "github.com/hotstate/hotstate/adapters/echo"
	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/hotstatetest"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	return e
}

// serve starts e on a loopback server and returns its ws:// base URL.
func serve(t *testing.T, srv *hotstate.Server, e *echo.Echo) string {
	hs := httptest.NewServer(e)
	t.Cleanup(func() {
		hotstatetest.Shutdown(t, srv)
		hs.Close()
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http")
}

// TestConformance runs the suite on both of hothttp's paths: connections
// read by events (the default on Linux) and by a goroutine each.
func TestConformance(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprintf("events=%v", on), func(t *testing.T) {
			hotstatetest.Run(t, func(t *testing.T, srv *hotstate.Server, opts hotstatetest.Options) string {
				e := newEcho()
				e.Use(middleware.Recover())
				hopts := []hotecho.Option{hotecho.WithOriginPatterns(opts.OriginPatterns...), hothttp.WithEventLoop(on)}
				if opts.Identity != nil {
					hopts = append(hopts, hotecho.WithIdentity(func(c echo.Context) (any, error) {
						return opts.Identity(c.Request().Header)
					}))
				}
				e.GET("/ws", hotecho.Handler(srv, hopts...))
				return serve(t, srv, e) + "/ws"
			})
		})
	}
}

// auth is an application's authentication middleware: it stores the user
// in the echo.Context or refuses the request.
func auth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		user, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
		if !ok {
			return echo.ErrUnauthorized
		}
		c.Set("user", user)
		return next(c)
	}
}

func userFromContext(c echo.Context) (any, error) {
	switch user, _ := c.Get("user").(string); user {
	case "mallory":
		return nil, echo.NewHTTPError(http.StatusForbidden, "banned")
	case "panic":
		panic("secret detail")
	default:
		return user, nil
	}
}

func TestIdentityFromMiddleware(t *testing.T) {
	srv := hotstate.New()
	srv.HandleFunc("me", func(ctx context.Context, _ any) (any, error) {
		c, _ := hotstate.CallerFrom(ctx)
		return c.Identity, nil
	})
	logged := make(chan error, 1)
	e := newEcho()
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			if err != nil && c.Response().Committed {
				logged <- err
			}
			return err
		}
	}, auth)
	e.GET("/ws", hotecho.Handler(srv, hotecho.WithIdentity(userFromContext)))
	u := serve(t, srv, e) + "/ws"

	p := hotstatetest.Dial(t, u, http.Header{"Authorization": {"Bearer ada"}})
	if got := hotstatetest.Decode(t, p.Call(1, "me", nil).Value); got != "ada" {
		t.Fatalf("identity %v, want ada", got)
	}
	for _, c := range []struct {
		auth   string
		status int
		body   string
	}{
		{"", http.StatusUnauthorized, ""},                  // refused by the middleware
		{"Bearer mallory", http.StatusForbidden, "banned"}, // by the hook
		{"Bearer panic", http.StatusInternalServerError, "Internal Server Error"},
	} {
		_, resp, err := websocket.Dial(context.Background(), u, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {c.auth}}})
		if err == nil || resp == nil || resp.StatusCode != c.status {
			t.Fatalf("%q: response %v, want %d", c.auth, resp, c.status)
		}
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), c.body) || strings.Contains(string(body), "secret") {
			t.Fatalf("%q: body %q, want %q", c.auth, body, c.body)
		}
	}
	var pe *hotecho.PanicError
	if err := <-logged; !errors.As(err, &pe) || pe.Value != "secret detail" {
		t.Fatalf("Echo got %v, want the PanicError", err)
	}
	http.DefaultClient.CloseIdleConnections()
}

// TestTLS serves over TLS with HTTP/2 offered as well, as Echo's StartTLS does:
// the WebSocket upgrade still happens over HTTP/1.1, and snapshots, patches
// and calls then travel through the TLS connection.
func TestTLS(t *testing.T) {
	srv := hotstatetest.TLSServer()
	h := newEcho()
	h.GET("/ws", hotecho.Handler(srv))
	hs := httptest.NewUnstartedServer(h)
	hs.EnableHTTP2 = true
	hs.TLS = &tls.Config{NextProtos: []string{"h2", "http/1.1"}}
	hs.StartTLS()
	t.Cleanup(func() {
		hotstatetest.Shutdown(t, srv)
		hs.Close()
	})
	hotstatetest.CheckTLS(t, "wss"+strings.TrimPrefix(hs.URL, "https")+"/ws", hs.Client())
}

// TestHandlerReturnsAfterUpgrade: the echo handler returns once the
// request is upgraded, so the middleware around it finishes (a logger sees
// 101) and Echo recycles its context while the connection goes on.
func TestHandlerReturnsAfterUpgrade(t *testing.T) {
	srv := hotstate.New()
	srv.HandleFunc("echo", func(ctx context.Context, args any) (any, error) { return args, nil })
	status := make(chan int, 1)
	e := newEcho()
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			status <- c.Response().Status
			return err
		}
	})
	e.GET("/ws", hotecho.Handler(srv))
	p := hotstatetest.Dial(t, serve(t, srv, e)+"/ws", nil)
	select {
	case got := <-status:
		if got != http.StatusSwitchingProtocols {
			t.Fatalf("middleware saw status %d, want 101", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the handler has not returned after the upgrade")
	}
	if got := hotstatetest.Decode(t, p.Call(1, "echo", "still here").Value); got != "still here" {
		t.Fatalf("echo after the handler returned: %v", got)
	}
}
