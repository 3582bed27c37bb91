package hotnats

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Connect returns an engine on the NATS server (or servers, separated by
// commas) url names, with JetStream enabled there. The connection keeps
// reconnecting for as long as the engine lives; while it is down the
// engine's calls fail at once with ErrUnavailable. The engine owns the
// connection: Close closes it too. Use New with a connection of your own
// for credentials, TLS and other connection options.
func Connect(ctx context.Context, url string, opts ...Option) (*Engine, error) {
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("hotstate: nats: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("hotstate: nats: %w", err)
	}
	e, err := New(ctx, js, opts...)
	if err != nil {
		nc.Close()
		return nil, err
	}
	e.disconnect = nc.Close
	return e, nil
}
