// Command todo is the standalone hotstate todo server: a todo list, a
// configuration store and chat rooms on ws://localhost:4400.
package main

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
	"syscall"

	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/examples/app"
)

func main() {
	port := flag.Int("port", 4400, "port to listen on")
	host := flag.String("host", "localhost", "address to bind")
	web := flag.String("web", "", "directory of a web page to serve to plain HTTP requests")
	flag.Parse()

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
	if err := hothttp.ServeListener(ctx, srv, ln, opts...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
