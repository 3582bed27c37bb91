package clustertest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"
	hotclient "github.com/hotstate/hotstate/client-go"
	"github.com/hotstate/hotstate/core/wire"
)

// TestEngineLostItsData: Redis without persistence (as this machine's
// shared one runs) restarts empty. The stores it held are gone, which the
// node making the next change of a store finds out: it ends its copy (its
// subscribers get del, which clients report as storeDeleted) and the
// change creates the store anew through OnCreate, so counting starts
// again; the other nodes follow that new lifetime, their subscribers
// getting its snapshot. Until some node changes a store, every node keeps
// serving what it held. Keeping state through such a restart takes an
// engine that persists, or an OnSave hook and an OnCreate that loads what
// it saved.
func TestEngineLostItsData(t *testing.T) {
	e := &engineServer{kind: "redis", args: func(port int, dir string) []string {
		return []string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir}
	}}
	e.port, e.dir = freePort(t), t.TempDir()
	e.start(t)
	t.Cleanup(e.stop)
	nodes := startNodes(t, e, 2)
	ctx := timeout(t, 60*time.Second)
	writer := mustDial(t, ctx, nodes[0].url())
	incrs := func(n int) {
		t.Helper()
		for range n {
			if err := writer.Call(ctx, "incr", incr{Store: "Counter"}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	incrs(10)

	// A raw subscriber on the other node, at version 10 of a lifetime.
	ws, _, err := websocket.Dial(ctx, nodes[1].url(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageBinary, wire.EncodeSub("Counter")); err != nil {
		t.Fatal(err)
	}
	first := next(t, ctx, ws, wire.TypeSnap)

	e.restart(t, 200*time.Millisecond)
	eventually(t, 20*time.Second, func() error {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		return writer.Call(cctx, "incr", incr{Store: "Counter"}, nil)
	})
	incrs(4)
	if f := next(t, ctx, ws, wire.TypeSnap); f.Epoch == first.Epoch || f.Version != 0 {
		t.Fatalf("the subscriber on the other node went from %d/%d to %d/%d, want a new lifetime", first.Epoch, first.Version, f.Epoch, f.Version)
	}
	fresh := hotclient.SubscribeAs[count](mustDial(t, ctx, nodes[1].url()), "Counter", nil)
	eventually(t, 10*time.Second, func() error {
		if n := fresh.State().N; n != 5 {
			return fmt.Errorf("after the restart the counter is %d, want 5: it starts anew", n)
		}
		return nil
	})
}

// next reads frames from ws until one of type typ.
func next(t *testing.T, ctx context.Context, ws *websocket.Conn, typ wire.Type) wire.Frame {
	t.Helper()
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		if f, err := wire.Decode(b); err == nil && f.Type == typ {
			return f
		}
	}
}
