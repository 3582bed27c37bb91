package clustertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	hotclient "github.com/hotstate/hotstate/client-go"
)

// load is clients adding to one counter through a balancer, each
// increment acknowledged, refused or of unknown outcome (the connection
// or the node went away while the call was out).
type load struct {
	acked, unknown, done atomic.Int64
}

// run makes clients × each increments of store through url and returns
// once all are done.
func (l *load) run(t *testing.T, ctx context.Context, url, store string, clients, each int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		c, err := hotclient.Dial(ctx, url, hotclient.WithReconnectDelay(50*time.Millisecond), hotclient.WithReconnectMax(500*time.Millisecond), hotclient.WithRPCTimeout(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				err := c.Call(ctx, "incr", incr{Store: store}, nil)
				var remote *hotclient.RemoteError
				switch {
				case err == nil:
					l.acked.Add(1)
				case errors.Is(err, hotclient.ErrDisconnected), errors.Is(err, hotclient.ErrRPCTimeout):
					// Sent, perhaps applied: the node went away under it.
					l.unknown.Add(1)
					if err := c.Ready(ctx); err != nil {
						errs <- err
						return
					}
				case errors.As(err, &remote) && remote.Code == "unavailable":
					// The engine went away: perhaps before the change
					// reached it, perhaps after.
					l.unknown.Add(1)
				case errors.As(err, &remote) && remote.Code == "busy":
					// Refused after losing every race: nothing applied.
				default:
					errs <- err
					return
				}
				l.done.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// at waits until n increments are done.
func (l *load) at(n int) {
	for l.done.Load() < int64(n) {
		time.Sleep(5 * time.Millisecond)
	}
}

// check waits until a subscriber through n holds a count the
// acknowledged and unknown increments allow.
func (l *load) check(t *testing.T, ctx context.Context, n *node, store string) {
	t.Helper()
	watcher := hotclient.SubscribeAs[count](mustDial(t, ctx, n.url()), store, nil)
	if err := watcher.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	lo, hi := int(l.acked.Load()), int(l.acked.Load()+l.unknown.Load())
	t.Logf("acknowledged %d, unknown %d", lo, hi-lo)
	eventually(t, 10*time.Second, func() error {
		if got := watcher.State().N; got < lo || got > hi {
			return fmt.Errorf("%s is %d, want %d..%d", store, got, lo, hi)
		}
		return nil
	})
}

// TestNodeKilled: thirty clients behind a balancer add to one counter
// while one of the three nodes is killed (SIGKILL). Its clients reconnect
// to the others and carry on; writes through the survivors never stop;
// the final count lies between the acknowledged increments and those plus
// the calls whose outcome the crash left unknown.
func TestNodeKilled(t *testing.T) {
	engines(t, func(t *testing.T, e *engineServer) {
		const clients, each = 30, 100
		nodes := startNodes(t, e, 3)
		lb := balance(t, nodes)
		ctx := timeout(t, 90*time.Second)
		var l load
		var after int64
		fault := make(chan struct{})
		go func() {
			defer close(fault)
			l.at(clients * each / 3)
			nodes[0].kill()
			after = l.done.Load()
		}()
		l.run(t, ctx, lb.url(), "Counter", clients, each)
		<-fault // the fault is over before anything is checked or stopped
		if n := l.done.Load() - after; n < clients*each/2 {
			t.Fatalf("only %d increments after the kill", n)
		}
		l.check(t, ctx, nodes[1], "Counter")
	})
}

// TestNodeFrozen: a node stopped (SIGSTOP) for longer than every timeout
// and then resumed finds the counter moved on: whatever it was about to
// append is refused, it catches up, and the history never forks, which
// raw subscribers on the other nodes, checking every version, would see.
func TestNodeFrozen(t *testing.T) {
	engines(t, func(t *testing.T, e *engineServer) {
		const clients, each = 12, 100
		nodes := startNodes(t, e, 3)
		ws := []*watcher{watch(t, nodes[1], "Counter"), watch(t, nodes[2], "Counter")}
		lb := balance(t, nodes)
		ctx := timeout(t, 90*time.Second)
		var l load
		fault := make(chan struct{})
		go func() {
			defer close(fault)
			l.at(clients * each / 4)
			_ = nodes[0].cmd.Process.Signal(syscall.SIGSTOP)
			time.Sleep(4 * time.Second) // past the node TTL (3 s) and the call timeout (2 s)
			_ = nodes[0].cmd.Process.Signal(syscall.SIGCONT)
		}()
		l.run(t, ctx, lb.url(), "Counter", clients, each)
		<-fault // the fault is over before anything is checked or stopped
		l.check(t, ctx, nodes[0], "Counter")
		agree(t, ws[0], ws[1])
	})
}

// TestEngineRestarted: the engine restarts while clients write through
// three nodes. Calls meanwhile fail at once with "unavailable" (or of
// unknown outcome), subscribers keep their state, and once the engine is
// back everything resumes on its own; an engine that keeps its data
// (Redis with its append-only file, JetStream's file storage) loses
// nothing acknowledged, and subscribers on every node agree, having seen
// every version in order.
func TestEngineRestarted(t *testing.T) {
	enginesKeeping(t, true, func(t *testing.T, e *engineServer) {
		const clients, each = 12, 100
		nodes := startNodes(t, e, 3)
		ws := []*watcher{watch(t, nodes[1], "Counter"), watch(t, nodes[2], "Counter")}
		lb := balance(t, nodes)
		ctx := timeout(t, 90*time.Second)
		var l load
		fault := make(chan struct{})
		go func() {
			defer close(fault)
			l.at(clients * each / 4)
			e.restart(t, time.Second)
		}()
		l.run(t, ctx, lb.url(), "Counter", clients, each)
		<-fault // the fault is over before anything is checked or stopped
		l.check(t, ctx, nodes[0], "Counter")
		agree(t, ws[0], ws[1])
	})
}

// agree waits until two raw subscribers hold the same count at the same
// position, having seen every version in order.
func agree(t *testing.T, a, b *watcher) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		n1, e1, v1, err1 := a.n()
		n2, e2, v2, err2 := b.n()
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		if n1 != n2 || e1 != e2 || v1 != v2 {
			return fmt.Errorf("subscribers disagree: %d at %d/%d and %d at %d/%d", n1, e1, v1, n2, e2, v2)
		}
		return nil
	})
}

func mustDial(t *testing.T, ctx context.Context, url string) *hotclient.Client {
	t.Helper()
	c, err := hotclient.Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
