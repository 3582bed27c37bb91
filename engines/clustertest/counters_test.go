package clustertest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	hotclient "github.com/hotstate/hotstate/client-go"
)

type count struct {
	N int `json:"n"`
}

type incr struct {
	Store string `json:"store"`
}

// dialAll connects count clients spread over the nodes, each subscribed
// to stores.
func dialAll(t *testing.T, nodes []*node, n int, stores ...string) ([]*hotclient.Client, [][]*hotclient.TypedSubscription[count]) {
	t.Helper()
	ctx := timeout(t, 30*time.Second)
	clients := make([]*hotclient.Client, n)
	subs := make([][]*hotclient.TypedSubscription[count], n)
	for i := range clients {
		c, err := hotclient.Dial(ctx, nodes[i%len(nodes)].url(), hotclient.WithReconnectDelay(50*time.Millisecond), hotclient.WithReconnectMax(500*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		clients[i] = c
		for _, s := range stores {
			subs[i] = append(subs[i], hotclient.SubscribeAs[count](c, s, nil))
		}
	}
	return clients, subs
}

// eventually polls cond until it holds, failing after d with what it says.
func eventually(t *testing.T, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCountersAcrossNodes: three nodes, thirty clients spread over them,
// each adding one 200 times to a static store and to a family instance.
// Every client and every node ends at exactly 6 000, and raw subscribers
// on each node saw every version in order and agree on where they are.
func TestCountersAcrossNodes(t *testing.T) {
	engines(t, func(t *testing.T, e *engineServer) {
		const clients, each = 30, 200
		nodes := startNodes(t, e, 3)
		stores := []string{"Counter", "Tally:a"}
		var watchers []*watcher
		for _, n := range nodes {
			for _, s := range stores {
				watchers = append(watchers, watch(t, n, s))
			}
		}
		cs, subs := dialAll(t, nodes, clients, stores...)

		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		for _, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := context.Background()
				for range each {
					for _, s := range stores {
						if err := c.Call(ctx, "incr", incr{Store: s}, nil); err != nil {
							errs <- fmt.Errorf("incr %s: %w", s, err)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		t.Logf("%d increments in %v", clients*each*len(stores), time.Since(start).Round(time.Millisecond))

		want := clients * each
		eventually(t, 20*time.Second, func() error {
			for i, ss := range subs {
				for _, s := range ss {
					if got := s.State().N; got != want {
						return fmt.Errorf("client %d holds %s = %d, want %d", i, s.Name(), got, want)
					}
				}
			}
			return nil
		})
		eventually(t, 10*time.Second, func() error {
			at := map[string][2]uint64{}
			for _, w := range watchers {
				n, epoch, version, err := w.n()
				if err != nil {
					return err
				}
				if n != want {
					return fmt.Errorf("a raw subscriber of %s holds %d, want %d", w.store, n, want)
				}
				if p, ok := at[w.store]; ok && p != [2]uint64{epoch, version} {
					return fmt.Errorf("subscribers of %s disagree: %v and %v", w.store, p, [2]uint64{epoch, version})
				}
				at[w.store] = [2]uint64{epoch, version}
			}
			return nil
		})
	})
}
