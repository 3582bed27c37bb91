package hotclient_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	hotclient "github.com/hotstate/hotstate/client-go"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// secret is what the failing handlers carry; it must reach the log and
// never a client.
const secret = "password=hunter2 at 10.0.0.7"

// TestHandlerPanicsAndErrors makes every kind of server code fail in every
// way while a client calls and subscribes: handlers that panic, results
// that cannot be encoded, Allow rules and store hooks that panic, and a
// panic inside a store update. The caller gets a generic message, the
// details reach the log only, and the connection, the store and the server
// live on for this client and the others.
func TestHandlerPanicsAndErrors(t *testing.T) {
	timed(t)
	log := newPanicLog(t)
	var failures atomic.Int64
	srv := hotstate.New(hotstate.WithLogger(log.logger()))
	srv.OnError(func(err error, clientID string) { failures.Add(1) })
	todos := hotstate.NewStore(srv, "Todos", Todos{Items: []Todo{}})
	hotstate.NewStore(srv, "Cursed", Todos{}).OnCreate(func(*Todos) { panic(secret) })
	hotstate.NewStore(srv, "Guarded", Todos{}).Allow(func(hotstate.Caller) bool { panic(secret) })
	rooms := hotstate.NewFamily(srv, "Room:*", Room{})
	rooms.OnIdle(func(string) { panic(secret) })
	srv.OnSubscribe(func(store string, _ hotstate.Caller) {
		if store == "Room:listener" {
			panic(secret)
		}
	})

	hotstate.Handle(srv, "panic", func(ctx context.Context, _ any) (any, error) { panic(secret) })
	hotstate.Handle(srv, "nil", func(ctx context.Context, _ any) (int, error) {
		var m map[string]int
		m[secret] = 1 // a runtime error, not a panic(value)
		return 0, nil
	})
	hotstate.Handle(srv, "unencodable", func(ctx context.Context, _ any) (any, error) {
		return map[string]any{"f": func() {}}, nil
	})
	hotstate.Handle(srv, "fails", func(ctx context.Context, _ any) (any, error) {
		return nil, fmt.Errorf("it broke on purpose")
	})
	hotstate.Handle(srv, "coded", func(ctx context.Context, _ any) (any, error) {
		return nil, hotstate.NewError("conflict", "try again")
	})
	hotstate.Handle(srv, "guarded", func(ctx context.Context, _ any) (any, error) { return "ran", nil },
		hotstate.AllowCalls(func(hotstate.Caller) bool { panic(secret) }))
	hotstate.Handle(srv, "update.panics", func(ctx context.Context, _ any) (any, error) {
		return nil, todos.Update(func(s *Todos) {
			s.Items = append(s.Items, Todo{Text: "half done"})
			panic(secret)
		})
	})
	hotstate.Handle(srv, "add", func(ctx context.Context, text string) (int, error) {
		var n int
		err := todos.Update(func(s *Todos) {
			s.Items = append(s.Items, Todo{ID: int64(len(s.Items) + 1), Text: text})
			n = len(s.Items)
		})
		return n, err
	})
	addr, _ := serveOn(t, srv, "127.0.0.1:0")
	url := "ws://" + addr

	c, other := dial(t, url), dial(t, url)
	events, otherEvents := lifecycle(c), lifecycle(other)
	id := c.ID()
	sub := hotclient.SubscribeAs[Todos](c, "Todos", nil)
	if err := sub.Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}

	generic := func(what string, err error) {
		t.Helper()
		re := remote(t, err, wire.CodeInternal, "")
		if re.Message != "internal server error" {
			t.Errorf("%s: message %q", what, re.Message)
		}
	}
	panics := 0
	for _, name := range []string{"panic", "nil", "guarded", "update.panics"} {
		generic(name, c.Call(ctxT(t), name, nil, nil))
		panics++
	}
	generic("unencodable", c.Call(ctxT(t), "unencodable", nil, nil))

	// Errors returned on purpose reach the caller as they are.
	if re := remote(t, c.Call(ctxT(t), "fails", nil, nil), wire.CodeError, ""); re.Message != "it broke on purpose" {
		t.Errorf("returned error: %q", re.Message)
	}
	if re := remote(t, c.Call(ctxT(t), "coded", nil, nil), "conflict", ""); re.Message != "try again" {
		t.Errorf("coded error: %q", re.Message)
	}

	// Panics in store hooks and Allow rules refuse that subscription only,
	// with a generic error the client can tie to it.
	for _, name := range []string{"Cursed", "Guarded"} {
		re := remote(t, c.Subscribe(name, nil).Ready(ctxT(t)), wire.CodeInternal, name)
		if re.Message != "internal server error" {
			t.Errorf("%s: message %q", name, re.Message)
		}
		panics++
	}
	// A panicking listener is logged; the subscription it watched stands.
	room := c.Subscribe("Room:listener", nil)
	if err := room.Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	panics++
	// A panicking OnIdle runs when the last subscriber leaves.
	room.Unsubscribe()
	panics++
	log.expect(panics)
	eventually(t, "the panics to be logged", func() bool { return log.count() == panics })

	// The store that panicked mid-update is unchanged and still works.
	var n int
	if err := c.Call(ctxT(t), "add", "after", &n); err != nil || n != 1 {
		t.Fatalf("add after the panics: %d, %v", n, err)
	}
	eventually(t, "the update", func() bool { return len(sub.State().Items) == 1 })
	if got := texts(todos.Get()); len(got) != 1 || got[0] != "after" {
		t.Fatalf("store holds %v", got)
	}
	// Same connection all along, the other client undisturbed.
	if c.ID() != id {
		t.Fatal("the client reconnected")
	}
	noTrouble(t, events, wire.CodeInternal)
	if err := other.Call(ctxT(t), "add", "other", &n); err != nil || n != 2 {
		t.Fatalf("the other client: %d, %v", n, err)
	}
	noTrouble(t, otherEvents)
	// The details are in the log, for the operator.
	if !strings.Contains(log.text(), secret) {
		t.Error("the panic value was not logged")
	}
	if failures.Load() == 0 {
		t.Error("OnError heard nothing")
	}
}
