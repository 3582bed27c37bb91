package hotclient_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	hotclient "github.com/hotstate/hotstate/client-go"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// TestNetworkFaults runs Go clients through two proxies, one with a little
// latency and one slow and narrow, while updates run; between bursts the
// connections are cut in the middle of a WebSocket frame, or after being
// held with bytes in flight. The clients reconnect, resume with the patches
// they missed rather than snapshots, and end with the server's state.
func TestNetworkFaults(t *testing.T) {
	timed(t)
	const (
		perProxy = 10
		rounds   = 6
		burst    = 40
	)
	b := newBoardServer(t, 4)
	var subscribed atomic.Int64
	b.srv.OnSubscribe(func(string, hotstate.Caller) { subscribed.Add(1) })
	addr, _ := serveOn(t, b.srv, "127.0.0.1:0")

	near, far := newProxy(t, addr), newProxy(t, addr)
	near.Delay(time.Millisecond)
	near.Bandwidth(256 << 10)
	far.Delay(10 * time.Millisecond)
	far.Bandwidth(16 << 10)
	counts := map[*proxy]*frameCounts{near: newFrameCounts(), far: newFrameCounts()}
	for p, fc := range counts {
		p.Tap(fc.tap)
	}

	type client struct {
		c    *hotclient.Client
		subs []*hotclient.Subscription
	}
	var clients []*client
	r := rand.New(rand.NewPCG(5, 5))
	for _, p := range []*proxy{near, far} {
		for range perProxy {
			cl := &client{c: dial(t, p.URL(), fast...)}
			for _, n := range r.Perm(len(b.names))[:3] {
				cl.subs = append(cl.subs, cl.c.Subscribe(b.names[n], nil))
			}
			clients = append(clients, cl)
		}
	}
	for _, cl := range clients {
		for _, s := range cl.subs {
			if err := s.Ready(ctxT(t)); err != nil {
				t.Fatal(err)
			}
		}
	}
	initialSubs := subscribed.Load()

	i := 0
	update := func() {
		i++
		b.update(t, b.names[r.IntN(len(b.names))], r, i)
	}
	reconnected := func(p *proxy, before int) {
		t.Helper()
		eventually(t, "the clients to reconnect", func() bool { return p.Accepted() >= before+perProxy })
	}
	start := time.Now()
	for round := range rounds {
		for range burst {
			update()
		}
		// The near proxy is cut inside a frame; updates go on until one
		// is under way.
		before := near.Accepted()
		cutDone := near.CutMidFrame()
		deadline := time.Now().Add(wait)
		for cutting := true; cutting; {
			update()
			select {
			case <-cutDone:
				cutting = false
			case <-time.After(time.Millisecond):
				if time.Now().After(deadline) {
					t.Fatal("no frame to cut")
				}
			}
		}
		// The far one, every other round, is held with patches in flight
		// and then cut.
		if round%2 == 1 {
			farBefore := far.Accepted()
			far.Pause()
			for range 5 {
				update()
			}
			far.Cut()
			far.Resume()
			reconnected(far, farBefore)
		}
		reconnected(near, before)
	}
	t.Logf("%d updates, %d cuts, in %v", i, rounds+rounds/2, time.Since(start).Round(time.Millisecond))

	// Everyone converges on the server's state.
	for _, cl := range clients {
		for _, s := range cl.subs {
			want := b.state(t, s.Name())
			eventually(t, fmt.Sprint("client ", cl.c.ID(), " on ", s.Name()), func() bool {
				return reflect.DeepEqual(s.State(), want)
			})
		}
	}
	// Every connection after the first of each client resumed: the server
	// sent no snapshot on any of them, only the patches that were missed.
	for p, fc := range counts {
		snaps, patches := 0, 0
		for conn := perProxy + 1; conn <= p.Accepted(); conn++ {
			snaps += fc.get(conn, wire.TypeSnap)
			patches += fc.get(conn, wire.TypePatch)
		}
		t.Logf("proxy %s: %d connections, %d snapshots and %d patches after reconnecting", p.URL(), p.Accepted(), snaps, patches)
		if snaps != 0 {
			t.Errorf("%d snapshots after reconnecting; the clients should have resumed", snaps)
		}
		if patches == 0 {
			t.Error("no patches were replayed")
		}
	}
	if resubs := subscribed.Load() - initialSubs; resubs == 0 {
		t.Error("the clients never resubscribed")
	}
}

// TestHeartbeatDropsSilentPeer holds every byte between a client and the
// server: the server's pings go unanswered, so it closes the connection
// (4001) and releases the subscription within a couple of intervals. When
// the network returns, the client reconnects and resumes.
func TestHeartbeatDropsSilentPeer(t *testing.T) {
	timed(t)
	b := newBoardServer(t, 0, hotstate.WithHeartbeat(50*time.Millisecond))
	gone := make(chan string, 4)
	b.srv.OnDisconnect(func(c hotstate.Caller) { gone <- c.ID })
	addr, _ := serveOn(t, b.srv, "127.0.0.1:0")
	p := newProxy(t, addr)
	counts := newFrameCounts()
	p.Tap(counts.tap)
	c := dial(t, p.URL(), fast...)
	sub := c.Subscribe("Board", nil)
	if err := sub.Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	id := c.ID()

	p.Pause()
	r := rand.New(rand.NewPCG(6, 6))
	b.update(t, "Board", r, 1)
	start := time.Now()
	if got := recv(t, gone); got != id {
		t.Fatalf("%s left, not %s", got, id)
	}
	t.Logf("silent peer dropped after %v", time.Since(start).Round(time.Millisecond))
	if n := b.board.SubscriberCount(); n != 0 {
		t.Fatalf("%d subscribers after the drop", n)
	}
	b.update(t, "Board", r, 2)
	p.Cut()
	p.Resume()
	want := b.state(t, "Board")
	eventually(t, "the client to resume", func() bool { return reflect.DeepEqual(sub.State(), want) })
	if snaps := counts.get(p.Accepted(), wire.TypeSnap); snaps != 0 {
		t.Fatalf("%d snapshots after reconnecting", snaps)
	}
}
