// Command jstest is a hotstate server for the JavaScript client's
// integration tests (client-js/test/integration): a family of small stores
// that one call changes all at once, an Allow rule the tests can flip, and
// an optional per-connection rate limit. It is not an example to copy.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotstate "github.com/hotstate/hotstate/core"
)

// Counter is the state of each "S:*" instance.
type Counter struct {
	N int `json:"n"`
}

// AllowArgs are the arguments of allow.
type AllowArgs struct {
	On bool `json:"on"`
}

// ShoutArgs are the arguments of shout.
type ShoutArgs struct {
	Key  string `json:"key"`
	Text string `json:"text"`
}

func main() {
	port := flag.Int("port", 4401, "port to listen on")
	host := flag.String("host", "127.0.0.1", "address to bind")
	rate := flag.Float64("rate", 0, "inbound frames per second per connection (0: no limit)")
	burst := flag.Int("burst", 1, "burst of the rate limit")
	heartbeat := flag.Duration("heartbeat", 30*time.Second, "ping interval, and how long a member who left stays in a presence list")
	flag.Parse()

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := []hotstate.Option{hotstate.WithLogger(logger), hotstate.WithHeartbeat(*heartbeat)}
	if *rate > 0 {
		opts = append(opts, hotstate.WithRateLimit(*rate, *burst))
	}
	srv := hotstate.New(opts...)

	var allowed atomic.Bool
	allowed.Store(true)
	counters := hotstate.NewFamily(srv, "S:*", Counter{}).
		Allow(func(hotstate.Caller, string) bool { return allowed.Load() }).
		Presence(func(c hotstate.Caller) (string, any) { return c.ID, map[string]string{"id": c.ID} })

	// bump adds one to every instance that exists, so each subscriber has
	// something to catch up on; it returns how many it changed.
	hotstate.Handle(srv, "bump", func(ctx context.Context, _ struct{}) (int, error) {
		keys := counters.Keys()
		for _, k := range keys {
			if err := counters.Update(k, func(c *Counter) { c.N++ }); err != nil {
				return 0, err
			}
		}
		return len(keys), nil
	})
	// shout sends an event to the subscribers of one instance only.
	hotstate.Handle(srv, "shout", func(ctx context.Context, args ShoutArgs) (any, error) {
		return nil, counters.Emit(args.Key, "shout", map[string]string{"from": hotstate.ClientID(ctx), "text": args.Text})
	})
	// allow turns the stores' Allow rule on or off; subscriptions already
	// held stay, the next sub (a resume, a resync) is refused.
	hotstate.Handle(srv, "allow", func(ctx context.Context, args AllowArgs) (any, error) {
		allowed.Store(args.On)
		return nil, nil
	})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "jstest server listening on ws://"+ln.Addr().String())
	if err := hothttp.ServeListener(ctx, srv, ln); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
