package hotclient_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	hotclient "github.com/hotstate/hotstate/client-go"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// The refusal tests run subscriptions the server refuses over real
// connections: for now under a rate limit, where the client must retry
// until it has every store back, and for good, where the handle must end
// and say why instead of showing frozen state as if it were live.

// failureFor reports whether e is a Failure about store.
func failureFor(store string) func(hotclient.Lifecycle) bool {
	return func(e hotclient.Lifecycle) bool { return e.Kind == hotclient.Failure && e.Store == store }
}

// TestRefusedResumesRetriedUnderRateLimit subscribes to more stores than
// the server's burst, cuts the connection, and checks that every store
// comes back live after the reconnection, although most resumes are
// refused with "rate_limited" at first.
func TestRefusedResumesRetriedUnderRateLimit(t *testing.T) {
	timed(t)
	const stores, burst = 20, 5
	srv := hotstate.New(hotstate.WithRateLimit(20, burst))
	rooms := hotstate.NewFamily(srv, "Room:*", Room{Messages: []string{}})
	addr, _ := serveOn(t, srv, "127.0.0.1:0")
	p := newProxy(t, addr)
	c := dial(t, p.URL(), fast...)
	events := lifecycle(c)

	subs := make([]*hotclient.TypedSubscription[Room], stores)
	for i := range subs {
		subs[i] = hotclient.SubscribeAs[Room](c, fmt.Sprintf("Room:%d", i), nil)
	}
	// The first subscriptions are past the burst too, and retried alike.
	for _, s := range subs {
		if err := s.Ready(ctxT(t)); err != nil {
			t.Fatalf("%s: %v", s.Name(), err)
		}
	}
	say := func(msg string) {
		t.Helper()
		for i := range subs {
			if err := rooms.Update(fmt.Sprint(i), func(r *Room) { r.Messages = append(r.Messages, msg) }); err != nil {
				t.Fatal(err)
			}
		}
	}
	converged := func(want ...string) {
		t.Helper()
		for _, s := range subs {
			eventually(t, s.Name()+" to converge", func() bool {
				return slices.Equal(s.State().Messages, want) && !s.Stale() && s.Err() == nil
			})
		}
	}
	say("before")
	converged("before")

	p.Cut()
	until(t, events, kind(hotclient.Disconnected))
	until(t, events, kind(hotclient.Connected))
	say("after")
	converged("before", "after")

	// The resumes did meet the limit, and each refused store was reported.
	refused := 0
	for len(events) > 0 {
		e := <-events
		var re *hotclient.RemoteError
		if e.Kind == hotclient.Failure && errors.As(e.Err, &re) && re.Code == wire.CodeRateLimited {
			refused++
		}
	}
	if refused < stores-burst-1 {
		t.Fatalf("%d stores refused after the reconnection, want about %d", refused, stores-burst)
	}
	// One server subscription per store, none left over from the retries.
	for i := range subs {
		key := fmt.Sprint(i)
		eventually(t, "one subscription to Room:"+key, func() bool { return rooms.SubscriberCount(key) == 1 })
	}
}

// TestRefusedResyncRetried makes the client ask for a fresh snapshot while
// the connection's rate limit is exhausted: the handle shows its last state
// as stale until a retry brings the snapshot, then is live again.
func TestRefusedResyncRetried(t *testing.T) {
	timed(t)
	srv := hotstate.New(hotstate.WithRateLimit(0.5, 3))
	todos := hotstate.NewStore(srv, "Todos", Todos{Items: []Todo{}})
	hotstate.Handle(srv, "ping", func(context.Context, any) (string, error) { return "pong", nil })
	addr, _ := serveOn(t, srv, "127.0.0.1:0")
	c := dial(t, "ws://"+addr, fast...)
	events := lifecycle(c)
	sub := hotclient.SubscribeAs[Todos](c, "Todos", nil)
	if err := sub.Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	// Seen from the callback, which runs right after the refusal, long
	// before the bucket has a token for the retry.
	stale := make(chan bool, 1)
	c.OnLifecycle(func(e hotclient.Lifecycle) {
		if e.Kind == hotclient.Failure && e.Store == "Todos" {
			select {
			case stale <- sub.Stale():
			default:
			}
		}
	})
	// Empty the bucket: the next frame from the client is refused.
	for {
		err := c.Call(ctxT(t), "ping", nil, nil)
		var re *hotclient.RemoteError
		if errors.As(err, &re) && re.Code == wire.CodeRateLimited {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// A patch the client cannot apply makes it ask for a snapshot.
	if err := todos.UpdateOps(func(s *Todos) []hotstate.Op {
		s.Items = append(s.Items, Todo{ID: 1, Text: "truth"})
		return []hotstate.Op{hotstate.RemoveOp("/no/such/path")}
	}); err != nil {
		t.Fatal(err)
	}
	e := until(t, events, failureFor("Todos"))
	remote(t, e.Err, wire.CodeRateLimited, "Todos")
	if !recv(t, stale) {
		t.Fatal("the handle did not show its state as stale while the resync was refused")
	}
	eventually(t, "the retried snapshot", func() bool {
		return slices.Equal(texts(sub.State()), []string{"truth"}) && !sub.Stale()
	})
	if err := sub.Err(); err != nil {
		t.Fatalf("Err after the retry: %v", err)
	}
	if err := todos.Update(func(s *Todos) { s.Items[0].Done = true }); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the next patch", func() bool { return sub.State().Items[0].Done })
}

// TestRefusedForGoodAfterReconnect denies a store once the client held it:
// the resume after a reconnection is refused with "forbidden", which ends
// the handle with that error while its last state stays readable.
func TestRefusedForGoodAfterReconnect(t *testing.T) {
	timed(t)
	var deny atomic.Bool
	srv := hotstate.New()
	todos := hotstate.NewStore(srv, "Todos", Todos{Items: []Todo{}}).
		Allow(func(hotstate.Caller) bool { return !deny.Load() })
	rooms := hotstate.NewFamily(srv, "Room:*", Room{Messages: []string{}})
	addr, _ := serveOn(t, srv, "127.0.0.1:0")
	p := newProxy(t, addr)
	c := dial(t, p.URL(), fast...)
	events := lifecycle(c)

	sub := hotclient.SubscribeAs[Todos](c, "Todos", nil)
	room := hotclient.SubscribeAs[Room](c, "Room:open", nil)
	for _, err := range []error{sub.Ready(ctxT(t)), room.Ready(ctxT(t))} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := todos.Update(func(s *Todos) { s.Items = append(s.Items, Todo{Text: "before"}) }); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the update", func() bool { return slices.Equal(texts(sub.State()), []string{"before"}) })

	deny.Store(true)
	p.Cut()
	e := until(t, events, failureFor("Todos"))
	remote(t, e.Err, wire.CodeForbidden, "Todos")
	remote(t, sub.Err(), wire.CodeForbidden, "Todos")
	remote(t, sub.Ready(ctxT(t)), wire.CodeForbidden, "Todos")
	if !sub.HasData() || !sub.Stale() {
		t.Fatalf("HasData %v, Stale %v: want the last state, marked stale", sub.HasData(), sub.Stale())
	}
	if got := texts(sub.State()); !slices.Equal(got, []string{"before"}) {
		t.Fatalf("the last state is gone: %v", got)
	}

	// The connection lives on for the other store; the ended handle gets
	// nothing more.
	if err := todos.Update(func(s *Todos) { s.Items = append(s.Items, Todo{Text: "after"}) }); err != nil {
		t.Fatal(err)
	}
	if err := rooms.Update("open", func(r *Room) { r.Messages = append(r.Messages, "hi") }); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the room's update", func() bool { return slices.Equal(room.State().Messages, []string{"hi"}) })
	if got := texts(sub.State()); !slices.Equal(got, []string{"before"}) || room.Stale() || room.Err() != nil {
		t.Fatalf("ended handle %v, room stale %v, err %v", got, room.Stale(), room.Err())
	}

	// Subscribing again asks the server again.
	remote(t, c.Subscribe("Todos", nil).Ready(ctxT(t)), wire.CodeForbidden, "Todos")
	deny.Store(false)
	again := hotclient.SubscribeAs[Todos](c, "Todos", nil)
	if err := again.Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got := texts(again.State()); !slices.Equal(got, []string{"before", "after"}) {
		t.Fatalf("subscribed again: %v", got)
	}
	remote(t, sub.Err(), wire.CodeForbidden, "Todos")
}

// TestRefusedResyncForGood denies a store the connection holds, then makes
// the client ask for a fresh snapshot: the refusal ends the handle, and
// the client drops the subscription the server still held.
func TestRefusedResyncForGood(t *testing.T) {
	timed(t)
	var deny atomic.Bool
	srv := hotstate.New()
	todos := hotstate.NewStore(srv, "Todos", Todos{Items: []Todo{}}).
		Allow(func(hotstate.Caller) bool { return !deny.Load() })
	addr, _ := serveOn(t, srv, "127.0.0.1:0")
	c := dial(t, "ws://"+addr, fast...)
	events := lifecycle(c)
	sub := hotclient.SubscribeAs[Todos](c, "Todos", nil)
	if err := sub.Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	deny.Store(true)
	if err := todos.UpdateOps(func(s *Todos) []hotstate.Op {
		s.Items = append(s.Items, Todo{ID: 1, Text: "unseen"})
		return []hotstate.Op{hotstate.RemoveOp("/no/such/path")}
	}); err != nil {
		t.Fatal(err)
	}
	e := until(t, events, failureFor("Todos"))
	remote(t, e.Err, wire.CodeForbidden, "Todos")
	remote(t, sub.Ready(ctxT(t)), wire.CodeForbidden, "Todos")
	if !sub.Stale() || len(sub.State().Items) != 0 {
		t.Fatalf("Stale %v, state %v", sub.Stale(), sub.State())
	}
	eventually(t, "the server to drop the subscription", func() bool { return todos.SubscriberCount() == 0 })
}
