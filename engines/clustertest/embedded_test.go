package clustertest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/enginetest"
	hotnats "github.com/hotstate/hotstate/engines/nats"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// embeddedNATS runs a NATS server with JetStream inside the test process,
// as an application that embeds github.com/nats-io/nats-server does, on a
// free port with its store in a temporary directory.
func embeddedNATS(t *testing.T) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("the embedded NATS server is not ready")
	}
	return s
}

// embeddedEngine connects a hotnats engine to s.
func embeddedEngine(t *testing.T, s *server.Server, opts ...hotnats.Option) *hotnats.Engine {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := hotnats.New(ctx, js, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// TestEmbeddedNATSConformance: hotnats passes the engine conformance suite
// on an embedded NATS server of the current release, as it does on the
// machine's nats-server.
func TestEmbeddedNATSConformance(t *testing.T) {
	s := embeddedNATS(t)
	n := 0
	enginetest.Run(t, func(t *testing.T, cfg enginetest.Config) hotstate.Engine {
		n++ // each case its own streams
		return embeddedEngine(t, s, hotnats.WithPrefix(fmt.Sprintf("conf%d", n)), hotnats.WithMaxChanges(cfg.MaxChanges))
	})
}

// TestEmbeddedNATSTwoServers: two servers in one process share a store
// through an embedded NATS server; concurrent updates on both add up and
// both end with the same state.
func TestEmbeddedNATSTwoServers(t *testing.T) {
	s := embeddedNATS(t)
	type counter struct {
		N int `json:"n"`
	}
	var stores []*hotstate.Store[counter]
	for range 2 {
		srv := hotstate.New(hotstate.WithEngine(embeddedEngine(t, s, hotnats.WithPrefix("two"))))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
		})
		stores = append(stores, hotstate.NewStore(srv, "Counter", counter{}))
	}
	const each = 200
	var wg sync.WaitGroup
	for _, st := range stores {
		for range 2 {
			wg.Go(func() {
				for range each {
					if err := st.Update(func(c *counter) { c.N++ }); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	want := len(stores) * 2 * each
	eventually(t, 10*time.Second, func() error {
		for i, st := range stores {
			if got := st.Get().N; got != want {
				return fmt.Errorf("server %d holds %d, want %d", i, got, want)
			}
		}
		return nil
	})
}
