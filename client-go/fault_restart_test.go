package hotclient_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	hotclient "github.com/hotstate/hotstate/client-go"
	"github.com/hotstate/hotstate/core/wire"
)

// TestRestartAndEpochChange restarts the server on the same address with
// different state while clients hold subscriptions and updates run. The
// new server's epochs differ, so every resume the clients offer is answered
// with a snapshot, even where the new version is lower than the one a
// client held; the clients drop the old state and converge on the new.
// Then epochs change under live subscriptions: a reset, a Set, a delete.
func TestRestartAndEpochChange(t *testing.T) {
	timed(t)
	const clients = 20
	b1 := newBoardServer(t, 2)
	addr, stop1 := serveOn(t, b1.srv, "127.0.0.1:0")
	// Half the clients go through a proxy that shows what the server sends.
	p := newProxy(t, addr)
	counts := newFrameCounts()
	p.Tap(counts.tap)

	r := rand.New(rand.NewPCG(2, 2))
	i := 0
	for range 50 {
		i++
		b1.update(t, b1.names[r.IntN(len(b1.names))], r, i)
	}
	for _, name := range b1.names {
		i++
		b1.update(t, name, r, i)
	}
	type client struct {
		c      *hotclient.Client
		events chan hotclient.Lifecycle
		subs   []*hotclient.Subscription
	}
	var cs []*client
	for k := range clients {
		url := "ws://" + addr
		if k%2 == 0 {
			url = p.URL()
		}
		cl := &client{c: dial(t, url, fast...)}
		cl.events = lifecycle(cl.c)
		for _, name := range b1.names {
			cl.subs = append(cl.subs, cl.c.Subscribe(name, nil))
		}
		cs = append(cs, cl)
	}
	converge := func(b *boardServer) {
		t.Helper()
		for _, cl := range cs {
			for _, s := range cl.subs {
				want := b.state(t, s.Name())
				eventually(t, fmt.Sprint(s.Name(), " to converge"), func() bool { return reflect.DeepEqual(s.State(), want) })
			}
		}
	}
	converge(b1)
	old := map[string]any{}
	for _, name := range b1.names {
		old[name] = b1.state(t, name)
	}

	// Stop the server while it is busy, start another with other state:
	// fewer versions of Board than before, more of Room:1.
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := rand.New(rand.NewPCG(3, 3))
		for k := range 200 {
			b1.update(t, b1.names[r.IntN(len(b1.names))], r, 10_000+k)
		}
	}()
	stop1()
	<-done
	firstConns := p.Accepted()
	b2 := newBoardServer(t, 2)
	r2 := rand.New(rand.NewPCG(4, 4))
	for k := range 3 {
		b2.update(t, "Board", r2, 100+k)
	}
	for k := range 80 {
		b2.update(t, "Room:1", r2, 200+k)
	}
	for _, name := range b2.names {
		b2.update(t, name, r2, 300)
		if reflect.DeepEqual(b2.state(t, name), old[name]) {
			t.Fatalf("%s is the same on both servers", name)
		}
	}
	serveOn(t, b2.srv, addr)
	converge(b2)
	if p.Accepted() < firstConns+clients/2 {
		t.Fatalf("%d connections through the proxy to the new server", p.Accepted()-firstConns)
	}
	// Every resume through the proxy was answered with a snapshot.
	for conn := firstConns + 1; conn <= p.Accepted(); conn++ {
		if got := counts.get(conn, wire.TypeSnap); got != len(b2.names) {
			t.Errorf("connection %d to the new server: %d snapshots, want %d", conn, got, len(b2.names))
		}
	}

	// A reset under live subscriptions: a new epoch, a snapshot of the
	// defaults, then the state OnCreate makes.
	b2.board.Reset()
	converge(b2)
	b2.update(t, "Board", r2, 400)
	converge(b2)
	// A Set replaces the state whole.
	next := newBoard()
	next.Recent = []string{"set"}
	if err := b2.feed.Set(next); err != nil {
		t.Fatal(err)
	}
	b2.update(t, "Feed", r2, 500)
	converge(b2)

	// A delete ends the subscriptions; subscribing again creates anew.
	if !b2.rooms.Delete("0") {
		t.Fatal("Room:0 did not exist")
	}
	for _, cl := range cs {
		s := cl.subs[2]
		if s.Name() != "Room:0" {
			t.Fatalf("subscription %s", s.Name())
		}
		until(t, cl.events, func(e hotclient.Lifecycle) bool { return e.Kind == hotclient.StoreDeleted && e.Store == "Room:0" })
		again := cl.c.Subscribe("Room:0", nil)
		if err := again.Ready(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		cl.subs[2] = again
		if err := s.Ready(ctxT(t)); err != nil && !errors.Is(err, hotclient.ErrStoreDeleted) {
			t.Fatalf("the deleted subscription: %v", err)
		}
	}
	b2.update(t, "Room:0", r2, 600)
	converge(b2)
}
