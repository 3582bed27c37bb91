package hotinspect_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotclient "github.com/hotstate/hotstate/client-go"
	hotstate "github.com/hotstate/hotstate/core"
	hotinspect "github.com/hotstate/hotstate/inspector"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wait bounds every wait; nothing should take nearly as long.
const wait = 10 * time.Second

type Todos struct {
	Items []string `json:"items"`
}

// app is a server with one store and one function, its own WebSocket at
// /ws and the inspector mounted at /inspect/.
type app struct {
	srv  *hotstate.Server
	http *httptest.Server
}

func start(t *testing.T, opts ...hotinspect.Option) *app {
	t.Helper()
	insp := hotinspect.New(append([]hotinspect.Option{hotinspect.WithInterval(20 * time.Millisecond)}, opts...)...)
	srv := hotstate.New(hotstate.WithObserver(insp.Observer()))
	todos := hotstate.NewStore(srv, "Todos", Todos{Items: []string{}})
	hotstate.Handle(srv, "todos.add", func(_ context.Context, text string) (bool, error) {
		return true, todos.Update(func(t *Todos) { t.Items = append(t.Items, text) })
	})
	mux := http.NewServeMux()
	// The application's own endpoint, whose identity hook says everyone
	// is an administrator: the system stores must still be refused.
	mux.Handle("/ws", hothttp.Handler(srv, hothttp.WithIdentity(func(*http.Request) (any, error) { return "admin", nil })))
	mux.Handle("/inspect/", http.StripPrefix("/inspect", insp.Handler(srv)))
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_ = srv.Shutdown(ctx)
		ts.Close()
		insp.Close()
	})
	return &app{srv: srv, http: ts}
}

func (a *app) ws(path string) string { return "ws" + strings.TrimPrefix(a.http.URL, "http") + path }

func (a *app) dial(t *testing.T, path string) *hotclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := hotclient.Dial(ctx, a.ws(path), hotclient.WithReconnect(false))
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func code(err error) string {
	var re *hotclient.RemoteError
	if errors.As(err, &re) {
		return re.Code
	}
	return ""
}

// TestLockedByDefault: without Authorize every request is refused, the
// page and its WebSocket alike; with it, only the requests it admits.
func TestLockedByDefault(t *testing.T) {
	open := start(t)
	for _, path := range []string{"/inspect/", "/inspect/ws", "/inspect/anything"} {
		if res, _ := get(t, open.http.URL+path); res.StatusCode != http.StatusForbidden {
			t.Errorf("GET %s without Authorize: %d, want 403", path, res.StatusCode)
		}
	}

	r := httptest.NewRequest("GET", "/inspect/ws?token=s3cret", nil)
	if _, err := hotinspect.New().Identity(r); !errors.Is(err, hotinspect.ErrForbidden) {
		t.Errorf("Identity without Authorize: %v, want ErrForbidden", err)
	}
	if id, err := hotinspect.New(hotinspect.Authorize(hotinspect.Token("s3cret"))).Identity(r); err != nil || id == nil {
		t.Errorf("Identity with the token: %v, %v", id, err)
	}

	locked := start(t, hotinspect.Authorize(hotinspect.Token("s3cret")))
	for _, path := range []string{"/inspect/", "/inspect/?token=wrong", "/inspect/ws?token="} {
		if res, _ := get(t, locked.http.URL+path); res.StatusCode != http.StatusForbidden {
			t.Errorf("GET %s: %d, want 403", path, res.StatusCode)
		}
	}
	res, body := get(t, locked.http.URL+"/inspect/?token=s3cret")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "hotstate inspector") {
		t.Fatalf("GET with the token: %d", res.StatusCode)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'sha256-") {
		t.Errorf("Content-Security-Policy %q admits more than the page's script", csp)
	}
	if strings.Contains(body, "/*APP*/") {
		t.Error("the page's script was not put into the page")
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if _, err := hotclient.Dial(ctx, locked.ws("/inspect/ws?token=wrong"), hotclient.WithReconnect(false)); err == nil {
		t.Error("the inspector's WebSocket admitted a wrong token")
	}
}

// TestSystemStoresOnlyForThePage: a client of the application's endpoint
// is refused the system stores, whatever its identity; the page's
// connection gets them, and sees a store change and a call.
func TestSystemStoresOnlyForThePage(t *testing.T) {
	a := start(t, hotinspect.Authorize(hotinspect.Token("s3cret")))
	user := a.dial(t, "/ws")
	for _, name := range []string{"$inspect", "$inspect.timeline"} {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		err := user.Subscribe(name, nil).Ready(ctx)
		cancel()
		if code(err) != "forbidden" {
			t.Errorf("an application client subscribing to %s: %v, want forbidden", name, err)
		}
	}

	page := a.dial(t, "/inspect/ws?token=s3cret")
	overview := page.Subscribe("$inspect", nil)
	timeline := page.Subscribe("$inspect.timeline", nil)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := user.Call(ctx, "todos.add", "milk", nil); err != nil {
		t.Fatal(err)
	}
	until(t, "the overview shows Todos at version 1", func() bool {
		return hasRow(overview.State(), "stores", func(r map[string]any) bool {
			return r["name"] == "Todos" && num(r["version"]) == 1
		})
	})
	until(t, "the overview shows the application client", func() bool {
		return hasRow(overview.State(), "sessions", func(r map[string]any) bool {
			return r["id"] == user.ID() && r["identity"] == "admin" && num(r["in"]) >= 3
		})
	})
	until(t, "the timeline shows the call and the change", func() bool {
		call := hasRow(timeline.State(), "entries", func(r map[string]any) bool {
			return r["kind"] == "call" && r["function"] == "todos.add" && r["client"] == user.ID() && r["code"] == "ok"
		})
		change := hasRow(timeline.State(), "entries", func(r map[string]any) bool {
			return r["kind"] == "change" && r["store"] == "Todos" && num(r["version"]) == 1
		})
		return call && change
	})
	if hasRow(timeline.State(), "entries", func(r map[string]any) bool { s, _ := r["store"].(string); return strings.HasPrefix(s, "$") }) {
		t.Error("the timeline lists the inspector's own stores")
	}
}

// TestActionsOnlyWhenAllowed: the actions are refused unless AllowActions
// was given, and even then to everyone but the page.
func TestActionsOnlyWhenAllowed(t *testing.T) {
	readOnly := start(t, hotinspect.Authorize(hotinspect.Token("t")))
	page := readOnly.dial(t, "/inspect/ws?token=t")
	user := readOnly.dial(t, "/ws")
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for _, action := range []string{"$inspect.reset", "$inspect.delete"} {
		if err := page.Call(ctx, action, "Todos", nil); code(err) != "forbidden" {
			t.Errorf("%s without AllowActions: %v, want forbidden", action, err)
		}
	}
	if err := page.Call(ctx, "$inspect.disconnect", user.ID(), nil); code(err) != "forbidden" {
		t.Errorf("disconnect without AllowActions: %v, want forbidden", err)
	}

	a := start(t, hotinspect.Authorize(hotinspect.Token("t")), hotinspect.AllowActions())
	page = a.dial(t, "/inspect/ws?token=t")
	user = a.dial(t, "/ws")
	if err := user.Call(ctx, "$inspect.disconnect", page.ID(), nil); code(err) != "forbidden" {
		t.Errorf("an application client calling an action: %v, want forbidden", err)
	}
	if err := page.Call(ctx, "$inspect.reset", "$inspect", nil); code(err) != "bad_args" {
		t.Errorf("resetting a system store: %v, want bad_args", err)
	}
	var ok bool
	if err := page.Call(ctx, "$inspect.disconnect", user.ID(), &ok); err != nil || !ok {
		t.Fatalf("disconnect: %v, %v", ok, err)
	}
	until(t, "the client is gone", func() bool {
		for _, s := range a.srv.Sessions() {
			if s.ClientID == user.ID() {
				return false
			}
		}
		return true
	})
}

// until polls cond until it holds or the wait is over.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func hasRow(state any, field string, match func(map[string]any) bool) bool {
	m, _ := state.(map[string]any)
	rows, _ := m[field].([]any)
	for _, r := range rows {
		if r, ok := r.(map[string]any); ok && match(r) {
			return true
		}
	}
	return false
}

func num(v any) float64 {
	switch n := v.(type) {
	case int64:
		return float64(n)
	case uint64:
		return float64(n)
	case int8:
		return float64(n)
	case uint8:
		return float64(n)
	case int16:
		return float64(n)
	case uint16:
		return float64(n)
	case int32:
		return float64(n)
	case uint32:
		return float64(n)
	case float64:
		return n
	case float32:
		return float64(n)
	case int:
		return float64(n)
	}
	return -1
}

// TestPresenceAndEngine: the overview lists the members of a store that
// tracks presence, the engine's type and its appends.
func TestPresenceAndEngine(t *testing.T) {
	insp := hotinspect.New(hotinspect.Authorize(hotinspect.Token("t")), hotinspect.WithInterval(20*time.Millisecond))
	srv := hotstate.New(hotstate.WithObserver(insp.Observer()))
	hotstate.NewFamily(srv, "Room:*", Todos{Items: []string{}}).Presence(func(c hotstate.Caller) (string, any) {
		return c.Identity.(string), map[string]any{"role": "guest"}
	})
	mux := http.NewServeMux()
	mux.Handle("/ws", hothttp.Handler(srv, hothttp.WithIdentity(func(*http.Request) (any, error) { return "alice", nil })))
	mux.Handle("/inspect/", http.StripPrefix("/inspect", insp.Handler(srv)))
	ts := httptest.NewServer(mux)
	a := &app{srv: srv, http: ts}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_ = srv.Shutdown(ctx)
		ts.Close()
		insp.Close()
	})
	user := a.dial(t, "/ws")
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := user.Subscribe("Room:lobby", nil).Ready(ctx); err != nil {
		t.Fatal(err)
	}
	overview := a.dial(t, "/inspect/ws?token=t").Subscribe("$inspect", nil)
	until(t, "the overview lists alice in Room:lobby", func() bool {
		return hasRow(overview.State(), "presence", func(r map[string]any) bool {
			members, _ := r["members"].([]any)
			if r["store"] != "Room:lobby" || len(members) != 1 {
				return false
			}
			m, _ := members[0].(map[string]any)
			return m["key"] == "alice"
		})
	})
	until(t, "the overview names the engine", func() bool {
		m, _ := overview.State().(map[string]any)
		e, _ := m["engine"].(map[string]any)
		return e["type"] == "*hotstate.MemoryEngine"
	})
	if hasRow(overview.State(), "stores", func(r map[string]any) bool {
		n, _ := r["name"].(string)
		return strings.HasPrefix(n, "presence:") || strings.HasPrefix(n, "$")
	}) {
		t.Error("the stores list the presence or system stores")
	}
}

// TestNodes: two servers sharing an engine each answer the page's node,
// which lists both, itself marked, with the engine's round trip.
func TestNodes(t *testing.T) {
	eng := hotstate.NewMemoryEngine(256, 1<<20)
	var pageURL string
	for n := range 2 {
		insp := hotinspect.New(hotinspect.Authorize(hotinspect.Token("t")), hotinspect.WithInterval(20*time.Millisecond))
		srv := hotstate.New(hotstate.WithEngine(eng), hotstate.WithObserver(insp.Observer()))
		ts := httptest.NewServer(http.StripPrefix("/inspect", insp.Handler(srv)))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			_ = srv.Shutdown(ctx)
			ts.Close()
			insp.Close()
		})
		if n == 0 {
			pageURL = "ws" + strings.TrimPrefix(ts.URL, "http") + "/inspect/ws?token=t"
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	page, err := hotclient.Dial(ctx, pageURL, hotclient.WithReconnect(false))
	if err != nil {
		t.Fatal(err)
	}
	defer page.Close()
	overview := page.Subscribe("$inspect", nil)
	until(t, "the overview lists both nodes, one of them this page's", func() bool {
		m, _ := overview.State().(map[string]any)
		nodes, _ := m["nodes"].([]any)
		self := 0
		for _, n := range nodes {
			if n, _ := n.(map[string]any); n["self"] == true && num(n["sessions"]) == 1 {
				self++
			}
		}
		return len(nodes) == 2 && self == 1
	})
}
