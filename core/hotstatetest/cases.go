package hotstatetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// cases are the conformance tests, in the order Run runs them. Their names
// are what Skip takes.
var cases = []struct {
	name string
	run  func(t *testing.T, mount Mount)
}{
	{"SnapshotThenPatches", testSnapshotThenPatches},
	{"Functions", testFunctions},
	{"FrameSizes", testFrameSizes},
	{"Events", testEvents},
	{"MissingStore", testMissingStore},
	{"MalformedFrames", testMalformedFrames},
	{"ForeignOrigin", testForeignOrigin},
	{"Identity", testIdentity},
	{"OversizeFrame", testOversizeFrame},
	{"TextFrame", testTextFrame},
	{"Heartbeat", testHeartbeat},
	{"Shutdown", testShutdown},
	{"SlowConsumer", testSlowConsumer},
	{"OrderingUnderRace", testOrderingUnderRace},
	{"LifecycleUnderRace", testLifecycleUnderRace},
	{"StoreLifecycle", testStoreLifecycle},
	{"ClientsLeaving", testClientsLeaving},
}

type item struct {
	ID   int    `json:"id"`
	Text string `json:"text"`
	Done bool   `json:"done"`
}

type todos struct {
	Items []item `json:"items"`
}

type addArgs struct {
	Text string `json:"text"`
}

// secret is what panicking handlers and hooks panic with; it must never
// reach a client.
const secret = "secret detail"

// newServer returns a server with a todo store and functions that succeed,
// fail, panic and report who called.
func newServer(opts ...hotstate.Option) (*hotstate.Server, *hotstate.Store[todos]) {
	srv := hotstate.New(opts...)
	store := hotstate.NewStore(srv, "Todos", todos{Items: []item{}})
	hotstate.Handle(srv, "todos.add", func(ctx context.Context, a addArgs) (map[string]int, error) {
		if a.Text == "" {
			return nil, errors.New("text is required")
		}
		var id int
		err := store.Update(func(s *todos) {
			id = len(s.Items) + 1
			s.Items = append(s.Items, item{ID: id, Text: a.Text})
		})
		return map[string]int{"id": id}, err
	})
	srv.HandleFunc("boom", func(ctx context.Context, args any) (any, error) { panic(secret) })
	srv.HandleFunc("whoami", func(ctx context.Context, args any) (any, error) { return hotstate.ClientID(ctx), nil })
	srv.HandleFunc("identity", func(ctx context.Context, args any) (any, error) {
		c, _ := hotstate.CallerFrom(ctx)
		return c.Identity, nil
	})
	srv.HandleFunc("coded", func(ctx context.Context, args any) (any, error) {
		return nil, hotstate.NewError("forbidden", "not yours")
	})
	return srv, store
}

func testSnapshotThenPatches(t *testing.T, mount Mount) {
	srv, _ := newServer()
	p := Dial(t, mount(t, srv, Options{}), nil)
	p.Send(wire.EncodeSub("Todos"))
	snap := p.Expect(wire.TypeSnap)
	if snap.Store != "Todos" || snap.Version != 0 || snap.Epoch == 0 {
		t.Fatalf("snap header %+v", snap)
	}
	if got := Decode(t, snap.Value); !reflect.DeepEqual(got, map[string]any{"items": []any{}}) {
		t.Fatalf("snap data %#v", got)
	}
	res := p.Call(1, "todos.add", addArgs{Text: "Buy milk"})
	if res.Err != nil || !reflect.DeepEqual(Decode(t, res.Value), map[string]any{"id": int64(1)}) {
		t.Fatalf("res %+v", res)
	}
	p.Call(2, "todos.add", addArgs{Text: "Ship it"})
	var patches []wire.Frame
	for len(patches) < 2 {
		if f := p.Next(); f.Type == wire.TypePatch {
			patches = append(patches, f)
		}
	}
	for i, f := range patches {
		if f.Store != "Todos" || f.Epoch != snap.Epoch || f.Version != uint64(i+1) {
			t.Fatalf("patch %d: %+v", i, f)
		}
	}
	op := patches[1].Ops[0]
	want := map[string]any{"id": int64(2), "text": "Ship it", "done": false}
	if op.Op != wire.OpAdd || op.Path != "/items/1" || !reflect.DeepEqual(op.Value, want) {
		t.Fatalf("second patch op %+v", op)
	}
}

// internalPayment is an argument type whose Go names must stay on the
// server: a bad_args message speaks of JSON, not of it.
type internalPayment struct {
	Amount int `json:"amount"`
}

// logBuffer collects a server's log, to see what it kept from a client.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func testFunctions(t *testing.T, mount Mount) {
	var log logBuffer
	srv, _ := newServer(hotstate.WithLogger(slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	hotstate.Handle(srv, "pay", func(_ context.Context, p internalPayment) (int, error) { return p.Amount, nil })
	p := Dial(t, mount(t, srv, Options{}), nil)
	res := p.Call(1, "todos.add", addArgs{Text: "Buy milk"})
	if res.Err != nil || !reflect.DeepEqual(Decode(t, res.Value), map[string]any{"id": int64(1)}) {
		t.Fatalf("result: %+v", res)
	}
	for _, c := range []struct {
		name string
		args any
		code string
		msg  string
	}{
		{"todos.add", addArgs{}, "error", "text is required"},
		{"todos.add", []int{1}, "bad_args", "arguments: expected an object, got an array"},
		{"pay", map[string]any{"amount": "ten"}, "bad_args", `argument "/amount": expected a number, got a string`},
		{"nope", nil, "unknown_function", `unknown function "nope"`},
		{"boom", nil, "internal", "internal server error"},
		{"coded", nil, "forbidden", "not yours"},
		{strings.Repeat("x", 300), nil, "name_too_long", ""},
	} {
		res := p.Call(7, c.name, c.args)
		if res.Err == nil || res.Err.Code != c.code || (c.msg != "" && res.Err.Message != c.msg) {
			t.Errorf("%.10s: got %+v, want code %q message %q", c.name, res.Err, c.code, c.msg)
		}
		if res.Err != nil && strings.Contains(res.Err.Message, "secret") {
			t.Errorf("panic value leaked: %q", res.Err.Message)
		}
		for _, goName := range []string{"Go ", "json", "internalPayment", "addArgs", "hotstatetest", "int"} {
			if c.code == "bad_args" && res.Err != nil && strings.Contains(res.Err.Message, goName) {
				t.Errorf("%s: bad_args message %q names %q", c.name, res.Err.Message, goName)
			}
		}
	}
	if !strings.Contains(log.String(), "internalPayment") {
		t.Errorf("the Go detail of bad_args is not in the server log:\n%s", log.String())
	}
	if got := Decode(t, p.Call(8, "whoami", nil).Value); got != p.ID {
		t.Fatalf("whoami = %v, want %v", got, p.ID)
	}
	if got := Decode(t, p.Call(9, "identity", nil).Value); got != nil {
		t.Fatalf("identity without a hook = %v, want nil", got)
	}
}

// testFrameSizes sends results whose frames cross the WebSocket header's
// length forms (7-bit up to 125 bytes, 16-bit up to 65 535, 64-bit beyond),
// thirty calls in flight at a time so that they also go out in batches.
func testFrameSizes(t *testing.T, mount Mount) {
	srv, _ := newServer()
	hotstate.Handle(srv, "sized", func(_ context.Context, n int) (string, error) {
		return strings.Repeat("a", n), nil
	})
	p := Dial(t, mount(t, srv, Options{}), nil)
	var sizes []int
	for n := 90; n <= 140; n++ {
		sizes = append(sizes, n)
	}
	for n := 65480; n <= 65560; n += 4 {
		sizes = append(sizes, n)
	}
	sizes = append(sizes, 0, 1<<20)
	for start := 0; start < len(sizes); start += 30 {
		batch := sizes[start:min(start+30, len(sizes))]
		for i, n := range batch {
			call, err := wire.EncodeRPC(uint64(i+1), "sized", n)
			if err != nil {
				t.Fatal(err)
			}
			p.Send(call)
		}
		for range batch {
			res := p.Expect(wire.TypeRes)
			if res.Err != nil || res.ID < 1 || int(res.ID) > len(batch) {
				t.Fatalf("res %+v", res)
			}
			if got, want := Decode(t, res.Value), strings.Repeat("a", batch[res.ID-1]); got != want {
				t.Fatalf("call %d: %d bytes back, want %d", res.ID, len(got.(string)), len(want))
			}
		}
	}
}

func testEvents(t *testing.T, mount Mount) {
	srv, _ := newServer()
	u := mount(t, srv, Options{})
	a, b := Dial(t, u, nil), Dial(t, u, nil)
	if err := srv.Emit("notification", map[string]string{"title": "Deployed"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*Peer{a, b} {
		f := p.Expect(wire.TypeEvt)
		if f.Name != "notification" || !reflect.DeepEqual(Decode(t, f.Value), map[string]any{"title": "Deployed"}) {
			t.Fatalf("event %+v", f)
		}
	}
	if err := srv.EmitTo(b.ID, "alert", "only b"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Emit("after", nil); err != nil {
		t.Fatal(err)
	}
	if f := a.Expect(wire.TypeEvt); f.Name != "after" {
		t.Fatalf("a got %q before the broadcast; targeted events must reach one client", f.Name)
	}
	if f := b.Expect(wire.TypeEvt); f.Name != "alert" || Decode(t, f.Value) != "only b" {
		t.Fatalf("b got %+v", f)
	}
	if f := b.Expect(wire.TypeEvt); f.Name != "after" {
		t.Fatalf("b got %q", f.Name)
	}
	if err := srv.EmitTo("nobody", "x", nil); !errors.Is(err, hotstate.ErrUnknownClient) {
		t.Fatalf("EmitTo unknown client: %v", err)
	}
}

func testMissingStore(t *testing.T, mount Mount) {
	srv, _ := newServer()
	p := Dial(t, mount(t, srv, Options{}), nil)
	p.Send(wire.EncodeSub("Missing"))
	if f := p.Expect(wire.TypeErr); f.Store != "Missing" || f.Err == nil || f.Err.Code != wire.CodeNotFound {
		t.Fatalf("missing store: %+v", f)
	}
	p.Send(wire.EncodeSub(strings.Repeat("n", 1000)))
	if f := p.Expect(wire.TypeErr); f.Err == nil || f.Err.Code != wire.CodeNameTooLong {
		t.Fatalf("long name: %+v", f)
	}
	p.Send(wire.EncodeSub("Todos"))
	p.Expect(wire.TypeSnap)
}

func testMalformedFrames(t *testing.T, mount Mount) {
	srv, _ := newServer()
	u := mount(t, srv, Options{})
	p := Dial(t, u, nil)
	for _, c := range []struct {
		name  string
		frame []byte
	}{
		{"not msgpack", []byte{0xc1}},
		{"huge str32", []byte{0xdb, 0xff, 0xff, 0xff, 0xff}},
		{"huge array32", []byte{0xdd, 0x04, 0x00, 0x00, 0x00}},
		{"not a map", []byte{0x93, 1, 2, 3}},
		{"no type", []byte{0x81, 0xa1, 's', 0xa1, 'x'}},
		{"wrong type of s", []byte{0x82, 0xa1, 't', 0x01, 0xa1, 's', 0x05}},
		{"deep nesting", append(append([]byte{0x82, 0xa1, 't', 0x03, 0xa1, 'a'}, strings.Repeat("\x91", 100)...), 0xc0)},
		{"trailing bytes", append(wire.EncodeSub("Todos"), 0x00)},
		{"empty message", []byte{}},
		{"server frame type", []byte{0x81, 0xa1, 't', 0x11}},
	} {
		p.Send(c.frame)
		f := p.Expect(wire.TypeErr)
		want := wire.CodeBadFrame
		if c.name == "server frame type" {
			want = wire.CodeUnknownType
		}
		if f.Err == nil || f.Err.Code != want {
			t.Fatalf("%s: got %+v, want %s", c.name, f.Err, want)
		}
	}
	// The same connection and everyone else still work.
	if res := p.Call(1, "todos.add", addArgs{Text: "still here"}); res.Err != nil {
		t.Fatalf("after bad input: %+v", res.Err)
	}
	q := Dial(t, u, nil)
	q.Send(wire.EncodeSub("Todos"))
	if got := Decode(t, q.Expect(wire.TypeSnap).Value); len(got.(map[string]any)["items"].([]any)) != 1 {
		t.Fatalf("state lost: %v", got)
	}
}

// handshake dials u with header and returns the HTTP response of a refused
// handshake, its body read, or nil when the connection was cut instead.
// An accepted handshake fails the test.
func handshake(t *testing.T, u string, header http.Header) (*http.Response, string) {
	t.Helper()
	// A client of its own, whose idle connections go when the test does.
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: header, HTTPClient: &http.Client{Transport: tr}})
	if err == nil {
		_ = ws.CloseNow()
		t.Fatalf("handshake with %v accepted", header)
	}
	if resp == nil {
		return nil, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func testForeignOrigin(t *testing.T, mount Mount) {
	srv, _ := newServer()
	var connects atomic.Int32
	srv.OnConnect(func(hotstate.Caller) { connects.Add(1) })
	u := mount(t, srv, Options{})
	host := mustHost(t, u)

	resp, _ := handshake(t, u, http.Header{"Origin": {"https://evil.example"}})
	if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: response %v, want 403", resp)
	}
	if n := connects.Load(); n != 0 {
		t.Fatalf("%d connections served for a refused handshake", n)
	}
	Dial(t, u, http.Header{"Origin": {"http://" + host}}) // same origin
	Dial(t, u, nil)                                       // not a browser

	srv2, _ := newServer()
	u2 := mount(t, srv2, Options{OriginPatterns: []string{"*.example"}})
	Dial(t, u2, http.Header{"Origin": {"https://app.example"}})
	if resp, _ := handshake(t, u2, http.Header{"Origin": {"https://app.example.org"}}); resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("origin outside the patterns: response %v, want 403", resp)
	}
}

func mustHost(t *testing.T, u string) string {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return parsed.Host
}

// userHeader carries the identity in the Identity test.
const userHeader = "X-Hotstate-User"

func testIdentity(t *testing.T, mount Mount) {
	srv, _ := newServer()
	connected := make(chan any, 4)
	srv.OnConnect(func(c hotstate.Caller) { connected <- c.Identity })
	u := mount(t, srv, Options{Identity: func(h http.Header) (any, error) {
		switch user := h.Get(userHeader); user {
		case "":
			return nil, errors.New("no user")
		case "panic":
			panic(secret)
		default:
			return user, nil
		}
	}})

	p := Dial(t, u, http.Header{userHeader: {"ada"}})
	if got := Decode(t, p.Call(1, "identity", nil).Value); got != "ada" {
		t.Fatalf("handler sees identity %v, want ada", got)
	}
	if got := <-connected; got != "ada" {
		t.Fatalf("OnConnect sees identity %v, want ada", got)
	}

	resp, body := handshake(t, u, nil)
	if resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no identity: response %v, want 401", resp)
	}
	if strings.Contains(body, "no user") {
		t.Fatalf("the hook's error reached the client: %q", body)
	}

	// A panicking hook is recovered by the adapter (500) or by the HTTP
	// server under it (connection cut); either way its value stays on the
	// server and the server goes on.
	resp, body = handshake(t, u, http.Header{userHeader: {"panic"}})
	if resp != nil && resp.StatusCode < 500 {
		t.Fatalf("panicking hook: status %d, want 5xx or a cut connection", resp.StatusCode)
	}
	if strings.Contains(body, "secret") {
		t.Fatalf("panic value reached the client: %q", body)
	}
	q := Dial(t, u, http.Header{userHeader: {"grace"}})
	if got := Decode(t, q.Call(1, "identity", nil).Value); got != "grace" {
		t.Fatalf("after a panic: identity %v, want grace", got)
	}
	select {
	case got := <-connected:
		if got != "grace" {
			t.Fatalf("OnConnect sees identity %v, want grace", got)
		}
	case <-time.After(wait):
		t.Fatal("no OnConnect for grace")
	}
	if len(connected) != 0 {
		t.Fatalf("a refused handshake was served: identity %v", <-connected)
	}
}

func testOversizeFrame(t *testing.T, mount Mount) {
	srv, _ := newServer(hotstate.WithMaxFrameBytes(1024))
	u := mount(t, srv, Options{})
	p := Dial(t, u, nil)
	p.Send(make([]byte, 1024)) // at the limit: refused as bad input, not closed
	if f := p.Expect(wire.TypeErr); f.Err == nil || f.Err.Code != wire.CodeBadFrame {
		t.Fatalf("frame at the limit: %+v", f)
	}
	p.Send(make([]byte, 2048))
	if code := p.CloseCode(); code != websocket.StatusMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
	Dial(t, u, nil).Call(1, "whoami", nil) // the server goes on
}

func testTextFrame(t *testing.T, mount Mount) {
	srv, _ := newServer()
	p := Dial(t, mount(t, srv, Options{}), nil)
	if err := p.Conn().Write(context.Background(), websocket.MessageText, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if code := p.CloseCode(); code != websocket.StatusUnsupportedData {
		t.Fatalf("close code %d, want 1003", code)
	}
}

func testHeartbeat(t *testing.T, mount Mount) {
	const every = 50 * time.Millisecond
	srv, _ := newServer(hotstate.WithHeartbeat(every))
	gone := make(chan string, 4)
	srv.OnDisconnect(func(c hotstate.Caller) { gone <- c.ID })
	u := mount(t, srv, Options{})

	// A live client answers pings while it reads, and stays.
	var pings atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{
		OnPingReceived: func(context.Context, []byte) bool { pings.Add(1); return true },
	})
	if err != nil {
		t.Fatal(err)
	}
	live := Attach(t, ws)

	// A client that never reads never answers pings.
	dead, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dead.CloseNow()
	select {
	case id := <-gone:
		if id == live.ID {
			t.Fatal("the live client was disconnected")
		}
	case <-time.After(wait):
		t.Fatal("dead peer still connected")
	}

	within(t, "five pings answered", func() bool { return pings.Load() >= 5 })
	if res := live.Call(1, "whoami", nil); res.Err != nil {
		t.Fatalf("live client after heartbeats: %+v", res.Err)
	}
	if len(gone) != 0 {
		t.Fatal("the live client was disconnected")
	}
}

func testShutdown(t *testing.T, mount Mount) {
	srv, _ := newServer()
	u := mount(t, srv, Options{})
	a, b := Dial(t, u, nil), Dial(t, u, nil)
	b.Send(wire.EncodeSub("Todos"))
	b.Expect(wire.TypeSnap)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	for _, p := range []*Peer{a, b} {
		if code := p.CloseCode(); code != websocket.StatusGoingAway {
			t.Fatalf("close code %d, want 1001", code)
		}
	}
	// A connection that arrives during shutdown is closed at once.
	ws, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		return // refused before the upgrade: fine too
	}
	defer ws.CloseNow()
	if _, _, err := ws.Read(ctx); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("connection after shutdown: %v, want 1001", err)
	}
}

func testSlowConsumer(t *testing.T, mount Mount) {
	srv, store := newServer(hotstate.WithMaxQueueBytes(64<<10), hotstate.WithWriteTimeout(time.Second))
	disconnected := make(chan struct{})
	srv.OnDisconnect(func(hotstate.Caller) { close(disconnected) })
	u := mount(t, srv, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageBinary, wire.EncodeSub("Todos")); err != nil {
		t.Fatal(err)
	}
	// Never read; keep mutating until the server gives up on us.
	text := strings.Repeat("x", 1000)
	deadline := time.Now().Add(2 * wait)
	for i := 0; ; i++ {
		select {
		case <-disconnected:
			if n := store.SubscriberCount(); n != 0 {
				t.Fatalf("%d subscribers left", n)
			}
			return
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("slow consumer never disconnected")
		}
		// A different text each time, so every patch carries ~1 KB.
		if err := store.Update(func(s *todos) { s.Items = append(s.Items[:0], item{ID: i, Text: fmt.Sprint(i, text)}) }); err != nil {
			t.Fatal(err)
		}
	}
}

// testOrderingUnderRace has writers mutate while clients subscribe and
// checks every client sees its snapshot's version followed by each later
// version exactly once, ending on the server's state.
func testOrderingUnderRace(t *testing.T, mount Mount) {
	srv := hotstate.New()
	counter := hotstate.NewStore(srv, "Counter", map[string]int{"n": 0})
	u := mount(t, srv, Options{})
	const writers, updates, clients = 4, 100, 6

	var wg sync.WaitGroup
	start := make(chan struct{})
	for range writers {
		wg.Go(func() {
			<-start
			for range updates {
				if err := counter.Update(func(m *map[string]int) { (*m)["n"]++ }); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	peers := make([]*Peer, clients)
	for i := range peers {
		peers[i] = Dial(t, u, nil)
	}
	close(start)
	for _, p := range peers {
		p.Send(wire.EncodeSub("Counter"))
	}
	wg.Wait()
	// Updates queued together may be committed as one version, so a
	// version's count is not its number; every version still follows the
	// one before, and the count only grows, up to the last update.
	final := int64(writers * updates)
	for i, p := range peers {
		snap := p.Expect(wire.TypeSnap)
		n := Decode(t, snap.Value).(map[string]any)["n"].(int64)
		if n < int64(snap.Version) {
			t.Fatalf("client %d: snapshot n=%d at version %d", i, n, snap.Version)
		}
		for v := snap.Version; n < final; {
			f := p.Expect(wire.TypePatch)
			if f.Version != v+1 {
				t.Fatalf("client %d: version %d after %d", i, f.Version, v)
			}
			v = f.Version
			got, _ := f.Ops[0].Value.(int64)
			if got <= n {
				t.Fatalf("client %d: value %v at version %d after %d", i, f.Ops[0].Value, v, n)
			}
			n = got
		}
	}
	if got := counter.Get()["n"]; got != int(final) {
		t.Fatalf("server n=%d", got)
	}
}

func testStoreLifecycle(t *testing.T, mount Mount) {
	srv := hotstate.New()
	type roomState struct {
		Name  string   `json:"name"`
		Lines []string `json:"lines"`
	}
	rooms := hotstate.NewFamily(srv, "Room:*", roomState{Lines: []string{}})
	idle := make(chan string, 4)
	rooms.OnCreate(func(key string, r *roomState) { r.Name = key }).
		OnIdle(func(key string) { rooms.Reset(key); idle <- key })
	p := Dial(t, mount(t, srv, Options{}), nil)
	p.Send(wire.EncodeSub("Room:general"))
	snap := p.Expect(wire.TypeSnap)
	if got := Decode(t, snap.Value); !reflect.DeepEqual(got, map[string]any{"name": "general", "lines": []any{}}) {
		t.Fatalf("room snapshot %v", got)
	}
	p.Send(wire.EncodeUnsub("Room:general"))
	select {
	case key := <-idle:
		if key != "general" || rooms.IsInitialized("general") {
			t.Fatalf("OnIdle for %q; initialised %v", key, rooms.IsInitialized("general"))
		}
	case <-time.After(wait):
		t.Fatal("no OnIdle after unsub")
	}
	p.Send(wire.EncodeSub("Room:general"))
	if again := p.Expect(wire.TypeSnap); again.Epoch == snap.Epoch {
		t.Fatal("epoch unchanged after reset")
	}
	rooms.Delete("general")
	if f := p.Expect(wire.TypeDel); f.Store != "Room:general" {
		t.Fatalf("del %+v", f)
	}
	if n := rooms.SubscriberCount("general"); n != 0 {
		t.Fatalf("%d subscribers after delete", n)
	}
}

// testClientsLeaving checks that a client that vanishes mid-call, and one
// that closes politely, release everything: the call's context ends, the
// subscription goes, OnDisconnect runs. The leak check after it does the rest.
func testClientsLeaving(t *testing.T, mount Mount) {
	srv, store := newServer()
	started, ended := make(chan struct{}, 1), make(chan struct{}, 1)
	srv.HandleFunc("wait", func(ctx context.Context, args any) (any, error) {
		started <- struct{}{}
		<-ctx.Done()
		ended <- struct{}{}
		return nil, ctx.Err()
	})
	gone := make(chan string, 4)
	srv.OnDisconnect(func(c hotstate.Caller) { gone <- c.ID })
	u := mount(t, srv, Options{})
	await := func(ch <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(wait):
			t.Fatalf("%s: not within %v", what, wait)
		}
	}
	awaitGone := func(id string) {
		t.Helper()
		select {
		case got := <-gone:
			if got != id {
				t.Fatalf("OnDisconnect for %s, want %s", got, id)
			}
		case <-time.After(wait):
			t.Fatalf("no OnDisconnect for %s", id)
		}
	}

	p := Dial(t, u, nil)
	p.Send(wire.EncodeSub("Todos"))
	p.Expect(wire.TypeSnap)
	b, err := wire.EncodeRPC(1, "wait", nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Send(b)
	await(started, "call started")
	_ = p.Conn().CloseNow()
	await(ended, "call's context cancelled after the client vanished")
	awaitGone(p.ID)
	if n := store.SubscriberCount(); n != 0 {
		t.Fatalf("%d subscribers after the client vanished", n)
	}

	q := Dial(t, u, nil)
	if err := q.Conn().Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("polite close: %v", err)
	}
	awaitGone(q.ID)
}
