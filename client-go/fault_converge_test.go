package hotclient_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hotclient "github.com/hotstate/hotstate/client-go"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// Board is the state of every store of the convergence test. Its updates
// exercise each kind of operation: replace (cells), add and remove in an
// array (recent), add and remove in a map (tags).
type Board struct {
	N      int64            `json:"n"`
	Cells  []int64          `json:"cells"`
	Recent []string         `json:"recent"`
	Tags   map[string]int64 `json:"tags"`
}

func newBoard() Board {
	return Board{Cells: make([]int64, 8), Recent: []string{}, Tags: map[string]int64{}}
}

// mutate applies the i-th update of the test.
func (b *Board) mutate(r *rand.Rand, i int) {
	b.N++
	switch r.IntN(4) {
	case 0:
		b.Cells[r.IntN(len(b.Cells))] = int64(i)
	case 1:
		b.Recent = append(b.Recent, fmt.Sprint("u", i))
		if len(b.Recent) > 6 {
			b.Recent = b.Recent[1:]
		}
	case 2:
		b.Tags[fmt.Sprint("k", r.IntN(12))] = int64(i)
	default:
		delete(b.Tags, fmt.Sprint("k", r.IntN(12)))
		b.Cells[0] = int64(-i)
	}
}

// boardServer is the server of the convergence test: two static stores
// and the instances of a family.
type boardServer struct {
	srv   *hotstate.Server
	names []string
	board *hotstate.Store[Board]
	feed  *hotstate.Store[Board]
	rooms *hotstate.Family[Board]
}

func newBoardServer(t testing.TB, rooms int, opts ...hotstate.Option) *boardServer {
	srv := hotstate.New(opts...)
	b := &boardServer{
		srv:   srv,
		board: hotstate.NewStore(srv, "Board", newBoard()),
		feed:  hotstate.NewStore(srv, "Feed", newBoard()),
		rooms: hotstate.NewFamily(srv, "Room:*", newBoard()),
	}
	b.names = []string{"Board", "Feed"}
	for i := range rooms {
		b.names = append(b.names, fmt.Sprint("Room:", i))
	}
	return b
}

// update applies update i to the store named name.
func (b *boardServer) update(t testing.TB, name string, r *rand.Rand, i int) {
	var err error
	switch key, ok := cutRoom(name); {
	case name == "Board":
		err = b.board.Update(func(s *Board) { s.mutate(r, i) })
	case name == "Feed":
		err = b.feed.Update(func(s *Board) { s.mutate(r, i) })
	case ok:
		err = b.rooms.Update(key, func(s *Board) { s.mutate(r, i) })
	}
	if err != nil {
		t.Error(err)
	}
}

// state returns the server's state of the store named name as a tree.
func (b *boardServer) state(t testing.TB, name string) any {
	switch key, ok := cutRoom(name); {
	case name == "Board":
		return tree(t, b.board.Get())
	case name == "Feed":
		return tree(t, b.feed.Get())
	case ok:
		return tree(t, b.rooms.Get(key))
	}
	t.Fatalf("no store %q", name)
	return nil
}

func cutRoom(name string) (string, bool) {
	if len(name) > 5 && name[:5] == "Room:" {
		return name[5:], true
	}
	return "", false
}

// tracker follows the frames of a raw peer and checks the protocol's
// ordering promise strictly: after the snap at version v of a
// subscription, exactly v+1, v+2, ... of the same epoch, each applied.
type tracker struct {
	mu     sync.Mutex // guards every field
	stores map[string]*tracked
	// subs counts the sub frames sent, snaps the snaps received: each sub
	// is answered by exactly one snap (none of these subs resumes).
	subs, snaps, patches int
	violations           []string
}

type tracked struct {
	live bool // subscribed and the snap arrived
	// wanted is set while subscribed: between sub and unsub.
	wanted         bool
	epoch, version uint64
	doc            any
	// verify makes the next snap a check: it must equal what was tracked.
	verify bool
}

func newTracker() *tracker { return &tracker{stores: map[string]*tracked{}} }

func (tr *tracker) violate(format string, args ...any) {
	if len(tr.violations) < 20 {
		tr.violations = append(tr.violations, fmt.Sprintf(format, args...))
	}
}

func (tr *tracker) onFrame(f wire.Frame) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	switch f.Type {
	case wire.TypeSnap:
		tr.snaps++
		st := tr.stores[f.Store]
		if st == nil || !st.wanted {
			return // answers a sub that was unsubscribed since
		}
		doc, err := wire.DecodeAny(f.Value)
		if err != nil {
			tr.violate("%s: snap: %v", f.Store, err)
			return
		}
		if st.verify {
			st.verify = false
			if f.Epoch != st.epoch || f.Version != st.version || !reflect.DeepEqual(doc, st.doc) {
				tr.violate("%s: tracked %d/%d, the server is at %d/%d", f.Store, st.epoch, st.version, f.Epoch, f.Version)
			}
		}
		st.live, st.epoch, st.version, st.doc = true, f.Epoch, f.Version, doc
	case wire.TypePatch:
		tr.patches++
		st := tr.stores[f.Store]
		if st == nil || !st.live {
			return // in flight before an unsub, or before the snap of a new sub
		}
		if f.Epoch != st.epoch || f.Version != st.version+1 {
			tr.violate("%s: patch %d/%d after %d/%d", f.Store, f.Epoch, f.Version, st.epoch, st.version)
			st.live = false
			return
		}
		doc, err := wire.Apply(st.doc, f.Ops)
		if err != nil {
			tr.violate("%s: patch %d does not apply: %v", f.Store, f.Version, err)
			st.live = false
			return
		}
		st.doc, st.version = doc, f.Version
	default:
		tr.violate("unexpected %v frame %+v", f.Type, f)
	}
}

// subscribe records a sub about to be sent.
func (tr *tracker) subscribe(name string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.subs++
	tr.stores[name] = &tracked{wanted: true}
}

// unsubscribe records an unsub about to be sent.
func (tr *tracker) unsubscribe(name string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	delete(tr.stores, name)
}

// held returns the names subscribed to.
func (tr *tracker) held() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var names []string
	for name := range tr.stores {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// TestConvergence runs 10 000 updates against 500 Go clients and a few raw
// protocol peers, all subscribing and unsubscribing at random meanwhile,
// and checks that every subscriber ends with the server's state, that no
// client had to resynchronise, and that the raw peers saw every version
// exactly once and in order.
func TestConvergence(t *testing.T) {
	timed(t)
	const (
		clients  = 500
		peers    = 16
		rooms    = 60
		updates  = 10_000
		writers  = 4
		initSubs = 3
		maxSubs  = 5
		// churnEvery sets the pace of subscription changes.
		churnEvery = 4
	)
	b := newBoardServer(t, rooms, hotstate.WithHeartbeat(0))
	// Each sub the server accepts, per client: a client that resynchronised
	// or resubscribed on its own would show more than it was asked for.
	var subsMu sync.Mutex
	serverSubs := map[string]int{}
	b.srv.OnSubscribe(func(store string, c hotstate.Caller) {
		subsMu.Lock()
		serverSubs[c.ID]++
		subsMu.Unlock()
	})
	var disconnects atomic.Int64
	b.srv.OnDisconnect(func(hotstate.Caller) { disconnects.Add(1) })
	addr, _ := serveOn(t, b.srv, "127.0.0.1:0")
	url := "ws://" + addr

	type client struct {
		c     *hotclient.Client
		mu    sync.Mutex // guards subs, asked
		subs  map[string]*hotclient.Subscription
		asked int // Subscribe calls
	}
	var lifecycleTrouble atomic.Int64
	start := time.Now()
	cs := make([]*client, clients)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range cs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			c, err := hotclient.Dial(ctx, url)
			if err != nil {
				t.Error(err)
				return
			}
			c.OnLifecycle(func(e hotclient.Lifecycle) {
				if e.Kind != hotclient.Connected {
					lifecycleTrouble.Add(1)
				}
			})
			cs[i] = &client{c: c, subs: map[string]*hotclient.Subscription{}}
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, cl := range cs {
			if cl != nil {
				wg.Go(func() { _ = cl.c.Close() })
			}
		}
		wg.Wait()
	})
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d clients connected in %v", clients, time.Since(start).Round(time.Millisecond))

	rnd := rand.New(rand.NewPCG(1, 2))
	subscribe := func(cl *client, name string) {
		cl.mu.Lock()
		defer cl.mu.Unlock()
		cl.subs[name] = cl.c.Subscribe(name, nil)
		cl.asked++
	}
	for _, cl := range cs {
		for _, n := range rnd.Perm(len(b.names))[:initSubs] {
			subscribe(cl, b.names[n])
		}
	}
	trackers := make([]*tracker, peers)
	raws := make([]*rawPeer, peers)
	for i := range raws {
		trackers[i] = newTracker()
		raws[i] = dialRaw(t, url, nil, trackers[i].onFrame)
		for _, n := range rnd.Perm(len(b.names))[:initSubs] {
			trackers[i].subscribe(b.names[n])
			raws[i].mustSend(wire.EncodeSub(b.names[n]))
		}
	}

	// Writers update random stores; every churnEvery-th update, the writer
	// also subscribes or unsubscribes a random client or peer.
	start = time.Now()
	var churned atomic.Int64
	var churnMu sync.Mutex // one churn step at a time: peers write from one goroutine
	churn := func(r *rand.Rand) {
		churnMu.Lock()
		defer churnMu.Unlock()
		churned.Add(1)
		// Half the steps drop a subscription, half add one, within
		// [1, maxSubs] per client.
		drop := r.IntN(2) == 0
		name := b.names[r.IntN(len(b.names))]
		if r.IntN(8) == 0 {
			i := r.IntN(peers)
			p, tr := raws[i], trackers[i]
			held := tr.held()
			switch {
			case drop && len(held) > 1:
				name = held[r.IntN(len(held))]
				tr.unsubscribe(name)
				p.mustSend(wire.EncodeUnsub(name))
			case !drop && len(held) < maxSubs && !slices.Contains(held, name):
				tr.subscribe(name)
				p.mustSend(wire.EncodeSub(name))
			}
			return
		}
		cl := cs[r.IntN(clients)]
		cl.mu.Lock()
		defer cl.mu.Unlock()
		_, held := cl.subs[name]
		switch {
		case drop && len(cl.subs) > 1:
			names := slices.Sorted(maps.Keys(cl.subs))
			name = names[r.IntN(len(names))]
			cl.subs[name].Unsubscribe()
			delete(cl.subs, name)
		case !drop && len(cl.subs) < maxSubs && !held:
			cl.subs[name] = cl.c.Subscribe(name, nil)
			cl.asked++
		}
	}
	var next atomic.Int64
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 5))
			for {
				i := int(next.Add(1))
				if i > updates {
					return
				}
				b.update(t, b.names[r.IntN(len(b.names))], r, i)
				if i%churnEvery == 0 {
					churn(r)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d updates with %d subscription changes in %v", updates, churned.Load(), time.Since(start).Round(time.Millisecond))

	// Every subscription converges on the server's final state.
	start = time.Now()
	want := map[string]any{}
	for _, name := range b.names {
		want[name] = b.state(t, name)
	}
	for _, cl := range cs {
		cl.mu.Lock()
		for name, sub := range cl.subs {
			eventually(t, "client "+cl.c.ID()+" to converge on "+name, func() bool {
				return reflect.DeepEqual(sub.State(), want[name])
			})
		}
		cl.mu.Unlock()
	}
	// The raw peers ask for a fresh snapshot of everything they hold: it
	// must match, state and version, what they built from the patches.
	for i, p := range raws {
		tr := trackers[i]
		for _, name := range tr.held() {
			tr.mu.Lock()
			tr.stores[name].verify = true
			tr.subs++
			tr.mu.Unlock()
			p.mustSend(wire.EncodeSub(name))
		}
	}
	rawSubs, rawPatches := 0, 0
	for i, tr := range trackers {
		eventually(t, fmt.Sprint("peer ", i, " to get its snapshots"), func() bool {
			tr.mu.Lock()
			defer tr.mu.Unlock()
			return tr.snaps == tr.subs
		})
		tr.mu.Lock()
		for name, st := range tr.stores {
			if st.verify || !st.live {
				tr.violate("%s: not verified (live %v)", name, st.live)
			} else if !reflect.DeepEqual(st.doc, want[name]) {
				tr.violate("%s: state differs from the server's", name)
			}
		}
		if len(tr.violations) > 0 {
			t.Errorf("peer %d: %q", i, tr.violations)
		}
		rawSubs, rawPatches = rawSubs+tr.subs, rawPatches+tr.patches
		tr.mu.Unlock()
	}
	t.Logf("%d raw peers checked %d patches after %d snapshots", peers, rawPatches, rawSubs)
	// No client had to ask for a snapshot it did not subscribe for.
	subsMu.Lock()
	for _, cl := range cs {
		cl.mu.Lock()
		if got := serverSubs[cl.c.ID()]; got != cl.asked {
			t.Errorf("client %s: the server saw %d subs for %d subscriptions", cl.c.ID(), got, cl.asked)
		}
		cl.mu.Unlock()
	}
	subsMu.Unlock()
	// The server holds exactly the subscriptions the clients hold.
	held := map[string]int{}
	for _, cl := range cs {
		cl.mu.Lock()
		for name := range cl.subs {
			held[name]++
		}
		cl.mu.Unlock()
	}
	for _, tr := range trackers {
		for _, name := range tr.held() {
			held[name]++
		}
	}
	for _, name := range b.names {
		in, _ := b.srv.Lookup(name)
		if got := in.SubscriberCount(); got != held[name] {
			t.Errorf("%s: %d subscribers on the server, %d held by clients", name, got, held[name])
		}
	}
	if n := lifecycleTrouble.Load(); n != 0 {
		t.Errorf("%d disconnections or failures", n)
	}
	if n := disconnects.Load(); n != 0 {
		t.Errorf("the server lost %d clients", n)
	}
	t.Logf("converged in %v", time.Since(start).Round(time.Millisecond))
}
