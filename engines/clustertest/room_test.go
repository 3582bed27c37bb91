package clustertest

import (
	"fmt"
	"testing"
	"time"

	hotclient "github.com/hotstate/hotstate/client-go"
)

type emitArgs struct {
	Client  string `json:"client"`
	Channel string `json:"channel"`
	Data    string `json:"data"`
}

// TestRoomAcrossNodes: two clients on two nodes in one room, a third on a
// third node: the subscriber count and presence are the cluster's, EmitTo
// reaches a client on another node, and OnIdle runs once when the last
// subscriber anywhere leaves.
func TestRoomAcrossNodes(t *testing.T) {
	engines(t, func(t *testing.T, e *engineServer) {
		nodes := startNodes(t, e, 3)
		cs, _ := dialAll(t, nodes, 3)
		a, b, c := cs[0], cs[1], cs[2]
		ctx := timeout(t, 60*time.Second)

		subA := hotclient.SubscribeAs[count](a, "Room:r", nil)
		subB := hotclient.SubscribeAs[count](b, "Room:r", nil)
		for _, s := range []*hotclient.TypedSubscription[count]{subA, subB} {
			if err := s.Ready(ctx); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, 10*time.Second, func() error {
			n, err := hotclient.CallAs[int](ctx, c, "subscribers", incr{Store: "Room:r"})
			if err == nil && n != 2 {
				err = fmt.Errorf("the third node counts %d subscribers of Room:r, want 2", n)
			}
			return err
		})
		members := hotclient.SubscribePresence[any](c, "Room:r", nil)
		eventually(t, 10*time.Second, func() error {
			m := members.State()
			if _, ok := m[a.ID()]; !ok || len(m) != 2 {
				return fmt.Errorf("presence on the third node: %v, want %s and %s", m, a.ID(), b.ID())
			}
			if _, ok := m[b.ID()]; !ok {
				return fmt.Errorf("presence on the third node: %v, want %s and %s", m, a.ID(), b.ID())
			}
			return nil
		})

		got := make(chan string, 1)
		hotclient.OnAs(b, "ping", func(s string) { got <- s })
		if err := c.Call(ctx, "emit", emitArgs{Client: b.ID(), Channel: "ping", Data: "from c"}, nil); err != nil {
			t.Fatal(err)
		}
		select {
		case s := <-got:
			if s != "from c" {
				t.Fatalf("b got %q", s)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("EmitTo did not reach the client on another node")
		}

		idles := hotclient.SubscribeAs[count](c, "Idles", nil)
		if err := idles.Ready(ctx); err != nil {
			t.Fatal(err)
		}
		subA.Unsubscribe()
		subB.Unsubscribe()
		eventually(t, 10*time.Second, func() error {
			if n := idles.State().N; n != 1 {
				return fmt.Errorf("OnIdle ran %d times, want 1", n)
			}
			return nil
		})
		time.Sleep(500 * time.Millisecond)
		if n := idles.State().N; n != 1 {
			t.Fatalf("OnIdle ran %d times, want 1", n)
		}
	})
}

// TestPresenceOfACrashedNode: a member connected only through a node that
// is killed leaves the list on every other node once the engine stops
// counting that node (its node TTL, 3 s here) and a sweep runs.
func TestPresenceOfACrashedNode(t *testing.T) {
	engines(t, func(t *testing.T, e *engineServer) {
		nodes := startNodes(t, e, 2)
		ctx := timeout(t, 60*time.Second)
		a, b := mustDial(t, ctx, nodes[0].url()), mustDial(t, ctx, nodes[1].url())
		if err := hotclient.SubscribeAs[count](a, "Room:c", nil).Ready(ctx); err != nil {
			t.Fatal(err)
		}
		members := hotclient.SubscribePresence[any](b, "Room:c", nil)
		id := a.ID()
		eventually(t, 10*time.Second, func() error {
			if _, ok := members.State()[id]; !ok {
				return fmt.Errorf("presence on the other node: %v, want %s", members.State(), id)
			}
			return nil
		})
		nodes[0].kill()
		start := time.Now()
		eventually(t, 20*time.Second, func() error {
			if _, ok := members.State()[id]; ok {
				return fmt.Errorf("%s still listed %v after its node died", id, time.Since(start).Round(time.Second))
			}
			return nil
		})
		t.Logf("the crashed node's member left after %v", time.Since(start).Round(100*time.Millisecond))
	})
}
