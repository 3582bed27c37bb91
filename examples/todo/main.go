// Command todo is the standalone hotstate todo server: a todo list, a
// configuration store and chat rooms on ws://localhost:4400.
//
// With -tokens alice=s3cret,bob=t0ken every connection must carry one of
// the tokens as ?token=, which is how a browser authenticates a WebSocket
// (it cannot set headers on one); function handlers then see the user as
// Caller.Identity, and the function whoami returns it.
//
// With -gen-ts web/schema.ts it writes the TypeScript types of its stores,
// functions and events, which the web page imports, and exits; a test
// fails when the file is stale.
package main

//go:generate go run . -gen-ts web/schema.ts

import (
	"context"
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

	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/tsgen"
	"github.com/hotstate/hotstate/examples/app"
)

func main() {
	port := flag.Int("port", 4400, "port to listen on")
	host := flag.String("host", "localhost", "address to bind")
	web := flag.String("web", "", "directory of a web page to serve to plain HTTP requests")
	tokens := flag.String("tokens", "", "comma-separated user=token pairs; when set, a connection must carry ?token= of one of them")
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
	srv := hotstate.New(hotstate.WithLogger(logger))
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
	var opts []hothttp.ServerOption
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
