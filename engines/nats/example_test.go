package hotnats_test

import (
	"context"
	"log"

	hotstate "github.com/hotstate/hotstate/core"
	hotnats "github.com/hotstate/hotstate/engines/nats"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Nodes that share a NATS deployment (with JetStream enabled) share their
// stores: each makes its server with an engine on the same prefix.
func Example() {
	ctx := context.Background()
	nc, err := nats.Connect(nats.DefaultURL, nats.MaxReconnects(-1))
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	eng, err := hotnats.New(ctx, js, hotnats.WithPrefix("myapp"))
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close()
	srv := hotstate.New(hotstate.WithEngine(eng))
	_ = srv // serve it with an adapter, as with any server
}
