// Command node is one server of a hotstate cluster, as the multi-process
// tests run it: the stores and functions they drive, on the engine its
// flags name, serving WebSockets on -addr. It prints "listening ADDR" once
// it accepts connections and shuts down cleanly on SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotstate "github.com/hotstate/hotstate/core"
	hotnats "github.com/hotstate/hotstate/engines/nats"
	hotredis "github.com/hotstate/hotstate/engines/redis"
	hotinspect "github.com/hotstate/hotstate/inspector"
)

// Count is the state of every store here.
type Count struct {
	N int `json:"n"`
}

// IncrArgs name the store instance incr adds one to.
type IncrArgs struct {
	Store string `json:"store"`
}

// EmitArgs say whom emit sends an event to: one client, or everyone.
type EmitArgs struct {
	Client  string `json:"client"`
	Channel string `json:"channel"`
	Data    string `json:"data"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	redisURL := flag.String("redis", "", "Redis URL of the shared engine")
	natsURL := flag.String("nats", "", "NATS URL of the shared engine (JetStream)")
	nodeTTL := flag.Duration("node-ttl", 3*time.Second, "how long a dead node's subscribers keep counting")
	flag.Parse()
	eng, closeEngine, err := engine(*redisURL, *natsURL, *nodeTTL)
	if err != nil {
		log.Fatal(err)
	}

	// The inspector, at /inspect/ with the token "t", shows what each
	// node sees of the cluster.
	insp := hotinspect.New(hotinspect.Authorize(hotinspect.Token("t")), hotinspect.WithInterval(100*time.Millisecond))
	defer insp.Close()
	srv := hotstate.New(hotstate.WithEngine(eng), hotstate.WithHeartbeat(time.Second), hotstate.WithObserver(insp.Observer()))
	srv.OnError(func(err error, client string) { log.Printf("client %q: %v", client, err) })
	register(srv)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("listening", ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	page := hothttp.WithMount("/inspect/", http.StripPrefix("/inspect", insp.Handler(srv)))
	if err := hothttp.ServeListener(ctx, srv, ln, page); err != nil && !errors.Is(err, context.Canceled) {
		log.Print(err)
	}
	closeEngine()
}

// engine connects to the engine one of the URLs names.
func engine(redisURL, natsURL string, ttl time.Duration) (hotstate.Engine, func(), error) {
	switch {
	case redisURL != "":
		eng, err := hotredis.Dial(redisURL, hotredis.WithNodeTTL(ttl))
		if err != nil {
			return nil, nil, err
		}
		return eng, eng.Close, nil
	case natsURL != "":
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		eng, err := hotnats.Connect(ctx, natsURL, hotnats.WithNodeTTL(ttl))
		if err != nil {
			return nil, nil, err
		}
		return eng, eng.Close, nil
	}
	return nil, nil, errors.New("node: -redis or -nats is required")
}

// register adds the stores and functions the tests use.
func register(srv *hotstate.Server) {
	stores := map[string]*hotstate.Store[Count]{
		"Counter": hotstate.NewStore(srv, "Counter", Count{}),
		"Idles":   hotstate.NewStore(srv, "Idles", Count{}),
	}
	tally := hotstate.NewFamily(srv, "Tally:*", Count{})
	// Room instances count, in the store Idles, how often the cluster
	// saw one without subscribers.
	hotstate.NewFamily(srv, "Room:*", Count{}).
		Presence(func(c hotstate.Caller) (string, any) { return c.ID, nil }).
		OnIdle(func(string) {
			_ = stores["Idles"].Update(func(c *Count) { c.N++ })
		})

	hotstate.Handle(srv, "incr", func(_ context.Context, a IncrArgs) (int, error) {
		var n int
		add := func(c *Count) { c.N++; n = c.N }
		if key, ok := cutPrefix(a.Store, "Tally:"); ok {
			return n, tally.Update(key, add)
		}
		s, ok := stores[a.Store]
		if !ok {
			return 0, hotstate.NewError(hotstate.CodeNotFound, "no store "+a.Store)
		}
		return n, s.Update(add)
	})
	hotstate.Handle(srv, "subscribers", func(_ context.Context, a IncrArgs) (int, error) {
		in, ok := srv.Lookup(a.Store)
		if !ok {
			return 0, hotstate.NewError(hotstate.CodeNotFound, "no store "+a.Store)
		}
		return in.SubscriberCount(), nil
	})
	hotstate.Handle(srv, "emit", func(_ context.Context, a EmitArgs) (bool, error) {
		if a.Client == "" {
			return true, srv.Emit(a.Channel, a.Data)
		}
		return true, srv.EmitTo(a.Client, a.Channel, a.Data)
	})
	hotstate.Handle(srv, "pid", func(context.Context, struct{}) (int, error) { return os.Getpid(), nil })
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):], true
	}
	return "", false
}
