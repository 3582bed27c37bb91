package hotclient_test

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	hotclient "github.com/hotstate/hotstate/client-go"
	hotstate "github.com/hotstate/hotstate/core"
)

func TestSubscribeBeforeConnect(t *testing.T) {
	a := newApp(t, "127.0.0.1:0", Todo{ID: 1, Text: "Buy milk"})
	c := hotclient.New()
	t.Cleanup(func() { _ = c.Close() })
	states, onChange := collect[any]()
	sub := c.Subscribe("Todos", onChange)
	if sub.HasData() || sub.State() != nil {
		t.Fatal("data before connecting")
	}
	if err := c.Connect(a.url()); err != nil {
		t.Fatal(err)
	}
	if err := sub.Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"items": []any{map[string]any{"id": int64(1), "text": "Buy milk", "done": false}}}
	if got := sub.State(); !reflect.DeepEqual(got, want) {
		t.Fatalf("State = %#v, want %#v", got, want)
	}
	if got := recv(t, states); !reflect.DeepEqual(got, want) {
		t.Fatalf("onChange got %#v, want %#v", got, want)
	}
	if c.ID() == "" {
		t.Fatal("no client id")
	}
}

func TestSnapshotThenPatches(t *testing.T) {
	a := newApp(t, "127.0.0.1:0")
	c := dial(t, a.url())
	states, onChange := collect[Todos]()
	sub := hotclient.SubscribeAs(c, "Todos", onChange)
	if err := sub.Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"a", "b", "c"} {
		if err := a.todos.Update(func(s *Todos) {
			s.Items = append(s.Items, Todo{ID: int64(len(s.Items) + 1), Text: text})
		}); err != nil {
			t.Fatal(err)
		}
	}
	// One callback per version, in order: the snapshot, then each patch.
	for _, want := range [][]string{{}, {"a"}, {"a", "b"}, {"a", "b", "c"}} {
		if got := texts(recv(t, states)); !slices.Equal(got, want) {
			t.Fatalf("state %v, want %v", got, want)
		}
	}
	if got := texts(sub.ServerState()); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("ServerState %v", got)
	}

	// A patch copies only what is on its path: the other items are the
	// very maps the previous state held.
	before := sub.Untyped().State().(map[string]any)["items"].([]any)
	if err := a.todos.Update(func(s *Todos) { s.Items[1].Done = true }); err != nil {
		t.Fatal(err)
	}
	until(t, states, func(s Todos) bool { return s.Items[1].Done })
	after := sub.Untyped().State().(map[string]any)["items"].([]any)
	same := func(i int) bool {
		return reflect.ValueOf(before[i]).UnsafePointer() == reflect.ValueOf(after[i]).UnsafePointer()
	}
	if !same(0) || !same(2) || same(1) {
		t.Fatal("the patch did not share the unchanged items")
	}
}

func TestFamilyInstance(t *testing.T) {
	a := newApp(t, "127.0.0.1:0")
	c := dial(t, a.url())
	room := hotclient.SubscribeAs[Room](c, "Room:general", nil)
	if err := room.Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got := room.State(); got.Name != "general" || len(got.Messages) != 0 {
		t.Fatalf("room %+v", got)
	}
	if err := a.rooms.Update("general", func(r *Room) { r.Messages = append(r.Messages, "hi") }); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the message", func() bool { return slices.Equal(room.State().Messages, []string{"hi"}) })
}

func TestCall(t *testing.T) {
	a := newApp(t, "127.0.0.1:0")
	c := dial(t, a.url())
	ctx := ctxT(t)

	var added Todo
	if err := c.Call(ctx, "todos.add", map[string]string{"text": "Buy milk"}, &added); err != nil {
		t.Fatal(err)
	}
	if added != (Todo{ID: 1, Text: "Buy milk"}) {
		t.Fatalf("result %+v", added)
	}

	var re *hotclient.RemoteError
	err := c.Call(ctx, "fail", nil, nil)
	if !errors.As(err, &re) || re.Code != "error" || re.Message != "it broke" {
		t.Fatalf("handler error: %v", err)
	}
	err = c.Call(ctx, "nope", nil, nil)
	if !errors.As(err, &re) || re.Code != "unknown_function" {
		t.Fatalf("unknown function: %v", err)
	}
}

func TestOptimisticRollback(t *testing.T) {
	a := newApp(t, "127.0.0.1:0", Todo{ID: 1, Text: "real"})
	c := dial(t, a.url())
	sub := hotclient.SubscribeAs[Todos](c, "Todos", nil)
	if err := sub.Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		errc <- c.Call(ctxT(t), "block", nil, nil, hotclient.WithOptimisticAs("Todos", func(s Todos) Todos {
			s.Items = append(s.Items, Todo{ID: -1, Text: "guess"})
			return s
		}))
	}()
	<-a.entered
	if got := texts(sub.State()); !slices.Equal(got, []string{"real", "guess"}) {
		t.Fatalf("State with overlay %v", got)
	}
	if got := texts(sub.ServerState()); !slices.Equal(got, []string{"real"}) {
		t.Fatalf("ServerState %v", got)
	}
	a.gate <- errors.New("refused")
	var re *hotclient.RemoteError
	if err := recv(t, errc); !errors.As(err, &re) || re.Message != "refused" {
		t.Fatalf("call: %v", err)
	}
	if got := texts(sub.State()); !slices.Equal(got, []string{"real"}) {
		t.Fatalf("State after rollback %v", got)
	}
}

func TestOptimisticConfirmed(t *testing.T) {
	a := newApp(t, "127.0.0.1:0")
	c := dial(t, a.url())
	states, onChange := collect[any]()
	sub := c.Subscribe("Todos", onChange)
	if err := sub.Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	recv(t, states)
	errc := make(chan error, 1)
	go func() {
		errc <- c.Call(ctxT(t), "block", nil, nil, hotclient.WithOptimistic("Todos", func(state any) any {
			m := state.(map[string]any)
			m["items"] = append(m["items"].([]any), map[string]any{"id": int64(-1), "text": "guess", "done": false})
			return m
		}))
	}()
	<-a.entered
	count := func(s any) int { return len(s.(map[string]any)["items"].([]any)) }
	if got := count(recv(t, states)); got != 1 {
		t.Fatalf("overlay shows %d items", got)
	}
	if count(sub.ServerState()) != 0 {
		t.Fatal("the overlay leaked into ServerState")
	}
	// A server change while the call is pending: the overlay is applied
	// on top of the new state.
	if err := a.todos.Update(func(s *Todos) { s.Items = append(s.Items, Todo{ID: 1, Text: "real"}) }); err != nil {
		t.Fatal(err)
	}
	if got := count(recv(t, states)); got != 2 {
		t.Fatalf("rebased overlay shows %d items", got)
	}
	a.gate <- nil
	if err := recv(t, errc); err != nil {
		t.Fatal(err)
	}
	if got := count(sub.State()); got != 1 {
		t.Fatalf("after the answer State has %d items", got)
	}
}

func TestOptimisticTimeout(t *testing.T) {
	a := newApp(t, "127.0.0.1:0")
	c := dial(t, a.url())
	sub := hotclient.SubscribeAs[Todos](c, "Todos", nil)
	if err := sub.Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	err := c.Call(ctxT(t), "block", nil, nil, hotclient.WithCallTimeout(50*time.Millisecond),
		hotclient.WithOptimisticAs("Todos", func(s Todos) Todos {
			s.Items = append(s.Items, Todo{Text: "guess"})
			return s
		}))
	if !errors.Is(err, hotclient.ErrRPCTimeout) {
		t.Fatalf("call: %v", err)
	}
	if len(sub.State().Items) != 0 {
		t.Fatal("the overlay outlived the timeout")
	}
	<-a.entered
	a.gate <- nil // the late answer is ignored
}

func TestEvents(t *testing.T) {
	a := newApp(t, "127.0.0.1:0")
	c1 := dial(t, a.url())
	c2 := dial(t, a.url())
	type note struct {
		Title string `json:"title"`
	}
	ch1, on1 := collect[note]()
	ch2, on2 := collect[note]()
	hotclient.OnAs(c1, "note", on1)
	off := hotclient.OnAs(c2, "note", on2)

	if err := a.srv.Emit("note", note{Title: "Deployed"}); err != nil {
		t.Fatal(err)
	}
	if recv(t, ch1).Title != "Deployed" || recv(t, ch2).Title != "Deployed" {
		t.Fatal("broadcast not received")
	}

	if err := a.srv.EmitTo(c1.ID(), "note", note{Title: "private"}); err != nil {
		t.Fatal(err)
	}
	if err := a.srv.Emit("note", note{Title: "marker"}); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, ch1).Title; got != "private" {
		t.Fatalf("c1 got %q", got)
	}
	recv(t, ch1)
	// Events arrive in order, so c2 sees the marker first if it was not
	// sent the private event.
	if got := recv(t, ch2).Title; got != "marker" {
		t.Fatalf("c2 got %q", got)
	}

	off()
	untyped := make(chan any, 8)
	c2.On("note", func(data any) { untyped <- data })
	if err := a.srv.Emit("note", map[string]any{"title": "last"}); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, untyped); !reflect.DeepEqual(got, map[string]any{"title": "last"}) {
		t.Fatalf("untyped event %#v", got)
	}
	if len(ch2) != 0 {
		t.Fatal("a removed listener was called")
	}
}

func TestMissingStore(t *testing.T) {
	a := newApp(t, "127.0.0.1:0")
	c := dial(t, a.url())
	events := lifecycle(c)
	sub := c.Subscribe("Nope", nil)
	var re *hotclient.RemoteError
	if err := sub.Ready(ctxT(t)); !errors.As(err, &re) || re.Code != "not_found" || re.Store != "Nope" {
		t.Fatalf("Ready: %v", err)
	}
	e := until(t, events, kind(hotclient.Failure))
	if e.Store != "Nope" || !errors.As(e.Err, &re) {
		t.Fatalf("lifecycle %+v", e)
	}
	if sub.HasData() {
		t.Fatal("data for a missing store")
	}
}

func TestStoreDeleted(t *testing.T) {
	a := newApp(t, "127.0.0.1:0", Todo{ID: 1, Text: "old"})
	c := dial(t, a.url())
	events := lifecycle(c)
	states, onChange := collect[Todos]()
	sub := hotclient.SubscribeAs(c, "Todos", onChange)
	if err := sub.Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := a.todos.Update(func(s *Todos) { s.Items = append(s.Items, Todo{Text: "added"}) }); err != nil {
		t.Fatal(err)
	}
	until(t, states, func(s Todos) bool { return len(s.Items) == 2 })
	a.todos.Delete()
	if e := until(t, events, kind(hotclient.StoreDeleted)); e.Store != "Todos" {
		t.Fatalf("lifecycle %+v", e)
	}
	if got := texts(sub.State()); !slices.Equal(got, []string{"old", "added"}) {
		t.Fatalf("the last state is gone: %v", got)
	}
	// A new subscription creates the store anew; the old handle stays
	// quiet.
	fresh := hotclient.SubscribeAs[Todos](c, "Todos", nil)
	if err := fresh.Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got := texts(fresh.State()); !slices.Equal(got, []string{"old"}) {
		t.Fatalf("recreated store %v, want the defaults", got)
	}
	if len(states) != 0 {
		t.Fatal("the deleted handle got an update")
	}
	sub.Unsubscribe() // harmless
}

func TestHandlesAreIndependent(t *testing.T) {
	a := newApp(t, "127.0.0.1:0")
	c := dial(t, a.url())
	ch1, on1 := collect[Todos]()
	ch2, on2 := collect[Todos]()
	h1 := hotclient.SubscribeAs(c, "Todos", on1)
	if err := h1.Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	recv(t, ch1)
	h2 := hotclient.SubscribeAs(c, "Todos", on2)
	recv(t, ch2) // the state the first handle already had
	if !h2.HasData() {
		t.Fatal("second handle has no data")
	}
	eventually(t, "one server subscription", func() bool { return a.todos.SubscriberCount() == 1 })

	h1.Unsubscribe()
	if err := a.todos.Update(func(s *Todos) { s.Items = append(s.Items, Todo{Text: "x"}) }); err != nil {
		t.Fatal(err)
	}
	if got := texts(recv(t, ch2)); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("second handle got %v", got)
	}
	if len(ch1) != 0 {
		t.Fatal("an unsubscribed handle was called")
	}
	h2.Unsubscribe()
	eventually(t, "the unsubscription", func() bool { return a.todos.SubscriberCount() == 0 })
}

func TestBadPatchResubscribes(t *testing.T) {
	a := newApp(t, "127.0.0.1:0")
	c := dial(t, a.url())
	states, onChange := collect[Todos]()
	sub := hotclient.SubscribeAs(c, "Todos", onChange)
	if err := sub.Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	// The server changes its state but describes the change wrongly: the
	// client cannot apply it and asks for a snapshot.
	if err := a.todos.UpdateOps(func(s *Todos) []hotstate.Op {
		s.Items = append(s.Items, Todo{ID: 7, Text: "truth"})
		return []hotstate.Op{hotstate.RemoveOp("/no/such/path")}
	}); err != nil {
		t.Fatal(err)
	}
	until(t, states, func(s Todos) bool { return slices.Equal(texts(s), []string{"truth"}) })
	if err := a.todos.Update(func(s *Todos) { s.Items[0].Done = true }); err != nil {
		t.Fatal(err)
	}
	until(t, states, func(s Todos) bool { return len(s.Items) == 1 && s.Items[0].Done })
}

func TestRPCTimeoutWhenServerStopsAnswering(t *testing.T) {
	a := newApp(t, "127.0.0.1:0")
	p := newProxy(t, a.addr)
	c := dial(t, p.URL(), hotclient.WithRPCTimeout(100*time.Millisecond))
	p.Pause()
	err := c.Call(ctxT(t), "todos.add", map[string]string{"text": "lost"}, nil)
	if !errors.Is(err, hotclient.ErrRPCTimeout) || err.Error() != "RPC timeout" {
		t.Fatalf("call: %v", err)
	}
	p.Resume()
	// The first call's late answer is ignored; the next call gets its own.
	var added Todo
	if err := c.Call(ctxT(t), "todos.add", map[string]string{"text": "next"}, &added, hotclient.WithCallTimeout(wait)); err != nil {
		t.Fatal(err)
	}
	if added.Text != "next" {
		t.Fatalf("result %+v", added)
	}
}

func TestDisconnectDuringCall(t *testing.T) {
	a := newApp(t, "127.0.0.1:0")
	p := newProxy(t, a.addr)
	c := dial(t, p.URL(), fast...)
	events := lifecycle(c)
	sub := hotclient.SubscribeAs[Todos](c, "Todos", nil)
	if err := sub.Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		errc <- c.Call(ctxT(t), "block", nil, nil, hotclient.WithOptimisticAs("Todos", func(s Todos) Todos {
			s.Items = append(s.Items, Todo{Text: "guess"})
			return s
		}))
	}()
	<-a.entered
	p.Cut()
	if err := recv(t, errc); !errors.Is(err, hotclient.ErrDisconnected) || err.Error() != "Disconnected" {
		t.Fatalf("call: %v", err)
	}
	if len(sub.State().Items) != 0 {
		t.Fatal("the overlay outlived the connection")
	}
	until(t, events, kind(hotclient.Disconnected))
	until(t, events, kind(hotclient.Connected))
	if err := c.Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	var added Todo
	if err := c.Call(ctxT(t), "todos.add", map[string]string{"text": "after"}, &added); err != nil {
		t.Fatal(err)
	}
	if added.Text != "after" {
		t.Fatalf("result %+v", added)
	}
}

func TestResumeAfterCut(t *testing.T) {
	a := newApp(t, "127.0.0.1:0")
	p := newProxy(t, a.addr)
	c := dial(t, p.URL(), fast...)
	states, onChange := collect[Todos]()
	sub := hotclient.SubscribeAs(c, "Todos", onChange)
	if err := sub.Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	// The patch is held by the paused proxy and lost with the connection;
	// the client gets it again when it resumes on the next one.
	p.Pause()
	if err := a.todos.Update(func(s *Todos) { s.Items = append(s.Items, Todo{Text: "missed"}) }); err != nil {
		t.Fatal(err)
	}
	p.Cut()
	p.Resume()
	until(t, states, func(s Todos) bool { return slices.Equal(texts(s), []string{"missed"}) })
	if err := a.todos.Update(func(s *Todos) { s.Items = append(s.Items, Todo{Text: "next"}) }); err != nil {
		t.Fatal(err)
	}
	until(t, states, func(s Todos) bool { return slices.Equal(texts(s), []string{"missed", "next"}) })
	if p.Accepted() != 2 {
		t.Fatalf("%d connections", p.Accepted())
	}
}

func TestServerRestart(t *testing.T) {
	a1 := newApp(t, "127.0.0.1:0", Todo{ID: 1, Text: "first server"})
	c := dial(t, a1.url(), fast...)
	events := lifecycle(c)
	states, onChange := collect[Todos]()
	sub := hotclient.SubscribeAs(c, "Todos", onChange)
	if err := sub.Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	firstID := c.ID()

	a1.stop()
	until(t, events, kind(hotclient.Disconnected))
	// Attempts fail while nothing listens, each after a longer backoff.
	for attempt := 1; attempt <= 3; attempt++ {
		e := until(t, events, kind(hotclient.Reconnecting))
		if e.Attempt != attempt || e.Delay < 0 || e.Delay >= 50*time.Millisecond || e.Err == nil {
			t.Fatalf("reconnecting %+v", e)
		}
	}

	a2 := newApp(t, a1.addr, Todo{ID: 1, Text: "second server"})
	until(t, states, func(s Todos) bool { return slices.Equal(texts(s), []string{"second server"}) })
	if c.ID() == firstID {
		t.Fatal("same client id on the new server")
	}
	if err := a2.todos.Update(func(s *Todos) { s.Items[0].Done = true }); err != nil {
		t.Fatal(err)
	}
	until(t, states, func(s Todos) bool { return len(s.Items) == 1 && s.Items[0].Done })
}

func TestCloseStopsReconnecting(t *testing.T) {
	a := newApp(t, "127.0.0.1:0")
	p := newProxy(t, a.addr)
	c := dial(t, p.URL(), hotclient.WithReconnectDelay(time.Hour), hotclient.WithReconnectMax(time.Hour))
	events := lifecycle(c)
	p.Cut()
	until(t, events, kind(hotclient.Reconnecting))

	done := make(chan struct{})
	go func() {
		_ = c.Close()
		close(done)
	}()
	recv(t, done) // Close does not wait out the backoff
	if n := p.Accepted(); n != 1 {
		t.Fatalf("%d connections after Close", n)
	}
	if err := c.Ready(ctxT(t)); !errors.Is(err, hotclient.ErrClosed) {
		t.Fatalf("Ready after Close: %v", err)
	}
	if err := c.Call(ctxT(t), "todos.add", nil, nil); !errors.Is(err, hotclient.ErrClosed) {
		t.Fatalf("Call after Close: %v", err)
	}
	if err := c.Subscribe("Todos", nil).Ready(ctxT(t)); !errors.Is(err, hotclient.ErrClosed) {
		t.Fatalf("Subscribe after Close: %v", err)
	}
}

func TestCloseFromCallback(t *testing.T) {
	a := newApp(t, "127.0.0.1:0")
	gone := make(chan string, 1)
	a.srv.OnDisconnect(func(caller hotstate.Caller) { gone <- caller.ID })
	c := dial(t, a.url())
	closed := make(chan struct{})
	c.On("bye", func(any) {
		_ = c.Close()
		close(closed)
	})
	if err := a.srv.Emit("bye", nil); err != nil {
		t.Fatal(err)
	}
	recv(t, closed)
	if id := recv(t, gone); id != c.ID() {
		t.Fatalf("%s left, not %s", id, c.ID())
	}
}

func TestNoReconnect(t *testing.T) {
	a := newApp(t, "127.0.0.1:0")
	c := dial(t, a.url(), hotclient.WithReconnect(false))
	events := lifecycle(c)
	a.stop()
	until(t, events, kind(hotclient.Disconnected))
	if err := c.Ready(ctxT(t)); !errors.Is(err, hotclient.ErrDisconnected) {
		t.Fatalf("Ready: %v", err)
	}
	if err := c.Call(ctxT(t), "todos.add", nil, nil); !errors.Is(err, hotclient.ErrDisconnected) {
		t.Fatalf("Call: %v", err)
	}

	// Nothing listens at the address any more: Dial fails, and says why.
	_, err := hotclient.Dial(ctxT(t), a.url(), hotclient.WithReconnect(false))
	if !errors.Is(err, hotclient.ErrDisconnected) {
		t.Fatalf("Dial: %v", err)
	}
}

func TestSlowNetwork(t *testing.T) {
	a := newApp(t, "127.0.0.1:0")
	p := newProxy(t, a.addr)
	p.Delay(5 * time.Millisecond)
	c := dial(t, p.URL())
	states, onChange := collect[Todos]()
	sub := hotclient.SubscribeAs(c, "Todos", onChange)
	if err := sub.Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	recv(t, states)
	// Calls answered late still see their own results, and every version
	// still arrives once, in order.
	for i, text := range []string{"a", "b", "c"} {
		var added Todo
		if err := c.Call(ctxT(t), "todos.add", map[string]string{"text": text}, &added); err != nil {
			t.Fatal(err)
		}
		if added.ID != int64(i+1) {
			t.Fatalf("result %+v", added)
		}
		if got := len(recv(t, states).Items); got != i+1 {
			t.Fatalf("state %d has %d items", i+1, got)
		}
	}
}
