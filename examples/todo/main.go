// Command todo is the standalone hotstate todo server: a todo list, a
// configuration store and chat rooms on ws://localhost:4400.
//
// With -tokens alice=s3cret,bob=t0ken every connection must carry one of
// the tokens as ?token=, which is how a browser authenticates a WebSocket
// (it cannot set headers on one); function handlers then see the user as
// Caller.Identity, and the function whoami returns it.
//
// With -redis redis://127.0.0.1:6379 (or -nats nats://127.0.0.1:4222,
// JetStream enabled) every server started with the same flag shares the
// stores, so several of them, on other ports, make one cluster: a client
// of any sees the changes made through every other.
//
// The live inspector is mounted at /inspect/ and locked: it admits only
// requests carrying its token, which -inspect-token sets and which is
// otherwise drawn at random on every start; the server prints the page's
// address with the token on startup. -inspect-actions lets the page reset
// and delete stores and disconnect clients.
//
// With -gen-ts web/schema.ts it writes the TypeScript types of its stores,
// functions and events, which the web page imports, and exits; a test
// fails when the file is stale.
package main

//go:generate go run . -gen-ts web/schema.ts

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/tsgen"
	hotnats "github.com/hotstate/hotstate/engines/nats"
	hotredis "github.com/hotstate/hotstate/engines/redis"
	"github.com/hotstate/hotstate/examples/app"
	hotinspect "github.com/hotstate/hotstate/inspector"
)

func main() {
	port := flag.Int("port", 4400, "port to listen on")
	host := flag.String("host", "localhost", "address to bind")
	web := flag.String("web", "", "directory of a web page to serve to plain HTTP requests")
	tokens := flag.String("tokens", "", "comma-separated user=token pairs; when set, a connection must carry ?token= of one of them")
	redisURL := flag.String("redis", "", "share the stores with other servers through this Redis (redis://host:port)")
	natsURL := flag.String("nats", "", "share the stores with other servers through this NATS JetStream (nats://host:port)")
	inspectToken := flag.String("inspect-token", "", "token that opens the inspector at /inspect/ (default: a random one, printed at startup)")
	inspectActions := flag.Bool("inspect-actions", false, "let the inspector reset and delete stores and disconnect clients")
	genTS := flag.String("gen-ts", "", "write the TypeScript types of the stores, functions and events to this file (- for standard output) and exit")
	flag.Parse()

	if *genTS != "" {
		warnings, err := tsgen.WriteFile(*genTS, typesServer().Schema(), typesOptions()...)
		for _, w := range warnings {
			fmt.Fprintln(os.Stderr, "tsgen: warning:", w)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *inspectToken == "" {
		*inspectToken = rand.Text()
	}
	inspectOpts := []hotinspect.Option{hotinspect.Authorize(hotinspect.Token(*inspectToken))}
	if *inspectActions {
		inspectOpts = append(inspectOpts, hotinspect.AllowActions())
	}
	insp := hotinspect.New(inspectOpts...)
	defer insp.Close()
	srvOpts := []hotstate.Option{hotstate.WithLogger(logger), hotstate.WithObserver(insp.Observer())}
	eng, err := engine(*redisURL, *natsURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if eng != nil {
		defer eng.Close()
		srvOpts = append(srvOpts, hotstate.WithEngine(eng))
	}
	srv := hotstate.New(srvOpts...)
	app.New(srv)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	addr := net.JoinHostPort(*host, strconv.Itoa(*port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	logger.Info("hotstate todo server listening", "url", "ws://"+ln.Addr().String())
	logger.Info("inspector", "url", "http://"+ln.Addr().String()+"/inspect/?token="+*inspectToken)
	// Every path upgrades to the application's WebSocket but those under
	// /inspect/, the inspector's, whose page has a WebSocket of its own.
	opts := []hothttp.ServerOption{hothttp.WithMount("/inspect/", http.StripPrefix("/inspect", insp.Handler(srv)))}
	if *web != "" {
		opts = append(opts, hothttp.WithFallback(http.FileServer(http.Dir(*web))))
	}
	if *tokens != "" {
		opts = append(opts, tokenIdentity(srv, *tokens))
	}
	if err := hothttp.ServeListener(ctx, srv, ln, opts...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// closingEngine is an engine this program made and closes on its way out.
type closingEngine interface {
	hotstate.Engine
	Close()
}

// engine connects to the Redis or NATS server a flag names, so that every
// server started with the same flag shares the stores; nil without either.
func engine(redisURL, natsURL string) (closingEngine, error) {
	switch {
	case redisURL != "" && natsURL != "":
		return nil, fmt.Errorf("todo: -redis and -nats are alternatives")
	case redisURL != "":
		return hotredis.Dial(redisURL)
	case natsURL != "":
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return hotnats.Connect(ctx, natsURL)
	}
	return nil, nil
}

// typesServer registers everything the server may serve, whoami included,
// for -gen-ts.
func typesServer() *hotstate.Server {
	srv := hotstate.New()
	app.New(srv)
	tokenIdentity(srv, "")
	return srv
}

// typesOptions are the generator's options for -gen-ts. The app's defaults
// and hooks make every slice, and updates only append to them, so no slice
// is ever sent as null.
func typesOptions() []tsgen.Option {
	return []tsgen.Option{tsgen.NonNullCollections()}
}

// tokenIdentity makes every connection name its user with ?token=, and adds
// whoami, which returns it. A real server would verify a short-lived signed
// token here instead of looking up a fixed one; the client fetches a fresh
// one before every reconnection (the JS client's getToken option).
func tokenIdentity(srv *hotstate.Server, pairs string) hothttp.Option {
	users := map[string]string{}
	for _, pair := range strings.Split(pairs, ",") {
		if user, token, _ := strings.Cut(pair, "="); user != "" && token != "" {
			users[token] = user
		}
	}
	hotstate.Handle(srv, "whoami", func(ctx context.Context, _ struct{}) (string, error) {
		c, _ := hotstate.CallerFrom(ctx)
		user, _ := c.Identity.(string)
		return user, nil
	})
	return hothttp.WithIdentity(func(r *http.Request) (any, error) {
		user, ok := users[r.URL.Query().Get("token")]
		if !ok {
			return nil, &hothttp.StatusError{Status: http.StatusUnauthorized, Message: "unknown token"}
		}
		return user, nil
	})
}
