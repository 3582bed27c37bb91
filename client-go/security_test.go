package hotclient_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotclient "github.com/hotstate/hotstate/client-go"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// The security tests run the defences of docs/SECURITY.md over real
// connections: authentication before the upgrade, authorisation per store,
// instance and function, limits with their error codes, and the Origin
// check.

// secure is a server whose identity hook reads the user from a bearer
// token, a cookie or a query parameter: "banned" is refused with 403,
// anyone else without a name with 401.
type secure struct {
	srv   *hotstate.Server
	url   string
	addr  string
	rooms *hotstate.Family[Room]
	todos *hotstate.Store[Todos]
	// connects records the identity of each connection the server served.
	connects chan any
	gate     chan struct{}
	entered  chan struct{}
}

func user(r *http.Request) (string, error) {
	name, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		if c, err := r.Cookie("session"); err == nil {
			name, ok = c.Value, true
		}
	}
	if !ok && r.URL.Query().Has("user") {
		name, ok = r.URL.Query().Get("user"), true
	}
	switch {
	case !ok || name == "":
		return "", errors.New("no credentials")
	case name == "banned":
		return "", &hothttp.StatusError{Status: http.StatusForbidden, Message: "banned"}
	}
	return name, nil
}

func newSecure(t *testing.T, opts []hotstate.Option, hopts ...hothttp.ServerOption) *secure {
	t.Helper()
	s := &secure{
		srv:      hotstate.New(opts...),
		connects: make(chan any, 64),
		gate:     make(chan struct{}),
		entered:  make(chan struct{}, 64),
	}
	s.srv.OnConnect(func(c hotstate.Caller) { s.connects <- c.Identity })
	s.todos = hotstate.NewStore(s.srv, "Todos", Todos{Items: []Todo{}})
	s.rooms = hotstate.NewFamily(s.srv, "Room:*", Room{Messages: []string{}})
	s.rooms.OnCreate(func(key string, r *Room) { r.Name = key })
	hopts = append([]hothttp.ServerOption{hothttp.WithIdentity(func(r *http.Request) (any, error) { return user(r) })}, hopts...)
	s.addr, _ = serveOn(t, s.srv, "127.0.0.1:0", hopts...)
	s.url = "ws://" + s.addr
	return s
}

// as dials a client authenticated as name.
func (s *secure) as(t *testing.T, name string, opts ...hotclient.Option) *hotclient.Client {
	t.Helper()
	opts = append([]hotclient.Option{hotclient.WithHeader(http.Header{"Authorization": {"Bearer " + name}})}, opts...)
	return dial(t, s.url, opts...)
}

// handshake dials url with header and returns the HTTP status of the
// answer (101 when the upgrade happened, then closed at once).
func handshake(t *testing.T, url string, header http.Header) int {
	t.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	ws, resp, err := websocket.Dial(ctxT(t), url, &websocket.DialOptions{HTTPHeader: header, HTTPClient: &http.Client{Transport: tr}})
	if err == nil {
		_ = ws.CloseNow()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	return resp.StatusCode
}

// remote asserts that err is a *RemoteError with code (and store, when not
// empty) and returns it.
func remote(t *testing.T, err error, code, store string) *hotclient.RemoteError {
	t.Helper()
	var re *hotclient.RemoteError
	if !errors.As(err, &re) || re.Code != code || (store != "" && re.Store != store) {
		t.Fatalf("got %v, want a %s error for %q", err, code, store)
	}
	return re
}

// noTrouble fails the test when c lost its connection or heard of a
// failure, for checks that an error reached one client and nobody else.
func noTrouble(t *testing.T, events <-chan hotclient.Lifecycle, allowed ...string) {
	t.Helper()
	for {
		select {
		case e := <-events:
			if e.Kind == hotclient.Failure {
				var re *hotclient.RemoteError
				if errors.As(e.Err, &re) && slices.Contains(allowed, re.Code) {
					continue
				}
			}
			if e.Kind != hotclient.Connected {
				t.Fatalf("unexpected %+v", e)
			}
		default:
			return
		}
	}
}

func TestSecurityIdentityBeforeUpgrade(t *testing.T) {
	s := newSecure(t, nil)
	var saw sync.Map
	hotstate.Handle(s.srv, "whoami", func(ctx context.Context, _ any) (any, error) {
		c, ok := hotstate.CallerFrom(ctx)
		if !ok {
			return nil, errors.New("no caller")
		}
		saw.Store(c.ID, c.Identity)
		return c.Identity, nil
	})

	// Refused before the upgrade: no WebSocket, no session, no listener.
	if got := handshake(t, s.url, nil); got != http.StatusUnauthorized {
		t.Fatalf("no credentials: status %d, want 401", got)
	}
	if got := handshake(t, s.url, http.Header{"Authorization": {"Bearer banned"}}); got != http.StatusForbidden {
		t.Fatalf("banned: status %d, want 403", got)
	}
	if _, err := hotclient.Dial(ctxT(t), s.url, hotclient.WithReconnect(false)); err == nil {
		t.Fatal("hotclient connected without credentials")
	}
	if len(s.connects) != 0 {
		t.Fatalf("%d refused handshakes reached the server", len(s.connects))
	}

	// The identity comes from a header, a cookie or the query, and reaches
	// listeners and handlers.
	for _, tc := range []struct {
		url    string
		header http.Header
		want   string
	}{
		{s.url, http.Header{"Authorization": {"Bearer ada"}}, "ada"},
		{s.url, http.Header{"Cookie": {"session=grace"}}, "grace"},
		{s.url + "/?user=linus", nil, "linus"},
	} {
		c := dial(t, tc.url, hotclient.WithHeader(tc.header))
		if id := recv(t, s.connects); id != tc.want {
			t.Fatalf("OnConnect saw %v, want %s", id, tc.want)
		}
		var who string
		if err := c.Call(ctxT(t), "whoami", nil, &who); err != nil || who != tc.want {
			t.Fatalf("whoami = %q, %v; want %s", who, err, tc.want)
		}
		if id, _ := saw.Load(c.ID()); id != tc.want {
			t.Fatalf("CallerFrom saw %v for %s", id, c.ID())
		}
	}
}

func TestSecurityStoreAndFamilyAllow(t *testing.T) {
	s := newSecure(t, nil)
	// Each user has the rooms named after them, and everyone the lobby.
	var asked sync.Map
	s.rooms.Allow(func(c hotstate.Caller, key string) bool {
		asked.Store(key, c.Identity)
		name, _ := c.Identity.(string)
		return key == "lobby" || strings.HasPrefix(key, name+"-")
	})
	admin := hotstate.NewStore(s.srv, "Admin", Todos{Items: []Todo{}}).
		Allow(func(c hotstate.Caller) bool { return c.Identity == "root" })

	ada, bob, root := s.as(t, "ada"), s.as(t, "bob"), s.as(t, "root")
	adaEvents, bobEvents := lifecycle(ada), lifecycle(bob)

	mine := ada.Subscribe("Room:ada-1", nil)
	lobby := ada.Subscribe("Room:lobby", nil)
	theirs := ada.Subscribe("Room:bob-1", nil)
	adm := ada.Subscribe("Admin", nil)
	for _, sub := range []*hotclient.Subscription{mine, lobby} {
		if err := sub.Ready(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	remote(t, theirs.Ready(ctxT(t)), wire.CodeForbidden, "Room:bob-1")
	remote(t, adm.Ready(ctxT(t)), wire.CodeForbidden, "Admin")
	if id, _ := asked.Load("bob-1"); id != "ada" {
		t.Fatalf("the rule saw identity %v", id)
	}
	// A refused subscription creates nothing on the server.
	if s.rooms.Has("bob-1") || admin.IsInitialized() {
		t.Fatal("a refused subscription created its store")
	}

	// The refusal was ada's alone: bob gets his room, root the admin
	// store, and ada's other subscriptions go on.
	bobs := bob.Subscribe("Room:bob-1", nil)
	if err := bobs.Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := root.Subscribe("Admin", nil).Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"ada-1", "bob-1"} {
		if err := s.rooms.Update(key, func(r *Room) { r.Messages = append(r.Messages, "hi") }); err != nil {
			t.Fatal(err)
		}
	}
	for _, sub := range []*hotclient.Subscription{mine, bobs} {
		eventually(t, sub.Name()+" to get its update", func() bool {
			m, _ := sub.State().(map[string]any)
			msgs, _ := m["messages"].([]any)
			return len(msgs) == 1
		})
	}
	noTrouble(t, adaEvents, wire.CodeForbidden)
	noTrouble(t, bobEvents)
	if theirs.State() != nil {
		t.Fatal("the refused subscription has state")
	}
}

func TestSecurityFunctionAllow(t *testing.T) {
	s := newSecure(t, nil)
	var ran atomic.Int64
	hotstate.Handle(s.srv, "admin.reset", func(ctx context.Context, _ any) (string, error) {
		ran.Add(1)
		return "done", nil
	}, hotstate.AllowCalls(func(c hotstate.Caller) bool { return c.Identity == "root" }))

	ada, root := s.as(t, "ada"), s.as(t, "root")
	events := lifecycle(ada)
	remote(t, ada.Call(ctxT(t), "admin.reset", nil, nil), wire.CodeForbidden, "")
	if ran.Load() != 0 {
		t.Fatal("a forbidden call ran")
	}
	var res string
	if err := root.Call(ctxT(t), "admin.reset", nil, &res); err != nil || res != "done" {
		t.Fatalf("root: %q, %v", res, err)
	}
	noTrouble(t, events)
}

func TestSecurityDenyByDefault(t *testing.T) {
	s := newSecure(t, []hotstate.Option{hotstate.WithDenyByDefault()})
	open := hotstate.NewStore(s.srv, "Open", Todos{}).Allow(func(hotstate.Caller) bool { return true })
	hotstate.Handle(s.srv, "closed", func(ctx context.Context, _ any) (int, error) { return 1, nil })
	hotstate.Handle(s.srv, "open", func(ctx context.Context, _ any) (int, error) { return 2, nil },
		hotstate.AllowCalls(func(hotstate.Caller) bool { return true }))

	c := s.as(t, "ada")
	remote(t, c.Subscribe("Todos", nil).Ready(ctxT(t)), wire.CodeForbidden, "Todos")
	remote(t, c.Subscribe("Room:lobby", nil).Ready(ctxT(t)), wire.CodeForbidden, "Room:lobby")
	if err := c.Subscribe("Open", nil).Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	remote(t, c.Call(ctxT(t), "closed", nil, nil), wire.CodeForbidden, "")
	var n int
	if err := c.Call(ctxT(t), "open", nil, &n); err != nil || n != 2 {
		t.Fatalf("open: %d, %v", n, err)
	}
	// Unknown names stay unknown rather than forbidden.
	remote(t, c.Call(ctxT(t), "nothing", nil, nil), wire.CodeUnknownFunction, "")
	if open.SubscriberCount() != 1 || s.todos.IsInitialized() {
		t.Fatal("deny by default let a subscription through")
	}
}

func TestSecurityFunctionRateLimit(t *testing.T) {
	s := newSecure(t, nil)
	var ran atomic.Int64
	hotstate.Handle(s.srv, "costly", func(ctx context.Context, _ any) (int64, error) {
		return ran.Add(1), nil
	}, hotstate.LimitCalls(0.001, 3))
	hotstate.Handle(s.srv, "cheap", func(ctx context.Context, _ any) (int, error) { return 1, nil })

	ada, bob := s.as(t, "ada"), s.as(t, "bob")
	for range 3 {
		if err := ada.Call(ctxT(t), "costly", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	remote(t, ada.Call(ctxT(t), "costly", nil, nil), wire.CodeRateLimited, "")
	if ran.Load() != 3 {
		t.Fatalf("the function ran %d times", ran.Load())
	}
	// The bucket is per connection and per function.
	if err := bob.Call(ctxT(t), "costly", nil, nil); err != nil {
		t.Fatalf("another connection: %v", err)
	}
	if err := ada.Call(ctxT(t), "cheap", nil, nil); err != nil {
		t.Fatalf("another function: %v", err)
	}
}

func TestSecurityConnectionRateLimit(t *testing.T) {
	s := newSecure(t, []hotstate.Option{hotstate.WithRateLimit(0.001, 4)})
	hotstate.Handle(s.srv, "ping", func(ctx context.Context, _ any) (string, error) { return "pong", nil })

	ada, bob := s.as(t, "ada"), s.as(t, "bob")
	events := lifecycle(ada)
	for range 3 {
		if err := ada.Call(ctxT(t), "ping", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := ada.Subscribe("Todos", nil).Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	// The bucket is empty: a call and a subscription are refused at once,
	// the call with an answer its caller recognises, the subscription with
	// a Failure naming its store. The subscription is retried, so Ready
	// waits on, and says why when it gives up.
	remote(t, ada.Call(ctxT(t), "ping", nil, nil), wire.CodeRateLimited, "")
	lobby := ada.Subscribe("Room:lobby", nil)
	e := until(t, events, kind(hotclient.Failure))
	remote(t, e.Err, wire.CodeRateLimited, "Room:lobby")
	short, cancel := context.WithTimeout(ctxT(t), 50*time.Millisecond)
	defer cancel()
	if err := lobby.Ready(short); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), wire.CodeRateLimited) {
		t.Fatalf("Ready while refused: %v", err)
	}
	if lobby.HasData() || lobby.Err() != nil {
		t.Fatalf("HasData %v, Err %v while retrying", lobby.HasData(), lobby.Err())
	}
	noTrouble(t, events, wire.CodeRateLimited)
	// Other connections have buckets of their own.
	if err := bob.Call(ctxT(t), "ping", nil, nil); err != nil {
		t.Fatal(err)
	}
}

func TestSecuritySubscriptionLimit(t *testing.T) {
	s := newSecure(t, []hotstate.Option{hotstate.WithMaxSubscriptions(3)})
	c := s.as(t, "ada")
	var subs []*hotclient.Subscription
	for _, key := range []string{"a", "b", "c"} {
		sub := c.Subscribe("Room:"+key, nil)
		if err := sub.Ready(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub)
	}
	remote(t, c.Subscribe("Room:d", nil).Ready(ctxT(t)), wire.CodeTooManySubscriptions, "Room:d")
	if s.rooms.Has("d") {
		t.Fatal("the refused subscription created its instance")
	}
	// Subscribing again to a store held is not counted twice (a second
	// handle shares the subscription), and leaving one makes room.
	if err := c.Subscribe("Room:a", nil).Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	subs[1].Unsubscribe()
	eventually(t, "the unsubscription", func() bool { return s.rooms.SubscriberCount("b") == 0 })
	if err := c.Subscribe("Room:e", nil).Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	remote(t, c.Subscribe("Room:f", nil).Ready(ctxT(t)), wire.CodeTooManySubscriptions, "Room:f")
	if s.rooms.Has("f") {
		t.Fatal("the refused subscription created its instance")
	}
}

func TestSecurityNameLength(t *testing.T) {
	s := newSecure(t, nil)
	c := s.as(t, "ada")
	events := lifecycle(c)
	long := "Room:" + strings.Repeat("x", 300)
	remote(t, c.Subscribe(long, nil).Ready(ctxT(t)), wire.CodeNameTooLong, long)
	remote(t, c.Call(ctxT(t), strings.Repeat("f", 300), nil, nil), wire.CodeNameTooLong, "")
	if len(s.rooms.Keys()) != 0 {
		t.Fatal("a long name created an instance")
	}
	// The longest allowed name works.
	ok := "Room:" + strings.Repeat("y", 256-len("Room:"))
	if err := c.Subscribe(ok, nil).Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	noTrouble(t, events, wire.CodeNameTooLong)
}

func TestSecurityCallsInFlight(t *testing.T) {
	s := newSecure(t, []hotstate.Option{hotstate.WithMaxInflight(2)})
	hotstate.Handle(s.srv, "block", func(ctx context.Context, _ any) (string, error) {
		s.entered <- struct{}{}
		select {
		case <-s.gate:
			return "released", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	})
	hotstate.Handle(s.srv, "ping", func(ctx context.Context, _ any) (string, error) { return "pong", nil })
	c, other := s.as(t, "ada"), s.as(t, "bob")
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- c.Call(ctxT(t), "block", nil, nil) }()
	}
	recv(t, s.entered)
	recv(t, s.entered)
	remote(t, c.Call(ctxT(t), "ping", nil, nil), wire.CodeBusy, "")
	if err := other.Call(ctxT(t), "ping", nil, nil); err != nil {
		t.Fatalf("another connection: %v", err)
	}
	close(s.gate)
	for range 2 {
		if err := recv(t, errs); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Call(ctxT(t), "ping", nil, nil); err != nil {
		t.Fatalf("after the calls ended: %v", err)
	}
}

func TestSecurityFrameLimit(t *testing.T) {
	s := newSecure(t, []hotstate.Option{hotstate.WithMaxFrameBytes(1024)})
	bystander := s.as(t, "bob")
	p := dialRaw(t, s.url, http.Header{"Authorization": {"Bearer ada"}}, nil)
	b, err := wire.EncodeRPC(1, "x", strings.Repeat("a", 2000))
	if err != nil {
		t.Fatal(err)
	}
	_ = p.send(b)
	if code := websocket.CloseStatus(p.ended()); code != wire.CloseMessageTooBig {
		t.Fatalf("close status %d, want 1009", code)
	}
	if err := bystander.Subscribe("Todos", nil).Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func TestSecurityOrigin(t *testing.T) {
	s := newSecure(t, nil)
	alice := http.Header{"Authorization": {"Bearer alice"}}
	with := func(origin string) http.Header {
		h := alice.Clone()
		h.Set("Origin", origin)
		return h
	}
	// Cross-site hijacking: a foreign page is refused before the upgrade,
	// even with valid credentials.
	if got := handshake(t, s.url, with("https://evil.example")); got != http.StatusForbidden {
		t.Fatalf("foreign origin: status %d, want 403", got)
	}
	if got := handshake(t, s.url, with("null")); got != http.StatusForbidden {
		t.Fatalf("opaque origin: status %d, want 403", got)
	}
	if len(s.connects) != 0 {
		t.Fatal("a foreign origin reached the server")
	}
	// The same host, and clients that send no Origin, are welcome.
	if got := handshake(t, s.url, with("http://"+s.addr)); got != http.StatusSwitchingProtocols {
		t.Fatalf("same origin: status %d", got)
	}
	if got := handshake(t, s.url, alice); got != http.StatusSwitchingProtocols {
		t.Fatalf("no origin: status %d", got)
	}

	// Allowed patterns open the door to those sites only.
	s2 := newSecure(t, nil, hothttp.WithOriginPatterns("*.example.com", "https://app.example.org"))
	for origin, want := range map[string]int{
		"https://app.example.com":  http.StatusSwitchingProtocols,
		"https://app.example.org":  http.StatusSwitchingProtocols,
		"http://app.example.org":   http.StatusForbidden,
		"https://example.com.evil": http.StatusForbidden,
		"https://evil.example":     http.StatusForbidden,
	} {
		if got := handshake(t, s2.url, with(origin)); got != want {
			t.Errorf("%s: status %d, want %d", origin, got, want)
		}
	}
}

// TestSecurityRefusalsAreLocal checks, under load, that refusals reach only
// the client that caused them: many clients at once, some authorised and
// some not, none disturbed by the others.
func TestSecurityRefusalsAreLocal(t *testing.T) {
	s := newSecure(t, nil)
	s.rooms.Allow(func(c hotstate.Caller, key string) bool { return c.Identity == key })
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			name := string(rune('a' + i))
			c := s.as(t, name)
			events := lifecycle(c)
			own := c.Subscribe("Room:"+name, nil)
			other := c.Subscribe("Room:"+string(rune('a'+(i+1)%20)), nil)
			if err := own.Ready(ctxT(t)); err != nil {
				t.Error(err)
				return
			}
			var re *hotclient.RemoteError
			if err := other.Ready(ctxT(t)); !errors.As(err, &re) || re.Code != wire.CodeForbidden {
				t.Errorf("%s: %v", name, err)
			}
			// The refusal is the one failure this client hears of.
			deadline := time.After(wait)
			for refused := false; !refused; {
				select {
				case e := <-events:
					switch {
					case e.Kind == hotclient.Failure && e.Store == other.Name():
						refused = true
					case e.Kind != hotclient.Connected:
						t.Errorf("%s: %+v", name, e)
						return
					}
				case <-deadline:
					t.Errorf("%s: the refusal was not reported", name)
					return
				}
			}
		})
	}
	wg.Wait()
}
