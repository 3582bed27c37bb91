package hothttp_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/hotstatetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// mount serves srv with Handler on a loopback httptest server.
func mount(t *testing.T, srv *hotstate.Server, opts hotstatetest.Options) string {
	return mountWith(t, srv, opts)
}

// mountWith is mount with hothttp options of the test's own.
func mountWith(t *testing.T, srv *hotstate.Server, opts hotstatetest.Options, extra ...hothttp.Option) string {
	hopts := extra
	if len(opts.OriginPatterns) > 0 {
		hopts = append(hopts, hothttp.WithOriginPatterns(opts.OriginPatterns...))
	}
	if opts.Identity != nil {
		hopts = append(hopts, hothttp.WithIdentity(func(r *http.Request) (any, error) {
			return opts.Identity(r.Header)
		}))
	}
	hs := httptest.NewUnstartedServer(hothttp.Handler(srv, hopts...))
	// A panicking identity hook is recovered by net/http, which logs the
	// value; keep the suite's deliberate panics out of the test output.
	hs.Config.ErrorLog = log.New(io.Discard, "", 0)
	hs.Start()
	t.Cleanup(func() {
		hotstatetest.Shutdown(t, srv)
		hs.Close()
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http")
}

// TestConformance runs the suite on both paths: connections read by
// events (epoll, the default on Linux) and by a goroutine each.
func TestConformance(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprintf("events=%v", on), func(t *testing.T) {
			hotstatetest.Run(t, func(t *testing.T, srv *hotstate.Server, opts hotstatetest.Options) string {
				return mountWith(t, srv, opts, hothttp.WithEventLoop(on))
			})
		})
	}
}

func TestIdentityStatusError(t *testing.T) {
	srv := hotstate.New()
	hs := httptest.NewServer(hothttp.Handler(srv, hothttp.WithIdentity(func(r *http.Request) (any, error) {
		return nil, &hothttp.StatusError{Status: http.StatusForbidden, Message: "banned"}
	})))
	defer hs.Close()
	resp, err := http.Get(hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusForbidden || strings.TrimSpace(string(body)) != "banned" {
		t.Fatalf("got %d %q, want 403 banned", resp.StatusCode, body)
	}
}

func TestServeListener(t *testing.T) {
	srv := hotstate.New()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- hothttp.ServeListener(ctx, srv, ln, hothttp.WithPath("/ws"),
			hothttp.WithFallback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "page") })))
	}()
	base := "http://" + ln.Addr().String()

	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "page" {
		t.Fatalf("fallback served %q", body)
	}
	p := hotstatetest.Dial(t, "ws://"+ln.Addr().String()+"/ws", nil)

	cancel()
	if code := p.CloseCode(); code != websocket.StatusGoingAway {
		t.Fatalf("close code %d, want 1001", code)
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("ServeListener: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeListener did not return")
	}
	http.DefaultClient.CloseIdleConnections()
	if resp, err := http.Get(base + "/"); err == nil {
		resp.Body.Close()
		t.Fatal("still serving after shutdown")
	}
}

// TestMount: a handler mounted under a prefix takes that prefix's requests,
// WebSocket upgrades included; every other path still upgrades to the
// hotstate endpoint.
func TestMount(t *testing.T) {
	srv := hotstate.New()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	mounted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "mounted "+r.URL.Path)
	})
	go func() { errc <- hothttp.ServeListener(ctx, srv, ln, hothttp.WithMount("/admin/", mounted)) }()
	defer func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("ServeListener: %v", err)
		}
	}()
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/admin/ws", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "mounted /admin/ws" {
		t.Fatalf("an upgrade under the mount got %d %q, want the mounted handler", resp.StatusCode, body)
	}
	// Attached: the hello frame came from the hotstate endpoint.
	_ = hotstatetest.Dial(t, "ws://"+ln.Addr().String()+"/anything", nil)
	http.DefaultClient.CloseIdleConnections()
}

// TestServerOnlyOptions: the options only a standalone server has are not
// Options, so Handler cannot be given one and silently ignore it.
func TestServerOnlyOptions(t *testing.T) {
	for name, o := range map[string]hothttp.ServerOption{
		"WithAddr":     hothttp.WithAddr(":0"),
		"WithPath":     hothttp.WithPath("/ws"),
		"WithFallback": hothttp.WithFallback(http.NotFoundHandler()),
	} {
		if _, ok := o.(hothttp.Option); ok {
			t.Errorf("%s is a handler Option", name)
		}
	}
	var _ hothttp.ServerOption = hothttp.WithOriginPatterns("x") // and every Option serves a standalone server
}

// TestTLS serves over TLS with HTTP/2 offered as well, as
// http.Server.ListenAndServeTLS does: the upgrade still happens over
// HTTP/1.1, which is all Go's client uses for a WebSocket, and snapshots,
// patches and calls then travel through the TLS connection hothttp writes
// its own frames to.
func TestTLS(t *testing.T) {
	srv := hotstatetest.TLSServer()
	hs := httptest.NewUnstartedServer(hothttp.Handler(srv))
	hs.EnableHTTP2 = true
	hs.TLS = &tls.Config{NextProtos: []string{"h2", "http/1.1"}}
	hs.StartTLS()
	t.Cleanup(func() {
		hotstatetest.Shutdown(t, srv)
		hs.Close()
	})
	hotstatetest.CheckTLS(t, "wss"+strings.TrimPrefix(hs.URL, "https"), hs.Client())
}

// TestHandlerReturnsAfterUpgrade: the HTTP handler returns once the
// request is upgraded, releasing net/http's state for it, and the
// connection goes on without it; net/http cancels the request's context
// as the handler returns, and that does not end the connection.
func TestHandlerReturnsAfterUpgrade(t *testing.T) {
	srv := hotstate.New()
	srv.HandleFunc("echo", func(ctx context.Context, args any) (any, error) { return args, nil })
	h := hothttp.Handler(srv)
	returned := make(chan struct{}, 1)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		returned <- struct{}{}
	}))
	t.Cleanup(func() {
		hotstatetest.Shutdown(t, srv)
		hs.Close()
	})
	p := hotstatetest.Dial(t, "ws"+strings.TrimPrefix(hs.URL, "http"), nil)
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler has not returned after the upgrade")
	}
	if got := hotstatetest.Decode(t, p.Call(1, "echo", "still here").Value); got != "still here" {
		t.Fatalf("echo after the handler returned: %v", got)
	}
}

// TestWithHeaders: a connection keeps the request headers named with
// WithHeaders and no others; without the option it keeps none.
func TestWithHeaders(t *testing.T) {
	header := http.Header{
		"X-Tenant":      {"acme"},
		"Cookie":        {"session=secret"},
		"Authorization": {"Bearer secret"},
	}
	for _, tc := range []struct {
		opts []hothttp.Option
		want string
	}{
		{nil, "map[]"},
		{[]hothttp.Option{hothttp.WithHeaders("x-tenant", "X-Absent")}, "map[X-Tenant:[acme]]"},
	} {
		srv := hotstate.New()
		srv.HandleFunc("header", func(ctx context.Context, args any) (any, error) {
			c, _ := hotstate.CallerFrom(ctx)
			return fmt.Sprint(c.Header), nil
		})
		hs := httptest.NewServer(hothttp.Handler(srv, tc.opts...))
		t.Cleanup(func() {
			hotstatetest.Shutdown(t, srv)
			hs.Close()
		})
		p := hotstatetest.Dial(t, "ws"+strings.TrimPrefix(hs.URL, "http"), header)
		if got := hotstatetest.Decode(t, p.Call(1, "header", nil).Value); got != tc.want {
			t.Errorf("%d options: Caller.Header = %v, want %s", len(tc.opts), got, tc.want)
		}
	}
}
