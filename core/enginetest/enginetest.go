// Package enginetest is the conformance suite every hotstate.Engine runs:
// ordered versions under concurrent writers, refused stale appends,
// catch-up and resume from a version, lifetimes and epochs, snapshots
// after the log is trimmed, deletion, watching, messages, subscriber
// counts and listing. An engine's tests call Run with a constructor:
//
//	func TestConformance(t *testing.T) {
//		enginetest.Run(t, func(t *testing.T, cfg enginetest.Config) hotstate.Engine {
//			return hotstate.NewMemoryEngine(cfg.MaxChanges, 1<<20)
//		})
//	}
package enginetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// Config is what a test asks of the engine it is given.
type Config struct {
	// MaxChanges is how many changes per instance the log keeps at least,
	// and may trim beyond.
	MaxChanges int
}

// New returns a fresh engine, isolated from every other the suite makes
// (its own key prefix, stream or server), stopped when t ends.
type New func(t *testing.T, cfg Config) hotstate.Engine

var cases = []struct {
	name string
	run  func(t *testing.T, e hotstate.Engine)
	cfg  Config
}{
	{"AppendAndSince", testAppendAndSince, Config{MaxChanges: 1000}},
	{"StaleAppendRefused", testStaleAppend, Config{MaxChanges: 1000}},
	{"ConcurrentWriters", testConcurrentWriters, Config{MaxChanges: 1000}},
	{"Lifetimes", testLifetimes, Config{MaxChanges: 1000}},
	{"CheckpointAfterTrim", testCheckpoint, Config{MaxChanges: 8}},
	{"Delete", testDelete, Config{MaxChanges: 1000}},
	{"Watch", testWatch, Config{MaxChanges: 1000}},
	{"PublishListen", testPublish, Config{MaxChanges: 1000}},
	{"Subscribers", testSubscribers, Config{MaxChanges: 1000}},
	{"Names", testNames, Config{MaxChanges: 1000}},
}

// Run runs every case against engines made by newEngine.
func Run(t *testing.T, newEngine New) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, newEngine(t, c.cfg)) })
	}
}

const wait = 5 * time.Second

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return c
}

type counter struct {
	N int `json:"n"`
}

// Snap is the change that holds {"n": n} whole, as name at epoch and
// version: a new lifetime at version 0, a Set after it. Engines' own tests
// build their logs with Snap and Patch.
func Snap(t testing.TB, name string, epoch, version uint64, n int) hotstate.Change {
	t.Helper()
	f, err := wire.EncodeSnap(name, epoch, version, counter{N: n})
	if err != nil {
		t.Fatal(err)
	}
	return hotstate.Change{Position: hotstate.Position{Epoch: epoch, Version: version}, Frame: f}
}

// Patch is the change that sets n, as name at epoch and version.
func Patch(t testing.TB, name string, epoch, version uint64, n int) hotstate.Change {
	t.Helper()
	f, err := wire.EncodePatch(name, epoch, version, []wire.Op{{Op: wire.OpReplace, Path: "/n", Value: n}})
	if err != nil {
		t.Fatal(err)
	}
	return hotstate.Change{Position: hotstate.Position{Epoch: epoch, Version: version}, Frame: f}
}

// At is the Position at epoch e and version v.
func At(e, v uint64) hotstate.Position { return hotstate.Position{Epoch: e, Version: v} }

// grow creates name at epoch and appends patches up to version n.
func grow(t *testing.T, e hotstate.Engine, name string, epoch uint64, n int) {
	t.Helper()
	if err := e.Append(ctx(t), name, hotstate.Position{}, Snap(t, name, epoch, 0, 0)); err != nil {
		t.Fatalf("create: %v", err)
	}
	for v := 1; v <= n; v++ {
		if err := e.Append(ctx(t), name, At(epoch, uint64(v-1)), Patch(t, name, epoch, uint64(v), v)); err != nil {
			t.Fatalf("append %d: %v", v, err)
		}
	}
}

// Versions lists the versions of cs, for comparing a log with what it
// should hold.
func Versions(cs []hotstate.Change) []uint64 {
	vs := make([]uint64, len(cs))
	for i, c := range cs {
		vs[i] = c.Version
	}
	return vs
}

func seq(from, to uint64) []uint64 {
	var vs []uint64
	for v := from; v <= to; v++ {
		vs = append(vs, v)
	}
	return vs
}

func testAppendAndSince(t *testing.T, e hotstate.Engine) {
	grow(t, e, "A", 7, 10)
	cs, err := e.Since(ctx(t), "A", At(7, 0))
	if err != nil || !slices.Equal(Versions(cs), seq(1, 10)) {
		t.Fatalf("Since(0) = %v, %v", Versions(cs), err)
	}
	for _, c := range cs {
		if wire.TypeOf(c.Frame) != wire.TypePatch || c.Epoch != 7 {
			t.Fatalf("change %+v", c.Position)
		}
	}
	if cs, err := e.Since(ctx(t), "A", At(7, 6)); err != nil || !slices.Equal(Versions(cs), seq(7, 10)) {
		t.Fatalf("Since(6) = %v, %v", Versions(cs), err)
	}
	if cs, err := e.Since(ctx(t), "A", At(7, 10)); err != nil || len(cs) != 0 {
		t.Fatalf("Since(current) = %v, %v", Versions(cs), err)
	}
	for _, p := range []hotstate.Position{At(7, 11), At(8, 0)} {
		if _, err := e.Since(ctx(t), "A", p); !errors.Is(err, hotstate.ErrGone) {
			t.Fatalf("Since(%+v) = %v, want ErrGone", p, err)
		}
	}
	if _, err := e.Since(ctx(t), "Nothing", At(7, 0)); !errors.Is(err, hotstate.ErrGone) {
		t.Fatalf("Since on a missing instance = %v, want ErrGone", err)
	}
}

func testStaleAppend(t *testing.T, e hotstate.Engine) {
	grow(t, e, "A", 1, 5)
	for _, p := range []hotstate.Position{At(1, 3), At(1, 6), At(2, 5), {}} {
		err := e.Append(ctx(t), "A", p, Patch(t, "A", 1, p.Version+1, 99))
		if !errors.Is(err, hotstate.ErrConflict) {
			t.Fatalf("append after %+v = %v, want ErrConflict", p, err)
		}
	}
	if err := e.Append(ctx(t), "A", hotstate.Position{}, Snap(t, "A", 9, 0, 0)); !errors.Is(err, hotstate.ErrConflict) {
		t.Fatalf("second creation = %v, want ErrConflict", err)
	}
	cs, err := e.Since(ctx(t), "A", At(1, 0))
	if err != nil || !slices.Equal(Versions(cs), seq(1, 5)) {
		t.Fatalf("refused appends changed the log: %v, %v", Versions(cs), err)
	}
}

// testConcurrentWriters has writers race to increment one counter the way
// the server does: read the position, append after it, and on a conflict
// catch up and try again. Every increment lands exactly once, in order.
func testConcurrentWriters(t *testing.T, e hotstate.Engine) {
	const writers, each = 6, 40
	grow(t, e, "C", 3, 0)
	var (
		mu   sync.Mutex
		seen []uint64
	)
	stop := e.Watch("C", func(c hotstate.Change) {
		mu.Lock()
		seen = append(seen, c.Version)
		mu.Unlock()
	})
	defer stop()
	var wg sync.WaitGroup
	conflicts := make([]int, writers)
	for w := range writers {
		wg.Go(func() {
			at := At(3, 0)
			for done := 0; done < each; {
				err := e.Append(context.Background(), "C", at, Patch(t, "C", 3, at.Version+1, int(at.Version+1)))
				switch {
				case err == nil:
					at.Version++
					done++
				case errors.Is(err, hotstate.ErrConflict):
					conflicts[w]++
					cs, err := e.Since(context.Background(), "C", at)
					if err != nil {
						t.Errorf("catch up from %+v: %v", at, err)
						return
					}
					at.Version += uint64(len(cs))
				default:
					t.Errorf("append: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	cs, err := e.Since(ctx(t), "C", At(3, 0))
	if err != nil || !slices.Equal(Versions(cs), seq(1, writers*each)) {
		t.Fatalf("log after the race: %v, %v", Versions(cs), err)
	}
	deadline := time.Now().Add(wait)
	for {
		mu.Lock()
		got := slices.Clone(seen)
		mu.Unlock()
		if slices.Equal(got, seq(1, writers*each)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("watched %d changes out of order or missing: %v", len(got), got)
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("%d writers, %d increments each; conflicts per writer %v", writers, each, conflicts)
}

func testLifetimes(t *testing.T, e hotstate.Engine) {
	grow(t, e, "L", 1, 4)
	// A reset: a new lifetime after the old one's end.
	if err := e.Append(ctx(t), "L", At(1, 4), Snap(t, "L", 2, 0, 100)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Since(ctx(t), "L", At(1, 2)); !errors.Is(err, hotstate.ErrGone) {
		t.Fatalf("Since in the old epoch = %v, want ErrGone", err)
	}
	if err := e.Append(ctx(t), "L", At(2, 0), Patch(t, "L", 2, 1, 101)); err != nil {
		t.Fatal(err)
	}
	snap, after, err := e.Load(ctx(t), "L")
	if err != nil || snap.Position != At(2, 0) || !slices.Equal(Versions(after), []uint64{1}) {
		t.Fatalf("Load = %+v, %v, %v", snap.Position, Versions(after), err)
	}
	if wire.TypeOf(snap.Frame) != wire.TypeSnap {
		t.Fatal("Load's snapshot is not a snap frame")
	}
	// A Set: a snapshot inside the lifetime.
	if err := e.Append(ctx(t), "L", At(2, 1), Snap(t, "L", 2, 2, 7)); err != nil {
		t.Fatal(err)
	}
	if snap, after, err := e.Load(ctx(t), "L"); err != nil || snap.Position != At(2, 2) || len(after) != 0 {
		t.Fatalf("Load after a Set = %+v, %v, %v", snap.Position, Versions(after), err)
	}
	if cs, err := e.Since(ctx(t), "L", At(2, 0)); err != nil || !slices.Equal(Versions(cs), []uint64{1, 2}) {
		t.Fatalf("Since across a Set = %v, %v", Versions(cs), err)
	}
}

func testCheckpoint(t *testing.T, e hotstate.Engine) {
	grow(t, e, "K", 5, 6)
	if err := e.Checkpoint(ctx(t), "K", Snap(t, "K", 5, 6, 6)); err != nil {
		t.Fatal(err)
	}
	for v := 7; v <= 12; v++ {
		if err := e.Append(ctx(t), "K", At(5, uint64(v-1)), Patch(t, "K", 5, uint64(v), v)); err != nil {
			t.Fatal(err)
		}
	}
	snap, after, err := e.Load(ctx(t), "K")
	if err != nil || snap.Position != At(5, 6) || !slices.Equal(Versions(after), seq(7, 12)) {
		t.Fatalf("Load = %+v, %v, %v", snap.Position, Versions(after), err)
	}
	// More changes than the log keeps: the early ones are gone, and so
	// resuming from them needs a snapshot.
	for v := 13; v <= 40; v++ {
		if err := e.Append(ctx(t), "K", At(5, uint64(v-1)), Patch(t, "K", 5, uint64(v), v)); err != nil {
			t.Fatal(err)
		}
		if v%8 == 0 {
			if err := e.Checkpoint(ctx(t), "K", Snap(t, "K", 5, uint64(v), v)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := e.Since(ctx(t), "K", At(5, 1)); !errors.Is(err, hotstate.ErrGone) {
		t.Fatalf("Since past the trimmed part = %v, want ErrGone", err)
	}
	snap, after, err = e.Load(ctx(t), "K")
	if err != nil || snap.Position != At(5, 40) || len(after) != 0 {
		t.Fatalf("Load after trimming = %+v, %v, %v", snap.Position, Versions(after), err)
	}
	// Checkpoints of other lifetimes, of the future or older than the one
	// kept change nothing.
	for _, c := range []hotstate.Change{Snap(t, "K", 4, 40, 0), Snap(t, "K", 5, 41, 0), Snap(t, "K", 5, 32, 0)} {
		if err := e.Checkpoint(ctx(t), "K", c); err != nil {
			t.Fatal(err)
		}
	}
	if snap, _, err := e.Load(ctx(t), "K"); err != nil || snap.Position != At(5, 40) {
		t.Fatalf("a stray checkpoint moved Load to %+v (%v)", snap.Position, err)
	}
}

func testDelete(t *testing.T, e hotstate.Engine) {
	grow(t, e, "D", 1, 3)
	del := hotstate.Change{Position: At(1, 4), Frame: wire.EncodeDel("D")}
	if err := e.Append(ctx(t), "D", At(1, 2), del); !errors.Is(err, hotstate.ErrConflict) {
		t.Fatalf("stale delete = %v, want ErrConflict", err)
	}
	if err := e.Append(ctx(t), "D", At(1, 3), del); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Load(ctx(t), "D"); !errors.Is(err, hotstate.ErrNotFound) {
		t.Fatalf("Load after delete = %v, want ErrNotFound", err)
	}
	if _, err := e.Since(ctx(t), "D", At(1, 0)); !errors.Is(err, hotstate.ErrGone) {
		t.Fatalf("Since after delete = %v, want ErrGone", err)
	}
	grow(t, e, "D", 2, 1) // created anew from nothing
	if snap, _, err := e.Load(ctx(t), "D"); err != nil || snap.Epoch != 2 {
		t.Fatalf("Load after re-creation = %+v, %v", snap.Position, err)
	}
}

func testWatch(t *testing.T, e hotstate.Engine) {
	grow(t, e, "W", 1, 2)
	got := make(chan hotstate.Change, 16)
	stop := e.Watch("W", func(c hotstate.Change) { got <- c })
	next := func() hotstate.Change {
		select {
		case c := <-got:
			return c
		case <-time.After(wait):
			t.Fatal("no change watched")
			return hotstate.Change{}
		}
	}
	if err := e.Append(ctx(t), "W", At(1, 2), Patch(t, "W", 1, 3, 3)); err != nil {
		t.Fatal(err)
	}
	if c := next(); c.Position != At(1, 3) || wire.TypeOf(c.Frame) != wire.TypePatch {
		t.Fatalf("watched %+v", c.Position)
	}
	if err := e.Append(ctx(t), "W", At(1, 3), Snap(t, "W", 2, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if c := next(); c.Position != At(2, 0) {
		t.Fatalf("watched %+v, want the new lifetime", c.Position)
	}
	if err := e.Append(ctx(t), "W", At(2, 0), hotstate.Change{Position: At(2, 1), Frame: wire.EncodeDel("W")}); err != nil {
		t.Fatal(err)
	}
	if c := next(); wire.TypeOf(c.Frame) != wire.TypeDel {
		t.Fatal("the deletion was not watched")
	}
	// The watch outlives the deletion and sees the next creation.
	grow(t, e, "W", 3, 0)
	if c := next(); c.Position != At(3, 0) {
		t.Fatalf("watched %+v after re-creation", c.Position)
	}
	stop()
	if err := e.Append(ctx(t), "W", At(3, 0), Patch(t, "W", 3, 1, 1)); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-got:
		t.Fatalf("watched %+v after stop", c.Position)
	case <-time.After(50 * time.Millisecond):
	}
}

// testPublish: a listener hears one channel's messages in the order they
// were published, and nothing after it stopped.
func testPublish(t *testing.T, e hotstate.Engine) {
	const sent = 10
	got := make(chan string, sent+2)
	stop := e.Listen("events", func(msg []byte) { got <- string(msg) })
	other := e.Listen("other", func(msg []byte) { got <- "other:" + string(msg) })
	defer other()
	for i := range sent {
		if err := e.Publish(ctx(t), "events", fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range sent {
		select {
		case m := <-got:
			if m != fmt.Sprintf("m%d", i) {
				t.Fatalf("message %d is %q", i, m)
			}
		case <-time.After(wait):
			t.Fatal("no message")
		}
	}
	stop()
	if err := e.Publish(ctx(t), "events", []byte("late")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		t.Fatalf("heard %q after stop", m)
	case <-time.After(50 * time.Millisecond):
	}
}

func testSubscribers(t *testing.T, e hotstate.Engine) {
	steps := []struct{ delta, want int }{{1, 1}, {2, 3}, {-1, 2}, {-2, 0}}
	for _, s := range steps {
		n, err := e.AddSubscribers(ctx(t), "S", s.delta)
		if err != nil || n != s.want {
			t.Fatalf("AddSubscribers(%d) = %d, %v; want %d", s.delta, n, err, s.want)
		}
	}
	if n, err := e.AddSubscribers(ctx(t), "T", 0); err != nil || n != 0 {
		t.Fatalf("count of an instance nobody subscribed = %d, %v", n, err)
	}
}

// testNames: the instances that exist are listed by prefix, whatever their
// names hold; a deleted one is not.
func testNames(t *testing.T, e hotstate.Engine) {
	names := []string{"Room:a", "Room:b.c", "Room:*", "Room:[x]", "Room:{y}", "Rooms", "Todos"}
	for i, n := range names {
		grow(t, e, n, uint64(i+1), 1)
	}
	del := hotstate.Change{Position: At(1, 2), Frame: wire.EncodeDel("Room:a")}
	if err := e.Append(ctx(t), "Room:a", At(1, 1), del); err != nil {
		t.Fatal(err)
	}
	for prefix, want := range map[string][]string{
		"Room:":  {"Room:*", "Room:[x]", "Room:b.c", "Room:{y}"},
		"Room":   {"Room:*", "Room:[x]", "Room:b.c", "Room:{y}", "Rooms"},
		"Room:*": {"Room:*"},
		"Todos":  {"Todos"},
		"None":   nil,
	} {
		got, err := e.Names(ctx(t), prefix)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("Names(%q) = %q, want %q", prefix, got, want)
		}
	}
}
