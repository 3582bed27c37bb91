package hotprom_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
	hotprom "github.com/hotstate/hotstate/metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
)

// The benchmarks compare a server without an observer against one feeding
// these metrics: the cost per delivered change and per call, and the cost
// of each event alone.

func observers() []struct {
	name string
	opts []hotstate.Option
} {
	m := hotprom.New()
	prometheus.NewRegistry().MustRegister(m)
	return []struct {
		name string
		opts []hotstate.Option
	}{
		{"none", nil},
		{"prometheus", []hotstate.Option{hotstate.WithObserver(m.Observer())}},
	}
}

// memConn is a connection whose writes go nowhere but a count, and whose
// reads come from in.
type memConn struct {
	in      chan []byte
	out     chan []byte // when not nil, writes go here too
	written *atomic.Int64
	closed  chan struct{}
	once    sync.Once
}

func newMemConn(written *atomic.Int64) *memConn {
	return &memConn{in: make(chan []byte, 1), written: written, closed: make(chan struct{})}
}

func (c *memConn) Read(ctx context.Context) ([]byte, error) {
	select {
	case b := <-c.in:
		return b, nil
	case <-c.closed:
		return nil, errors.New("closed")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *memConn) Write(ctx context.Context, frame []byte) error {
	c.written.Add(1)
	if c.out != nil {
		select {
		case c.out <- frame:
		case <-c.closed:
		}
	}
	return nil
}

func (c *memConn) Ping(context.Context) error { return nil }
func (c *memConn) Close(int, string) error {
	c.once.Do(func() { close(c.closed) })
	return nil
}
func (c *memConn) Info() hotstate.ConnInfo { return hotstate.ConnInfo{RemoteAddr: "mem"} }

type counter struct {
	N int64 `json:"n"`
}

// BenchmarkFanout changes a store with 1000 subscribers; one op is one
// change delivered to all of them.
func BenchmarkFanout(b *testing.B) {
	const subscribers = 1000
	for _, o := range observers() {
		b.Run(o.name, func(b *testing.B) {
			srv := hotstate.New(o.opts...)
			store := hotstate.NewStore(srv, "Counter", counter{})
			var written atomic.Int64
			var wg sync.WaitGroup
			conns := make([]*memConn, subscribers)
			for i := range conns {
				conns[i] = newMemConn(&written)
				wg.Go(func() { _ = srv.ServeConn(context.Background(), conns[i]) })
				conns[i].in <- wire.EncodeSub("Counter")
			}
			waitFor(b, func() bool { return store.SubscriberCount() == subscribers })
			waitFor(b, func() bool { return written.Load() == 2*subscribers }) // hello, snapshot
			b.ReportAllocs()
			b.ResetTimer()
			n := int64(0)
			for b.Loop() {
				n++
				if err := store.Update(func(c *counter) { c.N++ }); err != nil {
					b.Fatal(err)
				}
			}
			waitFor(b, func() bool { return written.Load() == (2+n)*subscribers })
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*subscribers), "ns/delivery")
			for _, c := range conns {
				_ = c.Close(1000, "")
			}
			wg.Wait()
			_ = srv.Shutdown(context.Background())
		})
	}
}

// BenchmarkCall makes one call at a time over one connection.
func BenchmarkCall(b *testing.B) {
	for _, o := range observers() {
		b.Run(o.name, func(b *testing.B) {
			srv := hotstate.New(o.opts...)
			hotstate.Handle(srv, "echo", func(_ context.Context, s string) (string, error) { return s, nil })
			var written atomic.Int64
			c := newMemConn(&written)
			c.out = make(chan []byte, 1)
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = srv.ServeConn(context.Background(), c)
			}()
			<-c.out // hello
			rpc, err := wire.EncodeRPC(1, "echo", "hi")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				c.in <- rpc
				<-c.out
			}
			_ = c.Close(1000, "")
			<-done
			_ = srv.Shutdown(context.Background())
		})
	}
}

// BenchmarkEvent is the cost of one event as the server reports it.
func BenchmarkEvent(b *testing.B) {
	o := hotprom.New().Observer()
	b.Run("ChangeApplied", func(b *testing.B) {
		for b.Loop() {
			o.ChangeApplied(hotstate.ChangeInfo{Store: "Room:*", Bytes: 150, Subscribers: 1000})
		}
	})
	b.Run("QueueChanged", func(b *testing.B) {
		for b.Loop() {
			o.QueueChanged(hotstate.QueueInfo{Delta: 150})
		}
	})
	b.Run("CallDone", func(b *testing.B) {
		for b.Loop() {
			o.CallDone(hotstate.CallInfo{Function: "todos.add", Duration: time.Millisecond, Code: "ok"})
		}
	})
	b.Run("QueueChanged/parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				o.QueueChanged(hotstate.QueueInfo{Delta: 150})
			}
		})
	})
}

func waitFor(b *testing.B, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatal("timed out")
		}
		time.Sleep(50 * time.Microsecond)
	}
}
