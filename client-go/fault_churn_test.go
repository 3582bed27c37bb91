package hotclient_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	hotclient "github.com/hotstate/hotstate/client-go"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// TestChurn connects and disconnects thousands of times, politely and
// not: Go clients that subscribe, call and close; raw connections dropped
// without a close frame or closed with one; TCP connections that never
// finish their HTTP request. Meanwhile a steady client follows a store.
// Afterwards every session is gone, subscriptions and family instances are
// released, and goroutines and the heap are back at their baseline.
func TestChurn(t *testing.T) {
	timed(t)
	const (
		cycles  = 3000
		workers = 8
	)
	log := newPanicLog(t)
	srv := hotstate.New(hotstate.WithLogger(log.logger()))
	todos := hotstate.NewStore(srv, "Todos", Todos{Items: []Todo{}})
	rooms := hotstate.NewFamily(srv, "Room:*", Room{Messages: []string{}})
	// The usual way to keep a family small: an instance goes with its last
	// subscriber.
	rooms.OnIdle(func(key string) { rooms.Delete(key) })
	hotstate.Handle(srv, "ping", func(context.Context, any) (string, error) { return "pong", nil })
	var connects, disconnects atomic.Int64
	srv.OnConnect(func(hotstate.Caller) { connects.Add(1) })
	srv.OnDisconnect(func(hotstate.Caller) { disconnects.Add(1) })
	addr, _ := serveOn(t, srv, "127.0.0.1:0")
	url := "ws://" + addr

	steady := dial(t, url)
	events := lifecycle(steady)
	sub := hotclient.SubscribeAs[Todos](steady, "Todos", nil)
	if err := sub.Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}

	cycle := func(i int) error {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		room := fmt.Sprint("Room:", i%50)
		switch i % 4 {
		case 0: // a Go client that does a little of everything
			c, err := hotclient.Dial(ctx, url, hotclient.WithReconnect(false))
			if err != nil {
				return err
			}
			defer c.Close()
			a, b := c.Subscribe("Todos", nil), c.Subscribe(room, nil)
			if err := a.Ready(ctx); err != nil {
				return err
			}
			if err := b.Ready(ctx); err != nil {
				return err
			}
			return c.Call(ctx, "ping", nil, nil)
		case 1, 2: // raw, dropped without a word or closed properly
			ws, _, err := websocket.Dial(ctx, url, nil)
			if err != nil {
				return err
			}
			defer ws.CloseNow()
			if _, _, err := ws.Read(ctx); err != nil {
				return err
			}
			if err := ws.Write(ctx, websocket.MessageBinary, wire.EncodeSub(room)); err != nil {
				return err
			}
			if _, _, err := ws.Read(ctx); err != nil {
				return err
			}
			if i%4 == 2 {
				return ws.Close(websocket.StatusNormalClosure, "")
			}
			return nil
		default: // TCP that never finishes its request
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return err
			}
			_, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"))
			return c.Close()
		}
	}

	// The goroutines of the server and the steady client; then a warm-up
	// for the pools, after which the heap is the baseline.
	baseG := settleGoroutines(0, 0)
	for i := range 40 {
		if err := cycle(i); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the warm-up to end", func() bool { return disconnects.Load() == connects.Load()-1 })
	baseHeap := heapInuse()

	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1))
				if i > cycles {
					return
				}
				if err := cycle(i); err != nil {
					t.Errorf("cycle %d: %v", i, err)
					return
				}
				if i%20 == 0 {
					if err := todos.Update(func(s *Todos) { s.Items = append(s.Items, Todo{ID: int64(i)}) }); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)

	// Everything the churn held is released.
	eventually(t, "every churned session to end", func() bool { return disconnects.Load() == connects.Load()-1 })
	eventually(t, "the subscriptions to go", func() bool { return todos.SubscriberCount() == 1 && len(rooms.Keys()) == 0 })
	want := todos.Get()
	eventually(t, "the steady client to keep up", func() bool { return len(sub.State().Items) == len(want.Items) })
	noTrouble(t, events)

	g := settleGoroutines(baseG+2, wait)
	heap := heapInuse()
	t.Logf("%d connections in %v (%.0f/s); goroutines %d → %d; heap in use %d KiB → %d KiB",
		connects.Load(), took.Round(time.Millisecond), float64(cycles)/took.Seconds(), baseG, g, baseHeap>>10, heap>>10)
	if g > baseG+2 {
		_ = pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
		t.Fatalf("%d goroutines, %d before the churn", g, baseG)
	}
	if heap > baseHeap+4<<20 {
		t.Errorf("heap in use grew from %d KiB to %d KiB", baseHeap>>10, heap>>10)
	}
}
