package enginetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
)

// BenchmarkAppend measures one change committed at a time to one
// instance of e, each after the one before.
func BenchmarkAppend(b *testing.B, e hotstate.Engine) {
	if err := e.Append(context.Background(), "B", hotstate.Position{}, Snap(b, "B", 1, 0, 0)); err != nil {
		b.Fatal(err)
	}
	cs := make([]hotstate.Change, b.N+1)
	for i := 1; i <= b.N; i++ {
		cs[i] = Patch(b, "B", 1, uint64(i), i)
	}
	c := context.Background()
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		if err := e.Append(c, "B", At(1, uint64(i-1)), cs[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendParallel has writers on distinct instances of e, as a
// server's many stores do.
func BenchmarkAppendParallel(b *testing.B, e hotstate.Engine) {
	var ids atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		name := fmt.Sprintf("P%d", ids.Add(1))
		if err := e.Append(context.Background(), name, hotstate.Position{}, Snap(b, name, 1, 0, 0)); err != nil {
			b.Error(err)
			return
		}
		f := Patch(b, name, 1, 1, 1).Frame
		for v := uint64(1); pb.Next(); v++ {
			if err := e.Append(context.Background(), name, At(1, v-1), hotstate.Change{Position: At(1, v), Frame: f}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// WaitCount waits up to d until e counts want subscribers of name across
// every node, failing t otherwise.
func WaitCount(t testing.TB, e hotstate.Engine, name string, want int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		c, cancel := context.WithTimeout(context.Background(), wait)
		n, err := e.AddSubscribers(c, name, 0)
		cancel()
		if err == nil && n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("count stayed %d (%v), want %d", n, err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
