package hothttp_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

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

func newTodoServer(t *testing.T, opts ...hotstate.Option) (*hotstate.Server, *hotstate.Store[todos]) {
	t.Helper()
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
	srv.HandleFunc("boom", func(ctx context.Context, args any) (any, error) { panic("secret detail") })
	srv.HandleFunc("whoami", func(ctx context.Context, args any) (any, error) { return hotstate.ClientID(ctx), nil })
	srv.HandleFunc("coded", func(ctx context.Context, args any) (any, error) {
		return nil, hotstate.NewError("forbidden", "not yours")
	})
	return srv, store
}

func TestSnapshotThenPatches(t *testing.T) {
	srv, _ := newTodoServer(t)
	p := dial(t, wsURL(t, srv))
	p.send(wire.EncodeSub("Todos"))
	snap := p.expect(wire.TypeSnap)
	if snap.Store != "Todos" || snap.Version != 0 || snap.Epoch == 0 {
		t.Fatalf("snap header %+v", snap)
	}
	if got := decode(t, snap.Value); !reflect.DeepEqual(got, map[string]any{"items": []any{}}) {
		t.Fatalf("snap data %#v", got)
	}
	res := p.call(1, "todos.add", addArgs{Text: "Buy milk"})
	if res.Err != nil || !reflect.DeepEqual(decode(t, res.Value), map[string]any{"id": int64(1)}) {
		t.Fatalf("res %+v", res)
	}
	p.call(2, "todos.add", addArgs{Text: "Ship it"})
	var patches []wire.Frame
	for len(patches) < 2 {
		if f := p.next(); f.Type == wire.TypePatch {
			patches = append(patches, f)
		}
	}
	for i, f := range patches {
		if f.Epoch != snap.Epoch || f.Version != uint64(i+1) {
			t.Fatalf("patch %d at epoch %d version %d", i, f.Epoch, f.Version)
		}
	}
	op := patches[1].Ops[0]
	want := map[string]any{"id": int64(2), "text": "Ship it", "done": false}
	if op.Op != wire.OpAdd || op.Path != "/items/1" || !reflect.DeepEqual(op.Value, want) {
		t.Fatalf("second patch op %+v", op)
	}
}

func TestFunctions(t *testing.T) {
	srv, _ := newTodoServer(t)
	p := dial(t, wsURL(t, srv))
	for _, c := range []struct {
		name string
		args any
		code string
		msg  string
	}{
		{"todos.add", addArgs{}, "error", "text is required"},
		{"todos.add", []int{1}, "bad_args", ""},
		{"nope", nil, "unknown_function", `unknown function "nope"`},
		{"boom", nil, "internal", "internal server error"},
		{"coded", nil, "forbidden", "not yours"},
		{strings.Repeat("x", 300), nil, "name_too_long", ""},
	} {
		res := p.call(7, c.name, c.args)
		if res.Err == nil || res.Err.Code != c.code || (c.msg != "" && res.Err.Message != c.msg) {
			t.Errorf("%s: got %+v, want code %q message %q", c.name[:min(len(c.name), 10)], res.Err, c.code, c.msg)
		}
		if res.Err != nil && strings.Contains(res.Err.Message, "secret") {
			t.Errorf("panic value leaked: %q", res.Err.Message)
		}
	}
	res := p.call(8, "whoami", nil)
	if got := decode(t, res.Value); got != p.id {
		t.Fatalf("whoami = %v, want %v", got, p.id)
	}
}

func TestEvents(t *testing.T) {
	srv, _ := newTodoServer(t)
	url := wsURL(t, srv)
	a, b := dial(t, url), dial(t, url)
	if err := srv.Emit("notification", map[string]string{"title": "Deployed"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*peer{a, b} {
		f := p.expect(wire.TypeEvt)
		if f.Name != "notification" || !reflect.DeepEqual(decode(t, f.Value), map[string]any{"title": "Deployed"}) {
			t.Fatalf("event %+v", f)
		}
	}
	if err := srv.EmitTo(b.id, "alert", "only b"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Emit("after", nil); err != nil {
		t.Fatal(err)
	}
	if f := a.expect(wire.TypeEvt); f.Name != "after" {
		t.Fatalf("a got %q before the broadcast; targeted events must reach one client", f.Name)
	}
	if f := b.expect(wire.TypeEvt); f.Name != "alert" {
		t.Fatalf("b got %q", f.Name)
	}
	if err := srv.EmitTo("nobody", "x", nil); !errors.Is(err, hotstate.ErrUnknownClient) {
		t.Fatalf("EmitTo unknown client: %v", err)
	}
}

func TestBadInputKeepsServing(t *testing.T) {
	srv, _ := newTodoServer(t)
	url := wsURL(t, srv)
	p := dial(t, url)
	for name, frame := range map[string][]byte{
		"not msgpack":       {0xc1},
		"huge str32":        {0xdb, 0xff, 0xff, 0xff, 0xff},
		"huge array32":      {0xdd, 0x04, 0x00, 0x00, 0x00},
		"not a map":         {0x93, 1, 2, 3},
		"no type":           {0x81, 0xa1, 's', 0xa1, 'x'},
		"wrong type of s":   {0x82, 0xa1, 't', 0x01, 0xa1, 's', 0x05},
		"deep nesting":      append(append([]byte{0x82, 0xa1, 't', 0x03, 0xa1, 'a'}, []byte(strings.Repeat("\x91", 100))...), 0xc0),
		"trailing bytes":    append(wire.EncodeSub("Todos"), 0x00),
		"server frame type": {0x81, 0xa1, 't', 0x11},
	} {
		p.send(frame)
		f := p.expect(wire.TypeErr)
		want := wire.CodeBadFrame
		if name == "server frame type" {
			want = wire.CodeUnknownType
		}
		if f.Err == nil || f.Err.Code != want {
			t.Fatalf("%s: got %+v, want %s", name, f.Err, want)
		}
	}
	p.send(wire.EncodeSub("Missing"))
	if f := p.expect(wire.TypeErr); f.Store != "Missing" || f.Err.Code != wire.CodeNotFound {
		t.Fatalf("missing store: %+v", f)
	}
	p.send(wire.EncodeSub(strings.Repeat("n", 1000)))
	if f := p.expect(wire.TypeErr); f.Err.Code != wire.CodeNameTooLong {
		t.Fatalf("long name: %+v", f)
	}
	// The same connection and everyone else still work.
	if res := p.call(1, "todos.add", addArgs{Text: "still here"}); res.Err != nil {
		t.Fatalf("after bad input: %+v", res.Err)
	}
	q := dial(t, url)
	q.send(wire.EncodeSub("Todos"))
	if got := decode(t, q.expect(wire.TypeSnap).Value); len(got.(map[string]any)["items"].([]any)) != 1 {
		t.Fatalf("state lost: %v", got)
	}
}

func TestCloseCodes(t *testing.T) {
	srv, _ := newTodoServer(t, hotstate.WithMaxFrameBytes(1024))
	url := wsURL(t, srv)

	t.Run("oversize", func(t *testing.T) {
		p := dial(t, url)
		p.send(make([]byte, 2048))
		if code := p.closeCode(); code != websocket.StatusMessageTooBig {
			t.Fatalf("close code %d, want 1009", code)
		}
	})
	t.Run("text", func(t *testing.T) {
		p := dial(t, url)
		if err := p.ws.Write(context.Background(), websocket.MessageText, []byte("{}")); err != nil {
			t.Fatal(err)
		}
		if code := p.closeCode(); code != websocket.StatusUnsupportedData {
			t.Fatalf("close code %d, want 1003", code)
		}
	})
	t.Run("shutdown", func(t *testing.T) {
		p := dial(t, url)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if code := p.closeCode(); code != websocket.StatusGoingAway {
			t.Fatalf("close code %d, want 1001", code)
		}
	})
}

func TestForeignOriginRejected(t *testing.T) {
	srv, _ := newTodoServer(t)
	url := wsURL(t, srv)
	ctx := context.Background()
	_, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://evil.example"}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: err %v, resp %v", err, resp)
	}
	srv2, _ := newTodoServer(t)
	url2 := wsURL(t, srv2, hothttp.WithOriginPatterns("*.example"))
	ws, _, err := websocket.Dial(ctx, url2, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://app.example"}}})
	if err != nil {
		t.Fatalf("allowed origin refused: %v", err)
	}
	_ = ws.CloseNow()
}

func TestHeartbeatClosesDeadPeer(t *testing.T) {
	srv, _ := newTodoServer(t, hotstate.WithHeartbeat(50*time.Millisecond))
	disconnected := make(chan struct{})
	srv.OnDisconnect(func(hotstate.Caller) { close(disconnected) })
	url := wsURL(t, srv)
	// A client that never reads never answers pings.
	ws, _, err := websocket.Dial(context.Background(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	select {
	case <-disconnected:
	case <-time.After(10 * time.Second):
		t.Fatal("dead peer still connected")
	}
}

func TestSlowConsumerIsDisconnected(t *testing.T) {
	srv, store := newTodoServer(t, hotstate.WithMaxQueueBytes(64<<10), hotstate.WithWriteTimeout(time.Second))
	disconnected := make(chan struct{})
	srv.OnDisconnect(func(hotstate.Caller) { close(disconnected) })
	url := wsURL(t, srv)
	ws, _, err := websocket.Dial(context.Background(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	b := wire.EncodeSub("Todos")
	if err := ws.Write(context.Background(), websocket.MessageBinary, b); err != nil {
		t.Fatal(err)
	}
	// Never read; keep mutating until the server gives up on us.
	text := strings.Repeat("x", 1000)
	deadline := time.Now().Add(20 * time.Second)
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

// TestOrderingUnderRace has writers mutate while clients subscribe and
// checks every client sees its snapshot's version followed by each later
// version exactly once, and ends on the server's state.
func TestOrderingUnderRace(t *testing.T) {
	srv := hotstate.New()
	counter := hotstate.NewStore(srv, "Counter", map[string]int{"n": 0})
	url := wsURL(t, srv)
	const writers, updates, clients = 4, 200, 8

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
	peers := make([]*peer, clients)
	for i := range peers {
		peers[i] = dial(t, url)
	}
	close(start)
	for _, p := range peers {
		p.send(wire.EncodeSub("Counter"))
	}
	wg.Wait()
	final := uint64(writers * updates)
	for i, p := range peers {
		snap := p.expect(wire.TypeSnap)
		n := decode(t, snap.Value).(map[string]any)["n"].(int64)
		if uint64(n) != snap.Version {
			t.Fatalf("client %d: snapshot n=%d at version %d", i, n, snap.Version)
		}
		v := snap.Version
		for v < final {
			f := p.expect(wire.TypePatch)
			if f.Version != v+1 {
				t.Fatalf("client %d: version %d after %d", i, f.Version, v)
			}
			v = f.Version
			if got := f.Ops[0].Value; got != int64(v) {
				t.Fatalf("client %d: value %v at version %d", i, got, v)
			}
		}
	}
	if got := counter.Get()["n"]; got != int(final) {
		t.Fatalf("server n=%d", got)
	}
}

func TestDynamicStoreLifecycleOverTheWire(t *testing.T) {
	srv := hotstate.New()
	type roomState struct {
		Name  string   `json:"name"`
		Lines []string `json:"lines"`
	}
	rooms := hotstate.NewFamily(srv, "Room:*", roomState{Lines: []string{}})
	idle := make(chan string, 4)
	rooms.OnCreate(func(key string, r *roomState) { r.Name = key }).
		OnIdle(func(key string) { rooms.Reset(key); idle <- key })
	url := wsURL(t, srv)
	p := dial(t, url)
	p.send(wire.EncodeSub("Room:general"))
	snap := p.expect(wire.TypeSnap)
	if got := decode(t, snap.Value); !reflect.DeepEqual(got, map[string]any{"name": "general", "lines": []any{}}) {
		t.Fatalf("room snapshot %v", got)
	}
	p.send(wire.EncodeUnsub("Room:general"))
	if key := <-idle; key != "general" || rooms.IsInitialized("general") {
		t.Fatalf("OnIdle for %q; initialised %v", key, rooms.IsInitialized("general"))
	}
	p.send(wire.EncodeSub("Room:general"))
	again := p.expect(wire.TypeSnap)
	if again.Epoch == snap.Epoch {
		t.Fatal("epoch unchanged after reset")
	}
	rooms.Delete("general")
	if f := p.expect(wire.TypeDel); f.Store != "Room:general" {
		t.Fatalf("del %+v", f)
	}
	if n := rooms.SubscriberCount("general"); n != 0 {
		t.Fatalf("%d subscribers after delete", n)
	}
}
