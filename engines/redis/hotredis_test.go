package hotredis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/enginetest"
	hotredis "github.com/hotstate/hotstate/engines/redis"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// server is the private redis-server of this test binary, never the
// machine's shared one.
var server *redisServer

func TestMain(m *testing.M) {
	s, err := startRedis("", false)
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

type redisServer struct {
	port int
	dir  string
	cmd  *exec.Cmd
}

// startRedis starts redis-server on a free port, keeping its files in dir
// (a new temporary directory when empty), with an append-only file when
// aof is set, and returns once it answers.
func startRedis(dir string, aof bool) (*redisServer, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, fmt.Errorf("redis-server is not installed (scripts/ensure-servers.sh installs it): %w", err)
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "hotredis-")
		if err != nil {
			return nil, err
		}
		dir = d
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &redisServer{port: port, dir: dir}
	return s, s.start(aof)
}

func (s *redisServer) start(aof bool) error {
	appendonly := "no"
	if aof {
		appendonly = "yes"
	}
	s.cmd = exec.Command("redis-server",
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", appendonly, "--appendfsync", "always",
		"--dir", s.dir)
	if err := s.cmd.Start(); err != nil {
		return err
	}
	rdb := redis.NewClient(&redis.Options{Addr: s.addr(), MaxRetries: -1})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("redis-server on port %d does not answer: %w", s.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// kill stops the server the way an operator's restart does (SIGTERM: it
// finishes writing its files) and waits for it.
func (s *redisServer) kill() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
}

// crash kills the server without letting it write anything more.
func (s *redisServer) crash() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

func (s *redisServer) stop() {
	s.kill()
	_ = os.RemoveAll(s.dir)
}

func client(t testing.TB, s *redisServer) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: s.addr()})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// prefixes makes each test's keys its own, on the one server.
var prefixes atomic.Int64

func freshPrefix() string { return fmt.Sprintf("hstest%d", prefixes.Add(1)) }

func TestConformance(t *testing.T) {
	rdb := client(t, server)
	enginetest.Run(t, func(t *testing.T, cfg enginetest.Config) hotstate.Engine {
		e := hotredis.New(rdb, hotredis.WithPrefix(freshPrefix()), hotredis.WithMaxChanges(cfg.MaxChanges))
		t.Cleanup(e.Close)
		return e
	})
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestStaleWriterRefused has two nodes see the same end of the log; the
// one that writes second is refused, and its change is not in the log.
func TestStaleWriterRefused(t *testing.T) {
	prefix := freshPrefix()
	a := hotredis.New(client(t, server), hotredis.WithPrefix(prefix))
	b := hotredis.New(client(t, server), hotredis.WithPrefix(prefix))
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	if err := a.Append(ctx(t), "R", hotstate.Position{}, enginetest.Snap(t, "R", 42, 0, 0)); err != nil {
		t.Fatal(err)
	}
	for v := uint64(1); v <= 3; v++ {
		if err := a.Append(ctx(t), "R", enginetest.At(42, v-1), enginetest.Patch(t, "R", 42, v, int(v))); err != nil {
			t.Fatal(err)
		}
	}
	// Both nodes are at 42/3; a moves on first.
	if err := a.Append(ctx(t), "R", enginetest.At(42, 3), enginetest.Patch(t, "R", 42, 4, 4)); err != nil {
		t.Fatal(err)
	}
	err := b.Append(ctx(t), "R", enginetest.At(42, 3), enginetest.Patch(t, "R", 42, 4, 400))
	if !errors.Is(err, hotstate.ErrConflict) {
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
	// Caught up, b appends.
	if err := b.Append(ctx(t), "R", enginetest.At(42, 4), enginetest.Patch(t, "R", 42, 5, 5)); err != nil {
		t.Fatal(err)
	}
}

// TestDurableAcrossRestart restarts a private redis-server that keeps an
// append-only file: Load returns the state written before the restart.
func TestDurableAcrossRestart(t *testing.T) {
	s, err := startRedis("", true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	write := func() {
		rdb := redis.NewClient(&redis.Options{Addr: s.addr()})
		defer rdb.Close()
		e := hotredis.New(rdb)
		defer e.Close()
		if err := e.Append(ctx(t), "Durable", hotstate.Position{}, enginetest.Snap(t, "Durable", 9, 0, 0)); err != nil {
			t.Fatal(err)
		}
		for v := uint64(1); v <= 5; v++ {
			if err := e.Append(ctx(t), "Durable", enginetest.At(9, v-1), enginetest.Patch(t, "Durable", 9, v, int(v))); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.Checkpoint(ctx(t), "Durable", enginetest.Snap(t, "Durable", 9, 3, 3)); err != nil {
			t.Fatal(err)
		}
	}
	write()
	s.crash() // appendfsync always: every acknowledged write is on disk
	if err := s.start(true); err != nil {
		t.Fatal(err)
	}
	rdb := client(t, s)
	e := hotredis.New(rdb)
	defer e.Close()
	sn, after, err := e.Load(ctx(t), "Durable")
	if err != nil || sn.Position != enginetest.At(9, 3) || len(after) != 2 || after[1].Position != enginetest.At(9, 5) {
		t.Fatalf("Load after the restart = %+v, %d after, %v", sn.Position, len(after), err)
	}
	if string(sn.Frame) != string(enginetest.Snap(t, "Durable", 9, 3, 3).Frame) {
		t.Fatal("the checkpoint's frame changed across the restart")
	}
	// The log goes on where it was.
	if err := e.Append(ctx(t), "Durable", enginetest.At(9, 5), enginetest.Patch(t, "Durable", 9, 6, 6)); err != nil {
		t.Fatal(err)
	}
}

// TestWatchAcrossRestart: Pub/Sub loses what is published while its
// connection is down; the watcher still delivers the change appended as
// soon as the restarted server takes writes, read from the stream when
// go-redis has subscribed again.
func TestWatchAcrossRestart(t *testing.T) {
	s, err := startRedis("", true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	rdb := client(t, s)
	e := hotredis.New(rdb)
	t.Cleanup(e.Close)
	got := make(chan hotstate.Change, 16)
	stop := e.Watch("R", func(c hotstate.Change) { got <- c })
	defer stop()
	if err := e.Append(ctx(t), "R", hotstate.Position{}, enginetest.Snap(t, "R", 3, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if c := <-got; c.Position != enginetest.At(3, 0) {
		t.Fatalf("watched %+v", c.Position)
	}
	s.crash()
	if err := s.start(true); err != nil {
		t.Fatal(err)
	}
	for v := uint64(1); v <= 2; v++ {
		if err := e.Append(ctx(t), "R", enginetest.At(3, v-1), enginetest.Patch(t, "R", 3, v, int(v))); err != nil {
			t.Fatal(err)
		}
	}
	for v := uint64(1); v <= 2; v++ {
		select {
		case c := <-got:
			if c.Position != enginetest.At(3, v) {
				t.Fatalf("watched %+v, want version %d", c.Position, v)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("version %d not watched after the restart", v)
		}
	}
}

// TestDeadNodeStopsCounting: counts of a node whose liveness key has
// expired are left out; a live node's are summed.
func TestDeadNodeStopsCounting(t *testing.T) {
	prefix := freshPrefix()
	rdb := client(t, server)
	a := hotredis.New(rdb, hotredis.WithPrefix(prefix), hotredis.WithNodeID("a"))
	b := hotredis.New(rdb, hotredis.WithPrefix(prefix), hotredis.WithNodeID("b"), hotredis.WithNodeTTL(300*time.Millisecond))
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	if n, err := a.AddSubscribers(ctx(t), "S", 2); err != nil || n != 2 {
		t.Fatalf("a's count = %d, %v", n, err)
	}
	if n, err := b.AddSubscribers(ctx(t), "S", 3); err != nil || n != 5 {
		t.Fatalf("count with b = %d, %v; want 5", n, err)
	}
	// A node that crashed: its count stays in the hash, its liveness key
	// expires.
	if err := rdb.HSet(ctx(t), "{"+prefix+":S}:n", "ghost", 7).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx(t), prefix+":node:ghost", "1", 200*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := a.AddSubscribers(ctx(t), "S", 0); err != nil || n != 12 {
		t.Fatalf("count with a live ghost = %d, %v; want 12", n, err)
	}
	enginetest.WaitCount(t, a, "S", 5, 5*time.Second)
	// A closed node leaves at once.
	b.Close()
	if n, err := a.AddSubscribers(ctx(t), "S", 0); err != nil || n != 2 {
		t.Fatalf("count after b closed = %d, %v; want 2", n, err)
	}
}

// TestCountsSurviveLostKeys: when Redis loses every key (a restart without
// persistence), the heartbeat writes this node's counts again.
func TestCountsSurviveLostKeys(t *testing.T) {
	prefix := freshPrefix()
	rdb := client(t, server)
	a := hotredis.New(rdb, hotredis.WithPrefix(prefix), hotredis.WithNodeID("a"), hotredis.WithNodeTTL(150*time.Millisecond))
	b := hotredis.New(rdb, hotredis.WithPrefix(prefix), hotredis.WithNodeID("b"))
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	if _, err := a.AddSubscribers(ctx(t), "S", 4); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Del(ctx(t), "{"+prefix+":S}:n", prefix+":node:a").Err(); err != nil {
		t.Fatal(err)
	}
	enginetest.WaitCount(t, b, "S", 4, 5*time.Second)
}

// TestWatchAcrossNodes: a change written through one engine is watched
// through another, in order, including changes appended in a burst.
func TestWatchAcrossNodes(t *testing.T) {
	prefix := freshPrefix()
	a := hotredis.New(client(t, server), hotredis.WithPrefix(prefix))
	b := hotredis.New(client(t, server), hotredis.WithPrefix(prefix))
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	got := make(chan hotstate.Change, 1000)
	stop := b.Watch("X", func(c hotstate.Change) { got <- c })
	defer stop()
	if err := a.Append(ctx(t), "X", hotstate.Position{}, enginetest.Snap(t, "X", 5, 0, 0)); err != nil {
		t.Fatal(err)
	}
	const n = 600 // more than one read of the stream returns
	for v := uint64(1); v <= n; v++ {
		if err := a.Append(ctx(t), "X", enginetest.At(5, v-1), enginetest.Patch(t, "X", 5, v, int(v))); err != nil {
			t.Fatal(err)
		}
	}
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

// BenchmarkAppend measures one change committed to the private server:
// the script's round trip, sequentially.
func BenchmarkAppend(b *testing.B) {
	rdb := client(b, server)
	e := hotredis.New(rdb, hotredis.WithPrefix(freshPrefix()))
	b.Cleanup(e.Close)
	enginetest.BenchmarkAppend(b, e)
}

// BenchmarkAppendParallel has writers on distinct instances, as the
// server's many stores do.
func BenchmarkAppendParallel(b *testing.B) {
	rdb := client(b, server)
	e := hotredis.New(rdb, hotredis.WithPrefix(freshPrefix()))
	b.Cleanup(e.Close)
	enginetest.BenchmarkAppendParallel(b, e)
}
