package hotredis_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/enginetest"
	"github.com/hotstate/hotstate/core/wire"
	hotredis "github.com/hotstate/hotstate/engines/redis"
	"github.com/redis/go-redis/v9"
)

// xranges counts the XRANGE commands a client sends, alone or in a
// pipeline or MULTI: the reads of the stream watchers make.
type xranges struct{ n atomic.Int64 }

func (x *xranges) count(cmds ...redis.Cmder) {
	for _, c := range cmds {
		if c.Name() == "xrange" {
			x.n.Add(1)
		}
	}
}

func (x *xranges) DialHook(next redis.DialHook) redis.DialHook { return next }

func (x *xranges) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		x.count(cmd)
		return next(ctx, cmd)
	}
}

func (x *xranges) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		x.count(cmds...)
		return next(ctx, cmds)
	}
}

// countingClient is a client of the private server that counts its
// XRANGEs.
func countingClient(t testing.TB) (*redis.Client, *xranges) {
	rdb := client(t, server)
	x := &xranges{}
	rdb.AddHook(x)
	return rdb, x
}

// frame is the change to version v of the counter X at epoch 1: small,
// or, when large, longer than a wake-up carries.
func frame(t testing.TB, v uint64, large bool) hotstate.Change {
	t.Helper()
	if !large {
		return enginetest.Patch(t, "X", 1, v, int(v))
	}
	f, err := wire.EncodePatch("X", 1, v, []wire.Op{{Op: wire.OpReplace, Path: "/s", Value: strings.Repeat(fmt.Sprint(v%10), 6000)}})
	if err != nil {
		t.Fatal(err)
	}
	return hotstate.Change{Position: enginetest.At(1, v), Frame: f}
}

// expect reads the changes want from got, in order.
func expect(t *testing.T, who string, got <-chan hotstate.Change, want []hotstate.Change) {
	t.Helper()
	for _, w := range want {
		select {
		case c := <-got:
			if c.Position != w.Position || !bytes.Equal(c.Frame, w.Frame) {
				t.Fatalf("%s watched %+v (%d bytes), want %+v (%d bytes)", who, c.Position, len(c.Frame), w.Position, len(w.Frame))
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s did not watch %+v", who, w.Position)
		}
	}
	select {
	case c := <-got:
		t.Fatalf("%s watched %+v as well", who, c.Position)
	default:
	}
}

// TestOwnAppendsWatched: the changes a node appends reach its own watcher
// in log order, through every kind of change: a creation, patches, a Set,
// a new lifetime, a deletion and a re-creation.
func TestOwnAppendsWatched(t *testing.T) {
	rdb, x := countingClient(t)
	e := hotredis.New(rdb, hotredis.WithPrefix(freshPrefix()))
	t.Cleanup(e.Close)
	got := make(chan hotstate.Change, 1000)
	stop := e.Watch("X", func(c hotstate.Change) { got <- c })
	defer stop()
	var want []hotstate.Change
	appendAt := func(prev hotstate.Position, c hotstate.Change) {
		t.Helper()
		if err := e.Append(ctx(t), "X", prev, c); err != nil {
			t.Fatal(err)
		}
		want = append(want, c)
	}
	appendAt(hotstate.Position{}, enginetest.Snap(t, "X", 1, 0, 0))
	const n = 300
	for v := uint64(1); v <= n; v++ {
		if v == n/2 {
			appendAt(enginetest.At(1, v-1), enginetest.Snap(t, "X", 1, v, int(v))) // a Set
			continue
		}
		appendAt(enginetest.At(1, v-1), frame(t, v, v%7 == 0))
	}
	appendAt(enginetest.At(1, n), enginetest.Snap(t, "X", 2, 0, 0))
	appendAt(enginetest.At(2, 0), enginetest.Patch(t, "X", 2, 1, 1))
	appendAt(enginetest.At(2, 1), hotstate.Change{Position: enginetest.At(2, 2), Frame: wire.EncodeDel("X")})
	appendAt(hotstate.Position{}, enginetest.Snap(t, "X", 3, 0, 0))
	appendAt(enginetest.At(3, 0), enginetest.Patch(t, "X", 3, 1, 1))
	expect(t, "the writer", got, want)
	t.Logf("%d changes, %d XRANGEs", len(want), x.n.Load())
}

// TestFollowerMixedFrames: a follower watches, in order, changes whose
// frames its wake-ups carry and changes it reads from the stream, mixed,
// written by several goroutines of one node racing for each version,
// while the writing node watches them too.
func TestFollowerMixedFrames(t *testing.T) {
	prefix := freshPrefix()
	ra, xa := countingClient(t)
	rb, xb := countingClient(t)
	a := hotredis.New(ra, hotredis.WithPrefix(prefix))
	b := hotredis.New(rb, hotredis.WithPrefix(prefix))
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	gotA := make(chan hotstate.Change, 2000)
	gotB := make(chan hotstate.Change, 2000)
	stopA := a.Watch("X", func(c hotstate.Change) { gotA <- c })
	defer stopA()
	stopB := b.Watch("X", func(c hotstate.Change) { gotB <- c })
	defer stopB()

	const n = 600
	want := []hotstate.Change{enginetest.Snap(t, "X", 1, 0, 0)}
	for v := uint64(1); v <= n; v++ {
		want = append(want, frame(t, v, v%5 == 0 || v%7 == 0))
	}
	if err := a.Append(ctx(t), "X", hotstate.Position{}, want[0]); err != nil {
		t.Fatal(err)
	}
	// Each writer tries every version after the one it saw; a conflict
	// means another wrote it.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for v := uint64(1); v <= n; v++ {
				err := a.Append(context.Background(), "X", enginetest.At(1, v-1), want[v])
				if err != nil && !errors.Is(err, hotstate.ErrConflict) {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	expect(t, "the writer", gotA, want)
	expect(t, "the follower", gotB, want)
	t.Logf("%d changes: writer %d XRANGEs, follower %d", len(want), xa.n.Load(), xb.n.Load())
}

// BenchmarkWatchedAppend measures one change appended on one node and
// watched there and on a follower, and how many XRANGEs each node sends
// per change.
func BenchmarkWatchedAppend(b *testing.B) {
	for _, large := range []bool{false, true} {
		b.Run(map[bool]string{false: "small", true: "large"}[large], func(b *testing.B) {
			prefix := freshPrefix()
			ra, xa := countingClient(b)
			rb, xb := countingClient(b)
			wa := hotredis.New(ra, hotredis.WithPrefix(prefix))
			fb := hotredis.New(rb, hotredis.WithPrefix(prefix))
			b.Cleanup(wa.Close)
			b.Cleanup(fb.Close)
			gotA := make(chan struct{}, 16)
			gotB := make(chan struct{}, 16)
			defer wa.Watch("X", func(hotstate.Change) { gotA <- struct{}{} })()
			defer fb.Watch("X", func(hotstate.Change) { gotB <- struct{}{} })()
			if err := wa.Append(ctx(b), "X", hotstate.Position{}, enginetest.Snap(b, "X", 1, 0, 0)); err != nil {
				b.Fatal(err)
			}
			<-gotA
			<-gotB
			cs := make([]hotstate.Change, b.N+1)
			for i := 1; i <= b.N; i++ {
				cs[i] = frame(b, uint64(i), large)
			}
			c := context.Background()
			xa.n.Store(0)
			xb.n.Store(0)
			b.ResetTimer()
			for i := 1; i <= b.N; i++ {
				if err := wa.Append(c, "X", enginetest.At(1, uint64(i-1)), cs[i]); err != nil {
					b.Fatal(err)
				}
				<-gotA
				<-gotB
			}
			b.StopTimer()
			b.ReportMetric(float64(xa.n.Load())/float64(b.N), "writer-xranges/op")
			b.ReportMetric(float64(xb.n.Load())/float64(b.N), "follower-xranges/op")
		})
	}
}
