package clustertest

import (
	"context"
	"testing"
	"time"

	"github.com/coder/websocket"
	hotclient "github.com/hotstate/hotstate/client-go"
	"github.com/hotstate/hotstate/core/wire"
)

// TestResumeOnAnotherNode: a client that held a store at (epoch, version)
// on one node and comes back to another gets only the patches it missed,
// whether that node followed the store all along or loads it on the spot.
func TestResumeOnAnotherNode(t *testing.T) {
	engines(t, func(t *testing.T, e *engineServer) {
		nodes := startNodes(t, e, 3)
		cs, _ := dialAll(t, nodes, 1)
		writer := cs[0] // on node 0
		ctx := timeout(t, 60*time.Second)
		for _, tc := range []struct {
			name, store string
			follower    bool // node 2 has a subscriber of the store all along
		}{
			{"followed", "Tally:followed", true},
			{"loaded", "Tally:loaded", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.follower {
					watch(t, nodes[2], tc.store)
				}
				for range 3 {
					if err := writer.Call(ctx, "incr", incr{Store: tc.store}, nil); err != nil {
						t.Fatal(err)
					}
				}
				// Held on node 1 at version 3, then gone.
				sub := hotclient.SubscribeAs[count](writer, tc.store, nil)
				if err := sub.Ready(ctx); err != nil {
					t.Fatal(err)
				}
				epoch, version := held(t, ctx, nodes[1], tc.store)
				for range 5 {
					if err := writer.Call(ctx, "incr", incr{Store: tc.store}, nil); err != nil {
						t.Fatal(err)
					}
				}
				// Back on node 2: five patches, no snapshot.
				ws, _, err := websocket.Dial(ctx, nodes[2].url(), nil)
				if err != nil {
					t.Fatal(err)
				}
				defer ws.CloseNow()
				if err := ws.Write(ctx, websocket.MessageBinary, wire.EncodeResume(tc.store, epoch, version)); err != nil {
					t.Fatal(err)
				}
				for want := version + 1; want <= version+5; {
					_, b, err := ws.Read(ctx)
					if err != nil {
						t.Fatal(err)
					}
					f, err := wire.Decode(b)
					if err != nil {
						t.Fatal(err)
					}
					switch f.Type {
					case wire.TypeHello:
					case wire.TypePatch:
						if f.Epoch != epoch || f.Version != want {
							t.Fatalf("patch %d/%d, want %d/%d", f.Epoch, f.Version, epoch, want)
						}
						want++
					default:
						t.Fatalf("got %s at version %d, want the patches after %d", f.Type, f.Version, version)
					}
				}
			})
		}
	})
}

// held subscribes to store on n and returns where the snapshot stands.
func held(t *testing.T, ctx context.Context, n *node, store string) (epoch, version uint64) {
	t.Helper()
	ws, _, err := websocket.Dial(ctx, n.url(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageBinary, wire.EncodeSub(store)); err != nil {
		t.Fatal(err)
	}
	f := next(t, ctx, ws, wire.TypeSnap)
	return f.Epoch, f.Version
}
