package hotnats_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/enginetest"
	hotnats "github.com/hotstate/hotstate/engines/nats"
	"go.uber.org/goleak"
)

// server is the private nats-server of this test binary.
var server *natsServer

func TestMain(m *testing.M) {
	s, err := startNATS()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	server = s
	code := m.Run()
	s.stop()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// prefixes makes each test's streams and buckets its own, on one server.
var prefixes atomic.Int64

func freshPrefix() string { return fmt.Sprintf("hstest%d", prefixes.Add(1)) }

func newEngine(t testing.TB, s *natsServer, opts ...hotnats.Option) *hotnats.Engine {
	t.Helper()
	e, err := hotnats.New(ctx(t), connect(t, s), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func TestConformance(t *testing.T) {
	enginetest.Run(t, func(t *testing.T, cfg enginetest.Config) hotstate.Engine {
		return newEngine(t, server, hotnats.WithPrefix(freshPrefix()), hotnats.WithMaxChanges(cfg.MaxChanges))
	})
}

// grow creates name at epoch and appends patches up to version n.
func grow(t testing.TB, e hotstate.Engine, name string, epoch uint64, n int) {
	t.Helper()
	if err := e.Append(ctx(t), name, hotstate.Position{}, enginetest.Snap(t, name, epoch, 0, 0)); err != nil {
		t.Fatalf("create %q: %v", name, err)
	}
	for v := uint64(1); v <= uint64(n); v++ {
		if err := e.Append(ctx(t), name, enginetest.At(epoch, v-1), enginetest.Patch(t, name, epoch, v, int(v))); err != nil {
			t.Fatalf("append %d to %q: %v", v, name, err)
		}
	}
}

// TestStaleWriterRefused has two nodes see the same end of the log; the
// one that writes second is refused, and its change is not in the log.
func TestStaleWriterRefused(t *testing.T) {
	prefix := freshPrefix()
	a := newEngine(t, server, hotnats.WithPrefix(prefix))
	b := newEngine(t, server, hotnats.WithPrefix(prefix))
	grow(t, a, "R", 42, 3)
	// b reads the log, so its guess of the end is 42/3 too.
	if cs, err := b.Since(ctx(t), "R", enginetest.At(42, 0)); err != nil || len(cs) != 3 {
		t.Fatalf("b's Since = %d changes, %v", len(cs), err)
	}
	if err := a.Append(ctx(t), "R", enginetest.At(42, 3), enginetest.Patch(t, "R", 42, 4, 4)); err != nil {
		t.Fatal(err)
	}
	if err := b.Append(ctx(t), "R", enginetest.At(42, 3), enginetest.Patch(t, "R", 42, 4, 400)); !errors.Is(err, hotstate.ErrConflict) {
		t.Fatalf("stale append = %v, want ErrConflict", err)
	}
	// A stale reset (a new lifetime after the old end) is refused too.
	if err := b.Append(ctx(t), "R", enginetest.At(42, 3), enginetest.Snap(t, "R", 43, 0, 0)); !errors.Is(err, hotstate.ErrConflict) {
		t.Fatalf("stale reset = %v, want ErrConflict", err)
	}
	cs, err := b.Since(ctx(t), "R", enginetest.At(42, 3))
	if err != nil || len(cs) != 1 || string(cs[0].Frame) != string(enginetest.Patch(t, "R", 42, 4, 4).Frame) {
		t.Fatalf("the log after the refused append: %d changes, %v", len(cs), err)
	}
	if err := b.Append(ctx(t), "R", enginetest.At(42, 4), enginetest.Patch(t, "R", 42, 5, 5)); err != nil {
		t.Fatal(err)
	}
	// a's guess of the end (42/4) is stale now: its append at 42/4 is
	// refused, at 42/5 it goes through.
	if err := a.Append(ctx(t), "R", enginetest.At(42, 4), enginetest.Patch(t, "R", 42, 5, 50)); !errors.Is(err, hotstate.ErrConflict) {
		t.Fatalf("append on a stale guess = %v, want ErrConflict", err)
	}
	if err := a.Append(ctx(t), "R", enginetest.At(42, 5), enginetest.Patch(t, "R", 42, 6, 6)); err != nil {
		t.Fatal(err)
	}
}

// TestNamesAreEncoded: names that are no valid subject token (dots,
// wildcards, spaces, colons, nothing at all) are instances of their own.
func TestNamesAreEncoded(t *testing.T) {
	e := newEngine(t, server, hotnats.WithPrefix(freshPrefix()))
	names := []string{"Room:general", "a.b", "a", "b", "*", ">", "a b", "", "ünï/cødé", "a.*.>"}
	for i, name := range names {
		grow(t, e, name, uint64(i+1), i)
	}
	for i, name := range names {
		sn, after, err := e.Load(ctx(t), name)
		if err != nil || sn.Epoch != uint64(i+1) || len(after) != i {
			t.Fatalf("Load(%q) = %+v, %d after, %v", name, sn.Position, len(after), err)
		}
	}
	got := make(chan []byte, 4)
	stop := e.Listen("chat.*", func(msg []byte) { got <- msg })
	defer stop()
	if err := e.Publish(ctx(t), "chat.room", []byte("no")); err != nil {
		t.Fatal(err)
	}
	if err := e.Publish(ctx(t), "chat.*", []byte("yes")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if string(m) != "yes" {
			t.Fatalf("the listener of \"chat.*\" heard %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
	}
}

// TestSinceLongGap reads more changes back than a walk along the
// messages does, through a consumer, across a Set.
func TestSinceLongGap(t *testing.T) {
	e := newEngine(t, server, hotnats.WithPrefix(freshPrefix()), hotnats.WithMaxChanges(100))
	grow(t, e, "G", 1, 30)
	if err := e.Append(ctx(t), "G", enginetest.At(1, 30), enginetest.Snap(t, "G", 1, 31, 31)); err != nil {
		t.Fatal(err)
	}
	for v := uint64(32); v <= 60; v++ {
		if err := e.Append(ctx(t), "G", enginetest.At(1, v-1), enginetest.Patch(t, "G", 1, v, int(v))); err != nil {
			t.Fatal(err)
		}
	}
	for _, from := range []uint64{0, 5, 30, 31, 40, 55} {
		cs, err := e.Since(ctx(t), "G", enginetest.At(1, from))
		want := make([]uint64, 0, 60-from)
		for v := from + 1; v <= 60; v++ {
			want = append(want, v)
		}
		if err != nil || !slices.Equal(enginetest.Versions(cs), want) {
			t.Fatalf("Since(%d) = %v, %v", from, enginetest.Versions(cs), err)
		}
	}
	sn, after, err := e.Load(ctx(t), "G")
	if err != nil || sn.Position != enginetest.At(1, 31) || len(after) != 29 {
		t.Fatalf("Load = %+v, %d after, %v", sn.Position, len(after), err)
	}
}

// TestWatchAcrossNodes: a change written through one engine is watched
// through another, in order, including changes appended in a burst.
func TestWatchAcrossNodes(t *testing.T) {
	prefix := freshPrefix()
	a := newEngine(t, server, hotnats.WithPrefix(prefix))
	b := newEngine(t, server, hotnats.WithPrefix(prefix))
	got := make(chan hotstate.Change, 1000)
	stop := b.Watch("X", func(c hotstate.Change) { got <- c })
	defer stop()
	const n = 600
	grow(t, a, "X", 5, n)
	for v := uint64(0); v <= n; v++ {
		select {
		case c := <-got:
			if c.Position != enginetest.At(5, v) {
				t.Fatalf("watched %+v, want version %d", c.Position, v)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("version %d not watched", v)
		}
	}
}

// TestWatchAcrossReconnect: the watching node's connection drops and
// comes back while another node keeps appending; the watcher still sees
// every change once, in order, read from the stream after the gap.
func TestWatchAcrossReconnect(t *testing.T) {
	prefix := freshPrefix()
	a := newEngine(t, server, hotnats.WithPrefix(prefix))
	bjs := connect(t, server)
	b, err := hotnats.New(ctx(t), bjs, hotnats.WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	got := make(chan hotstate.Change, 1000)
	stop := b.Watch("Y", func(c hotstate.Change) { got <- c })
	defer stop()
	const n = 300
	done := make(chan struct{})
	go func() {
		defer close(done)
		grow(t, a, "Y", 2, n)
	}()
	for range 3 {
		if err := bjs.Conn().ForceReconnect(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the watcher to reconnect", bjs.Conn().IsConnected)
	}
	<-done
	for v := uint64(0); v <= n; v++ {
		select {
		case c := <-got:
			if c.Position != enginetest.At(2, v) {
				t.Fatalf("watched %+v, want version %d", c.Position, v)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("version %d not watched", v)
		}
	}
	select {
	case c := <-got:
		t.Fatalf("watched %+v twice", c.Position)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestServerKilled kills the private server (SIGKILL) of an engine that
// keeps its streams in files: while it is down, Append fails at once with
// ErrUnavailable; once it is back, nothing appended before is lost, the
// watch goes on where it was, and Append works again.
func TestServerKilled(t *testing.T) {
	s, err := startNATS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	js := connect(t, s)
	e, err := hotnats.New(ctx(t), js)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	got := make(chan hotstate.Change, 64)
	stop := e.Watch("Durable", func(c hotstate.Change) { got <- c })
	defer stop()
	grow(t, e, "Durable", 9, 5)
	if err := e.Checkpoint(ctx(t), "Durable", enginetest.Snap(t, "Durable", 9, 3, 3)); err != nil {
		t.Fatal(err)
	}
	for v := uint64(0); v <= 5; v++ {
		if c := <-got; c.Position != enginetest.At(9, v) {
			t.Fatalf("watched %+v, want version %d", c.Position, v)
		}
	}

	s.crash()
	waitFor(t, "the client to see the server gone", func() bool { return !js.Conn().IsConnected() })
	err = e.Append(ctx(t), "Durable", enginetest.At(9, 5), enginetest.Patch(t, "Durable", 9, 6, 6))
	if !errors.Is(err, hotnats.ErrUnavailable) {
		t.Fatalf("append while the server is down = %v, want ErrUnavailable", err)
	}
	t.Logf("while down: %v", err)
	// A watch begun while the server is down starts once it is back,
	// with the latest change stored then.
	late := make(chan hotstate.Change, 64)
	stopLate := e.Watch("Durable", func(c hotstate.Change) { late <- c })
	defer stopLate()

	if err := s.restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the client to reconnect", js.Conn().IsConnected)
	sn, after, err := e.Load(ctx(t), "Durable")
	if err != nil || sn.Position != enginetest.At(9, 3) || !slices.Equal(enginetest.Versions(after), []uint64{4, 5}) {
		t.Fatalf("Load after the restart = %+v, %v, %v", sn.Position, enginetest.Versions(after), err)
	}
	if string(sn.Frame) != string(enginetest.Snap(t, "Durable", 9, 3, 3).Frame) {
		t.Fatal("the checkpoint's frame changed across the restart")
	}
	for v := uint64(6); v <= 7; v++ {
		if err := e.Append(ctx(t), "Durable", enginetest.At(9, v-1), enginetest.Patch(t, "Durable", 9, v, int(v))); err != nil {
			t.Fatalf("append %d after the restart: %v", v, err)
		}
	}
	for v := uint64(6); v <= 7; v++ {
		select {
		case c := <-got:
			if c.Position != enginetest.At(9, v) {
				t.Fatalf("watched %+v after the restart, want version %d", c.Position, v)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("version %d not watched after the restart", v)
		}
	}
	for prev := uint64(4); prev < 7; {
		select {
		case c := <-late:
			if c.Epoch != 9 || c.Version <= prev {
				t.Fatalf("the late watch saw %+v after version %d", c.Position, prev)
			}
			prev = c.Version
		case <-time.After(20 * time.Second):
			t.Fatal("the watch begun while the server was down saw nothing")
		}
	}
	if cs, err := e.Since(ctx(t), "Durable", enginetest.At(9, 0)); err != nil || !slices.Equal(enginetest.Versions(cs), []uint64{1, 2, 3, 4, 5, 6, 7}) {
		t.Fatalf("the log after the restart: %v, %v", enginetest.Versions(cs), err)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDeadNodeStopsCounting: a node's counts stop counting once its
// liveness key expires; a closed node's leave at once.
func TestDeadNodeStopsCounting(t *testing.T) {
	prefix := freshPrefix()
	ttl := hotnats.WithNodeTTL(600 * time.Millisecond)
	a := newEngine(t, server, hotnats.WithPrefix(prefix), hotnats.WithNodeID("a"), ttl)
	b := newEngine(t, server, hotnats.WithPrefix(prefix), hotnats.WithNodeID("b"), ttl)
	if n, err := a.AddSubscribers(ctx(t), "S", 2); err != nil || n != 2 {
		t.Fatalf("a's count = %d, %v", n, err)
	}
	if n, err := b.AddSubscribers(ctx(t), "S", 3); err != nil || n != 5 {
		t.Fatalf("count with b = %d, %v; want 5", n, err)
	}
	// A node that crashes: its heartbeat stops without Close removing its
	// counts. Its connection goes first, as a crashed process's does.
	gjs := connect(t, server)
	ghost, err := hotnats.New(ctx(t), gjs, hotnats.WithPrefix(prefix), hotnats.WithNodeID("ghost"), ttl)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := ghost.AddSubscribers(ctx(t), "S", 7); err != nil || n != 12 {
		t.Fatalf("count with the ghost = %d, %v; want 12", n, err)
	}
	gjs.Conn().Close()
	ghost.Close()
	enginetest.WaitCount(t, a, "S", 5, 10*time.Second)
	b.Close()
	if n, err := a.AddSubscribers(ctx(t), "S", 0); err != nil || n != 2 {
		t.Fatalf("count after b closed = %d, %v; want 2", n, err)
	}
}

// BenchmarkAppend measures one change committed to the private server,
// sequentially: one conditional publish, the end of the log known from
// the previous append.
func BenchmarkAppend(b *testing.B) {
	e := newEngine(b, server, hotnats.WithPrefix(freshPrefix()))
	enginetest.BenchmarkAppend(b, e)
}

// BenchmarkAppendParallel has writers on distinct instances, as the
// server's many stores do.
func BenchmarkAppendParallel(b *testing.B) {
	e := newEngine(b, server, hotnats.WithPrefix(freshPrefix()))
	enginetest.BenchmarkAppendParallel(b, e)
}
