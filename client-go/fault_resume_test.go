package hotclient_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"

	hotclient "github.com/hotstate/hotstate/client-go"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// resumePeer is a raw peer on a server with a "ping" function, whose
// answer marks the end of what the server sent for the frames before it.
type resumePeer struct {
	*rawPeer
	pings uint64
}

// until sends frame and returns every frame the server sent in answer,
// up to the answer to a ping sent after it.
func (p *resumePeer) until(frame []byte) []wire.Frame {
	p.t.Helper()
	p.pings++
	id := 1<<40 + p.pings
	p.mustSend(frame)
	p.mustSend(mustRPC(id, "ping", nil))
	var got []wire.Frame
	for {
		f := p.next()
		if f.Type == wire.TypeRes && f.ID == id {
			return got
		}
		got = append(got, f)
	}
}

// resumeServer serves a Board store, a Blob store and "ping" with the
// history configured by opts.
type resumeServer struct {
	srv   *hotstate.Server
	board *hotstate.Store[Board]
	blob  *hotstate.Store[Blob]
	url   string
	r     *rand.Rand
	i     int
}

func newResumeServer(t *testing.T, opts ...hotstate.Option) *resumeServer {
	t.Helper()
	srv := hotstate.New(opts...)
	rs := &resumeServer{
		srv:   srv,
		board: hotstate.NewStore(srv, "Board", newBoard()),
		blob:  hotstate.NewStore(srv, "Blob", Blob{}),
		r:     rand.New(rand.NewPCG(9, 9)),
	}
	hotstate.Handle(srv, "ping", func(context.Context, any) (string, error) { return "pong", nil })
	addr, _ := serveOn(t, srv, "127.0.0.1:0")
	rs.url = "ws://" + addr
	return rs
}

func (rs *resumeServer) updates(t *testing.T, n int) {
	t.Helper()
	for range n {
		rs.i++
		if err := rs.board.Update(func(b *Board) { b.mutate(rs.r, rs.i) }); err != nil {
			t.Fatal(err)
		}
	}
}

func (rs *resumeServer) peer(t *testing.T) *resumePeer {
	return &resumePeer{rawPeer: dialRaw(t, rs.url, nil, nil)}
}

// held subscribes a fresh peer to Board and returns the epoch, version and
// state of its snapshot; the peer is closed at once, as a cut would.
func (rs *resumeServer) held(t *testing.T) (uint64, uint64, any) {
	t.Helper()
	p := rs.peer(t)
	got := p.until(wire.EncodeSub("Board"))
	if len(got) != 1 || got[0].Type != wire.TypeSnap {
		t.Fatalf("subscribing: %+v", got)
	}
	doc, err := wire.DecodeAny(got[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	p.close()
	return got[0].Epoch, got[0].Version, doc
}

// kinds describes frames for failure messages.
func kinds(fs []wire.Frame) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%v %s %d/%d; ", f.Type, f.Store, f.Epoch, f.Version)
	}
	return b.String()
}

// TestResumeProtocol checks the server's answer to every kind of resume a
// client can ask for: the missed patches when its history covers them, and
// a snapshot when it does not, after a reset, a Set, or for an epoch or
// version the server never had.
func TestResumeProtocol(t *testing.T) {
	timed(t)
	rs := newResumeServer(t, hotstate.WithHistory(8, 1<<20))
	rs.updates(t, 3)

	// A short cut: exactly the patches missed, in order, and they apply.
	e, v, doc := rs.held(t)
	rs.updates(t, 5)
	p := rs.peer(t)
	got := p.until(wire.EncodeResume("Board", e, v))
	if len(got) != 5 {
		t.Fatalf("resume after 5 updates: %s", kinds(got))
	}
	for i, f := range got {
		if f.Type != wire.TypePatch || f.Epoch != e || f.Version != v+1+uint64(i) {
			t.Fatalf("resume after 5 updates: %s", kinds(got))
		}
		var err error
		if doc, err = wire.Apply(doc, f.Ops); err != nil {
			t.Fatal(err)
		}
	}
	if want := tree(t, rs.board.Get()); !reflect.DeepEqual(doc, want) {
		t.Fatalf("resumed state %v, want %v", doc, want)
	}
	// The resumed subscription goes on with the next version.
	rs.updates(t, 1)
	if f := p.next(); f.Type != wire.TypePatch || f.Version != v+6 {
		t.Fatalf("after resuming: %v %d", f.Type, f.Version)
	}
	p.close()

	// Nothing missed: nothing sent, and the next change follows.
	e, v, _ = rs.held(t)
	p = rs.peer(t)
	if got := p.until(wire.EncodeResume("Board", e, v)); len(got) != 0 {
		t.Fatalf("resume with nothing missed: %s", kinds(got))
	}
	rs.updates(t, 1)
	if f := p.next(); f.Type != wire.TypePatch || f.Version != v+1 {
		t.Fatalf("after an empty resume: %v %d", f.Type, f.Version)
	}
	p.close()

	snapshot := func(what string, frame []byte) wire.Frame {
		t.Helper()
		p := rs.peer(t)
		defer p.close()
		got := p.until(frame)
		if len(got) != 1 || got[0].Type != wire.TypeSnap {
			t.Fatalf("%s: %s, want one snapshot", what, kinds(got))
		}
		doc, err := wire.DecodeAny(got[0].Value)
		if err != nil {
			t.Fatal(err)
		}
		if want := tree(t, rs.board.Get()); !reflect.DeepEqual(doc, want) {
			t.Fatalf("%s: snapshot %v, want %v", what, doc, want)
		}
		return got[0]
	}

	// The history holds 8 patches: 8 missed resume, 9 do not.
	e, v, _ = rs.held(t)
	rs.updates(t, 8)
	p = rs.peer(t)
	if got := p.until(wire.EncodeResume("Board", e, v)); len(got) != 8 || got[0].Type != wire.TypePatch || got[7].Version != v+8 {
		t.Fatalf("8 missed: %s", kinds(got))
	}
	p.close()
	rs.updates(t, 1)
	if f := snapshot("9 missed", wire.EncodeResume("Board", e, v)); f.Version != v+9 {
		t.Fatalf("snapshot at %d, want %d", f.Version, v+9)
	}

	// A version the server never reached, an epoch it never had.
	e, v, _ = rs.held(t)
	snapshot("future version", wire.EncodeResume("Board", e, v+1))
	snapshot("other epoch", wire.EncodeResume("Board", e+1000, v))
	snapshot("epoch 0", wire.EncodeResume("Board", 0, 0))

	// A Set sends a snapshot, which a resume cannot bridge.
	e, v, _ = rs.held(t)
	if err := rs.board.Set(newBoard()); err != nil {
		t.Fatal(err)
	}
	rs.updates(t, 1)
	snapshot("across a Set", wire.EncodeResume("Board", e, v))

	// A reset starts a new epoch.
	e, v, _ = rs.held(t)
	rs.board.Reset()
	rs.updates(t, 2)
	if f := snapshot("across a reset", wire.EncodeResume("Board", e, v)); f.Epoch == e {
		t.Fatal("the reset kept the epoch")
	}

	// The history is bounded by bytes too: 2 KiB holds two 1 KiB patches.
	rb := newResumeServer(t, hotstate.WithHistory(100, 2500))
	blobs := func(n int) {
		for range n {
			rb.i++
			if err := rb.blob.Update(func(b *Blob) { b.N, b.Data = int64(rb.i), strings.Repeat(string(rune('a'+rb.i%26)), 1000) }); err != nil {
				t.Fatal(err)
			}
		}
	}
	blobs(1)
	q := rb.peer(t)
	sub := q.until(wire.EncodeSub("Blob"))[0]
	q.close()
	blobs(2)
	q = rb.peer(t)
	if got := q.until(wire.EncodeResume("Blob", sub.Epoch, sub.Version)); len(got) != 2 || got[0].Type != wire.TypePatch {
		t.Fatalf("2 KiB missed: %s", kinds(got))
	}
	q.close()
	blobs(1)
	q = rb.peer(t)
	if got := q.until(wire.EncodeResume("Blob", sub.Epoch, sub.Version)); len(got) != 1 || got[0].Type != wire.TypeSnap {
		t.Fatalf("3 KiB missed: %s", kinds(got))
	}
	q.close()

	// History off: always a snapshot.
	r0 := newResumeServer(t, hotstate.WithHistory(0, 0))
	r0.updates(t, 1)
	e, v, _ = r0.held(t)
	r0.updates(t, 1)
	q = r0.peer(t)
	if got := q.until(wire.EncodeResume("Board", e, v)); len(got) != 1 || got[0].Type != wire.TypeSnap {
		t.Fatalf("without history: %s", kinds(got))
	}
}

// frameCounts counts, per proxied connection, the frames the server sent.
type frameCounts struct {
	mu     sync.Mutex // guards by
	by     map[int]map[wire.Type]int
	stores map[int]map[string]bool // stores that got a snap, per connection
}

func newFrameCounts() *frameCounts {
	return &frameCounts{by: map[int]map[wire.Type]int{}, stores: map[int]map[string]bool{}}
}

func (fc *frameCounts) tap(conn int, f wire.Frame) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.by[conn] == nil {
		fc.by[conn] = map[wire.Type]int{}
		fc.stores[conn] = map[string]bool{}
	}
	fc.by[conn][f.Type]++
	if f.Type == wire.TypeSnap {
		fc.stores[conn][f.Store] = true
	}
}

func (fc *frameCounts) get(conn int, typ wire.Type) int {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.by[conn][typ]
}

func (fc *frameCounts) snapped(conn int) map[string]bool {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	out := map[string]bool{}
	for k := range fc.stores[conn] {
		out[k] = true
	}
	return out
}

// TestResumeThroughProxy runs the Go client through a proxy that shows what the
// server sends: after a short cut the new connection carries exactly the
// missed patches and no snapshot; when the history no longer covers what
// was missed, or a store was reset meanwhile, a snapshot for that store.
func TestResumeThroughProxy(t *testing.T) {
	timed(t)
	b := newBoardServer(t, 2, hotstate.WithHistory(16, 1<<20))
	addr, _ := serveOn(t, b.srv, "127.0.0.1:0")
	p := newProxy(t, addr)
	counts := newFrameCounts()
	p.Tap(counts.tap)
	c := dial(t, p.URL(), fast...)
	r := rand.New(rand.NewPCG(1, 1))
	subs := map[string]*hotclient.Subscription{}
	for _, name := range b.names {
		subs[name] = c.Subscribe(name, nil)
	}
	for _, s := range subs {
		if err := s.Ready(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	i := 0
	update := func(name string, n int) {
		for range n {
			i++
			b.update(t, name, r, i)
		}
	}
	converged := func() {
		t.Helper()
		for name, s := range subs {
			want := b.state(t, name)
			eventually(t, name+" to converge", func() bool { return reflect.DeepEqual(s.State(), want) })
		}
	}
	for _, name := range b.names {
		update(name, 3)
	}
	converged()

	// cut loses everything sent while the proxy is paused, then lets the
	// client reconnect, and returns the new connection's number.
	cut := func(changes func()) int {
		t.Helper()
		n := p.Accepted()
		p.Pause()
		changes()
		p.Cut()
		p.Resume()
		eventually(t, "the reconnection", func() bool { return p.Accepted() == n+1 })
		converged()
		return n + 1
	}

	// A short cut: 5 missed patches per store, replayed.
	conn := cut(func() {
		for _, name := range b.names {
			update(name, 5)
		}
	})
	if got, want := counts.get(conn, wire.TypePatch), 5*len(b.names); got != want || counts.get(conn, wire.TypeSnap) != 0 {
		t.Fatalf("after a short cut: %d patches (want %d) and %d snapshots", got, want, counts.get(conn, wire.TypeSnap))
	}

	// One store beyond its history, one reset: a snapshot for each of
	// those, patches for the others.
	conn = cut(func() {
		update("Board", 20)
		b.rooms.Reset("0")
		update("Room:0", 1)
		update("Feed", 2)
		update("Room:1", 2)
	})
	if got := counts.snapped(conn); !reflect.DeepEqual(got, map[string]bool{"Board": true, "Room:0": true}) {
		t.Fatalf("snapshots after the cut for %v", got)
	}
	if got := counts.get(conn, wire.TypePatch); got != 4 {
		t.Fatalf("%d patches after the cut, want 4", got)
	}

	// Still live: the next change arrives as a patch.
	update("Feed", 1)
	converged()
	if got := counts.get(conn, wire.TypePatch); got != 5 {
		t.Fatalf("%d patches, want 5", got)
	}
}
