// Command nethttp serves the todo app with net/http: the REST API under
// /api and hotstate at /ws, on one port.
//
//	go run ./examples/nethttp -addr :3000
//	curl -X POST localhost:3000/api/todos -d '{"text":"Buy milk"}'
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/examples/app"
)

// NewHandler returns the example's routes: the REST API and /ws.
func NewHandler(srv *hotstate.Server, a *app.App) http.Handler {
	mux := http.NewServeMux()
	a.HandleREST(mux)
	mux.Handle("GET /ws", hothttp.Handler(srv))
	return mux
}

func main() {
	addr := flag.String("addr", ":3000", "address to listen on")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*addr, logger); err != nil {
		logger.Error("todo server failed", "err", err)
		os.Exit(1)
	}
}

func run(addr string, logger *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := hotstate.New(hotstate.WithLogger(logger))
	a := app.New(srv)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: NewHandler(srv, a), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	logger.Info("todo server listening", "framework", "net/http", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// hotstate first: net/http's Shutdown does not wait for WebSockets.
	err = errors.Join(srv.Shutdown(shutdownCtx), hs.Shutdown(shutdownCtx))
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
