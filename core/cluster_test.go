package hotstate_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// Two servers sharing one engine are two nodes of a cluster: these tests
// hold the core to the cluster semantics with the engine in memory, so
// they run anywhere; the engines' own modules run the same behaviour
// across processes.

type counter struct {
	N int `json:"n"`
}

// node is one server of a cluster sharing eng, with the test's stores.
type node struct {
	srv     *hotstate.Server
	count   *hotstate.Store[counter]
	rooms   *hotstate.Family[counter]
	created *atomic.Int32
	idle    *atomic.Int32
}

func newNode(t *testing.T, eng hotstate.Engine, created, idle *atomic.Int32) *node {
	srv := hotstate.New(hotstate.WithEngine(eng))
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	n := &node{srv: srv, created: created, idle: idle}
	n.count = hotstate.NewStore(srv, "Count", counter{}).OnCreate(func(c *counter) {
		created.Add(1)
		c.N = 100
	})
	n.rooms = hotstate.NewFamily(srv, "Room:*", counter{}).OnIdle(func(string) { idle.Add(1) })
	return n
}

func cluster(t *testing.T) (a, b *node) {
	eng := hotstate.NewMemoryEngine(256, 1<<20)
	var created, idle atomic.Int32
	return newNode(t, eng, &created, &idle), newNode(t, eng, &created, &idle)
}

// frameN reads the counter a snap frame holds.
func frameN(t *testing.T, f wire.Frame) int {
	t.Helper()
	var c counter
	if err := wire.DecodeValue(f.Value, &c); err != nil {
		t.Fatal(err)
	}
	return c.N
}

func TestClusterCreatesOnceAndLoadsElsewhere(t *testing.T) {
	a, b := cluster(t)
	if err := a.count.Update(func(c *counter) { c.N++ }); err != nil {
		t.Fatal(err)
	}
	// B has never seen the store: its first use loads A's, without
	// running OnCreate again.
	if got := b.count.Get(); got.N != 0 {
		t.Fatalf("Get before any use on B: %d, want the defaults", got.N)
	}
	cb := connect(t, b.srv)
	cb.send(wire.EncodeSub("Count"))
	if n := frameN(t, cb.expect(wire.TypeSnap)); n != 101 {
		t.Fatalf("B's subscriber got %d, want 101", n)
	}
	if n := a.created.Load(); n != 1 {
		t.Fatalf("OnCreate ran %d times across the cluster, want 1", n)
	}
	if !b.count.IsInitialized() {
		t.Fatal("B does not see the store as initialised")
	}
}

func TestClusterChangesReachEveryNode(t *testing.T) {
	a, b := cluster(t)
	a.count.Init()
	ca, cb := connect(t, a.srv), connect(t, b.srv)
	var docA, docB any
	ca.send(wire.EncodeSub("Count"))
	cb.send(wire.EncodeSub("Count"))
	followN(t, ca, &docA, 0)
	followN(t, cb, &docB, 0)

	// Both nodes write at once: every write lands once, and each
	// subscriber sees every version in order.
	const each = 100
	var wg sync.WaitGroup
	for _, n := range []*node{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if err := n.count.Update(func(c *counter) { c.N++ }); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	want := 100 + 2*each
	followN(t, ca, &docA, 2*each)
	followN(t, cb, &docB, 2*each)
	for name, doc := range map[string]any{"A": docA, "B": docB} {
		if got := doc.(map[string]any)["n"]; toInt(got) != want {
			t.Fatalf("%s's subscriber holds %v, want %d", name, got, want)
		}
	}
	within(t, "both nodes reach the total", func() bool {
		return a.count.Get().N == want && b.count.Get().N == want
	})
}

// followN is follow for the counter: it applies frames until version v
// and fails on a version out of order.
func followN(t *testing.T, c *client, doc *any, v uint64) {
	t.Helper()
	var at uint64
	have := *doc != nil
	for {
		f := c.next()
		switch f.Type {
		case wire.TypeSnap:
			*doc = decodeTree(t, f.Value)
		case wire.TypePatch:
			if have && f.Version != at+1 {
				t.Fatalf("patch %d after version %d", f.Version, at)
			}
			next, err := wire.Apply(*doc, f.Ops)
			if err != nil {
				t.Fatalf("patch %d does not apply: %v", f.Version, err)
			}
			*doc = next
		default:
			continue
		}
		at, have = f.Version, true
		if f.Version == v {
			return
		}
	}
}

func toInt(v any) int {
	switch n := v.(type) {
	case int64:
		return int(n)
	case uint64:
		return int(n)
	case int8:
		return int(n)
	case uint8:
		return int(n)
	case int16:
		return int(n)
	case uint16:
		return int(n)
	case int32:
		return int(n)
	case uint32:
		return int(n)
	case int:
		return n
	case float64:
		return int(n)
	}
	return -1
}

func TestClusterDeleteAndReset(t *testing.T) {
	a, b := cluster(t)
	a.count.Init()
	cb := connect(t, b.srv)
	cb.send(wire.EncodeSub("Count"))
	cb.expect(wire.TypeSnap)

	// A Reset elsewhere: B's subscriber gets the defaults, and B's next
	// use creates the store anew, running OnCreate there.
	a.count.Reset()
	if n := frameN(t, cb.expect(wire.TypeSnap)); n != 0 {
		t.Fatalf("after Reset B's subscriber holds %d, want 0", n)
	}
	within(t, "B sees the reset", func() bool { return !b.count.IsInitialized() })
	if err := b.count.Update(func(c *counter) { c.N++ }); err != nil {
		t.Fatal(err)
	}
	if n := a.created.Load(); n != 2 {
		t.Fatalf("OnCreate ran %d times, want 2 (once per lifetime)", n)
	}
	within(t, "A follows B's new lifetime", func() bool { return a.count.Get().N == 101 })

	// A Delete elsewhere: B's subscriber gets del, and B no longer has it.
	if !a.count.Delete() {
		t.Fatal("Delete found nothing")
	}
	for f := cb.next(); f.Type != wire.TypeDel; f = cb.next() {
	}
	within(t, "B forgets the store", func() bool { return !b.count.Has() })
	within(t, "the deleted store has no subscribers left", func() bool {
		return a.count.SubscriberCount() == 0 && b.count.SubscriberCount() == 0
	})
}

func TestClusterSubscribersAndIdle(t *testing.T) {
	a, b := cluster(t)
	ca, cb := connect(t, a.srv), connect(t, b.srv)
	ca.send(wire.EncodeSub("Room:x"))
	ca.expect(wire.TypeSnap)
	cb.send(wire.EncodeSub("Room:x"))
	cb.expect(wire.TypeSnap)
	cb.send(wire.EncodeSub("Room:x")) // a second sub is the same subscription
	cb.expect(wire.TypeSnap)
	for name, n := range map[string]*node{"A": a, "B": b} {
		if got := n.rooms.SubscriberCount("x"); got != 2 {
			t.Fatalf("SubscriberCount on %s: %d, want 2 (one per node)", name, got)
		}
	}
	ca.send(wire.EncodeUnsub("Room:x"))
	within(t, "A's subscriber leaves", func() bool { return b.rooms.SubscriberCount("x") == 1 })
	if n := a.idle.Load(); n != 0 {
		t.Fatalf("OnIdle ran while B still has a subscriber")
	}
	cb.send(wire.EncodeUnsub("Room:x"))
	within(t, "OnIdle runs once", func() bool { return b.idle.Load() == 1 })
	cb.quiet(50e6)
	if n := a.idle.Load(); n != 1 {
		t.Fatalf("OnIdle ran %d times, want 1", n)
	}
}

func TestClusterEventsReachEveryNode(t *testing.T) {
	a, b := cluster(t)
	cb := connect(t, b.srv)
	if err := a.srv.Emit("news", "hello"); err != nil {
		t.Fatal(err)
	}
	if f := cb.expect(wire.TypeEvt); f.Name != "news" {
		t.Fatalf("B's client got event %q", f.Name)
	}
	if err := a.srv.EmitTo(cb.id, "direct", 1); err != nil {
		t.Fatal(err)
	}
	if f := cb.expect(wire.TypeEvt); f.Name != "direct" {
		t.Fatalf("B's client got event %q", f.Name)
	}
	cb.send(wire.EncodeSub("Room:y"))
	cb.expect(wire.TypeSnap)
	if err := a.rooms.Emit("y", "typing", "ann"); err != nil {
		t.Fatal(err)
	}
	if f := cb.expect(wire.TypeEvt); f.Name != "typing" || f.Store != "Room:y" {
		t.Fatalf("B's subscriber got event %q on %q", f.Name, f.Store)
	}
}

func TestClusterPresence(t *testing.T) {
	eng := hotstate.NewMemoryEngine(256, 1<<20)
	var srvs []*hotstate.Server
	for range 3 {
		srv := hotstate.New(hotstate.WithEngine(eng))
		t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
		hotstate.NewFamily(srv, "Room:*", counter{}).Presence(func(c hotstate.Caller) (string, any) { return c.ID, nil })
		srvs = append(srvs, srv)
	}
	ca, cb, cc := connect(t, srvs[0]), connect(t, srvs[1]), connect(t, srvs[2])
	ca.send(wire.EncodeSub("Room:p"))
	ca.expect(wire.TypeSnap)
	cb.send(wire.EncodeSub("Room:p"))
	cb.expect(wire.TypeSnap)
	cc.send(wire.EncodeSub("presence:Room:p"))
	var doc any
	for {
		f := cc.next()
		switch f.Type {
		case wire.TypeSnap:
			doc = decodeTree(t, f.Value)
		case wire.TypePatch:
			next, err := wire.Apply(doc, f.Ops)
			if err != nil {
				t.Fatal(err)
			}
			doc = next
		}
		if m, ok := doc.(map[string]any); ok && len(m) == 2 {
			if _, ok := m[ca.id]; ok {
				return
			}
		}
		t.Logf("presence: %v", doc)
	}
}

// TestClusterListsAndEndsAnywhere: Has, Keys and ListStores answer for
// every node, and Delete or Reset on a node that never used an instance
// ends it where it was made.
func TestClusterListsAndEndsAnywhere(t *testing.T) {
	a, b := cluster(t)
	for _, k := range []string{"x", "y"} {
		if err := a.rooms.Update(k, func(c *counter) { c.N++ }); err != nil {
			t.Fatal(err)
		}
	}
	if !b.rooms.Has("x") || b.rooms.Has("z") {
		t.Fatal("B does not see what A made, or sees what nobody made")
	}
	keys := b.rooms.Keys()
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"x", "y"}) {
		t.Fatalf("Keys on B: %q", keys)
	}
	if got := b.srv.ListStores(); !slices.Contains(got, "Room:x") || !slices.Contains(got, "Room:y") {
		t.Fatalf("ListStores on B: %q", got)
	}
	if !b.rooms.Delete("x") {
		t.Fatal("Delete on B found nothing")
	}
	within(t, "A forgets the deleted instance", func() bool { return !a.rooms.Has("x") })
	if keys := a.rooms.Keys(); !slices.Equal(keys, []string{"y"}) {
		t.Fatalf("Keys on A after the delete: %q", keys)
	}
	b.rooms.Reset("y")
	within(t, "A follows the reset", func() bool { return !a.rooms.IsInitialized("y") && a.rooms.Get("y").N == 0 })
}

// TestClusterPresenceCountsEveryNode: one member connected through two
// nodes stays listed until its last connection anywhere leaves.
func TestClusterPresenceCountsEveryNode(t *testing.T) {
	eng := hotstate.NewMemoryEngine(256, 1<<20)
	var srvs []*hotstate.Server
	for range 2 {
		// No heartbeat: no grace period, so a member leaves at once.
		srv := hotstate.New(hotstate.WithEngine(eng), hotstate.WithHeartbeat(0))
		t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
		hotstate.NewFamily(srv, "Room:*", counter{}).Presence(func(hotstate.Caller) (string, any) { return "ann", nil })
		srvs = append(srvs, srv)
	}
	ca, cb, watcher := connect(t, srvs[0]), connect(t, srvs[1]), connect(t, srvs[1])
	for _, c := range []*client{ca, cb} {
		c.send(wire.EncodeSub("Room:p"))
		c.expect(wire.TypeSnap)
	}
	listed := func() bool {
		in, ok := srvs[1].Lookup("presence:Room:p")
		if !ok {
			t.Fatal("no presence store")
		}
		_, there := in.Get().(hotstate.Presence)["ann"]
		return there
	}
	within(t, "ann is listed", listed)
	ca.send(wire.EncodeUnsub("Room:p"))
	watcher.quiet(100 * time.Millisecond)
	if !listed() {
		t.Fatal("ann left the list while still connected through the other node")
	}
	cb.send(wire.EncodeUnsub("Room:p"))
	within(t, "ann leaves the list", func() bool { return !listed() })
}

// lostAnswer is an engine whose next append, once armed, is taken by the
// log but reported failed, as when the engine's answer is lost on the way
// back; the watch reports the change before the error comes.
type lostAnswer struct {
	hotstate.Engine
	armed atomic.Bool
}

func (e *lostAnswer) Append(ctx context.Context, name string, prev hotstate.Position, c hotstate.Change) error {
	err := e.Engine.Append(ctx, name, prev, c)
	if err == nil && e.armed.CompareAndSwap(true, false) {
		time.Sleep(20 * time.Millisecond)
		return fmt.Errorf("%w: the answer was lost", hotstate.ErrUnavailable)
	}
	return err
}

// TestClusterLostAnswerStillApplied: a change the log took though its
// append was reported failed reaches the writing node's state and
// subscribers too, not only the other nodes'.
func TestClusterLostAnswerStillApplied(t *testing.T) {
	eng := hotstate.NewMemoryEngine(256, 1<<20)
	lossy := &lostAnswer{Engine: eng}
	var created, idle atomic.Int32
	a, b := newNode(t, lossy, &created, &idle), newNode(t, eng, &created, &idle)
	a.count.Init()
	b.count.Init()
	ca := connect(t, a.srv)
	var doc any
	ca.send(wire.EncodeSub("Count"))
	followN(t, ca, &doc, 0)

	lossy.armed.Store(true)
	if err := a.count.Update(func(c *counter) { c.N++ }); !errors.Is(err, hotstate.ErrUnavailable) {
		t.Fatalf("Update with a lost answer = %v, want ErrUnavailable", err)
	}
	within(t, "both nodes hold the change the log took", func() bool {
		return a.count.Get().N == 101 && b.count.Get().N == 101
	})
	followN(t, ca, &doc, 1)
	if n := toInt(doc.(map[string]any)["n"]); n != 101 {
		t.Fatalf("the writing node's subscriber holds %d, want 101", n)
	}
}
