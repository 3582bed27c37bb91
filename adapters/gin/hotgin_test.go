package hotgin_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gin-gonic/gin"
	hotgin "github.com/hotstate/hotstate/adapters/gin"
	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/hotstatetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	goleak.VerifyTestMain(m)
}

// serve starts r on a loopback server and returns its ws:// base URL.
func serve(t *testing.T, srv *hotstate.Server, r http.Handler) string {
	hs := httptest.NewServer(r)
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
				r := gin.New()
				r.Use(gin.Recovery())
				hopts := []hotgin.Option{hotgin.WithOriginPatterns(opts.OriginPatterns...), hothttp.WithEventLoop(on)}
				if opts.Identity != nil {
					hopts = append(hopts, hotgin.WithIdentity(func(c *gin.Context) (any, error) {
						return opts.Identity(c.Request.Header)
					}))
				}
				r.GET("/ws", hotgin.Handler(srv, hopts...))
				return serve(t, srv, r) + "/ws"
			})
		})
	}
}

// auth is an application's authentication middleware: it stores the user
// in the gin.Context or refuses the request.
func auth(c *gin.Context) {
	user, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !ok {
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "sign in"})
		return
	}
	c.Set("user", user)
	c.Next()
}

func userFromContext(c *gin.Context) (any, error) {
	switch user := c.GetString("user"); user {
	case "mallory":
		return nil, &hotgin.StatusError{Status: http.StatusForbidden, Message: "banned"}
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
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Next()
		if err := c.Errors.Last(); err != nil {
			logged <- err.Err
		}
	}, auth)
	r.GET("/ws", hotgin.Handler(srv, hotgin.WithIdentity(userFromContext)))
	u := serve(t, srv, r) + "/ws"

	p := hotstatetest.Dial(t, u, http.Header{"Authorization": {"Bearer ada"}})
	if got := hotstatetest.Decode(t, p.Call(1, "me", nil).Value); got != "ada" {
		t.Fatalf("identity %v, want ada", got)
	}
	for _, c := range []struct {
		auth   string
		status int
	}{
		{"", http.StatusUnauthorized},            // refused by the middleware
		{"Bearer mallory", http.StatusForbidden}, // by the hook
		{"Bearer panic", http.StatusInternalServerError},
	} {
		_, resp, err := websocket.Dial(context.Background(), u, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {c.auth}}})
		if err == nil || resp == nil || resp.StatusCode != c.status {
			t.Fatalf("%q: response %v, want %d", c.auth, resp, c.status)
		}
	}
	var pe *hotgin.PanicError
	if err := <-logged; !errors.As(err, &pe) || pe.Value != "secret detail" {
		t.Fatalf("c.Errors got %v, want the PanicError", err)
	}
	http.DefaultClient.CloseIdleConnections()
}

// TestTLS serves over TLS with HTTP/2 offered as well, as gin's RunTLS does through net/http:
// the WebSocket upgrade still happens over HTTP/1.1, and snapshots, patches
// and calls then travel through the TLS connection.
func TestTLS(t *testing.T) {
	srv := hotstatetest.TLSServer()
	h := gin.New()
	h.GET("/ws", hotgin.Handler(srv))
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

// TestHandlerReturnsAfterUpgrade: the gin handler returns once the request
// is upgraded, so the middleware around it finishes (a logger sees 101)
// and gin recycles its context while the connection goes on.
func TestHandlerReturnsAfterUpgrade(t *testing.T) {
	srv := hotstate.New()
	srv.HandleFunc("echo", func(ctx context.Context, args any) (any, error) { return args, nil })
	status := make(chan int, 1)
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Next()
		status <- c.Writer.Status()
	})
	r.GET("/ws", hotgin.Handler(srv))
	p := hotstatetest.Dial(t, serve(t, srv, r)+"/ws", nil)
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
