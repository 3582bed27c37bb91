package app

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

	hotstate "github.com/hotstate/hotstate/core"
)

// Server is what each framework example serves the app with: it serves on
// a listener until Shutdown.
type Server interface {
	Serve(ln net.Listener) error
	Shutdown(ctx context.Context) error
}

// Main runs a framework example: it parses -addr (default :3000), builds
// the hotstate server and the app, serves them with what mount returns, and
// shuts down gracefully on SIGINT or SIGTERM.
func Main(framework string, mount func(srv *hotstate.Server, a *App) Server) {
	addr := flag.String("addr", ":3000", "address to listen on")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*addr, framework, logger, mount); err != nil {
		logger.Error("todo server failed", "err", err)
		os.Exit(1)
	}
}

func run(addr, framework string, logger *slog.Logger, mount func(*hotstate.Server, *App) Server) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := hotstate.New(hotstate.WithLogger(logger))
	web := mount(srv, New(srv))

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- web.Serve(ln) }()
	logger.Info("todo server listening", "framework", framework, "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// hotstate first: no framework tracks upgraded connections.
	err = errors.Join(srv.Shutdown(shutdownCtx), web.Shutdown(shutdownCtx))
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// HTTPServer serves h with net/http, for the frameworks built on it.
func HTTPServer(h http.Handler) Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
}
