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
	err := Serve(*addr, framework, logger, func(srv *hotstate.Server, a *App) (Server, error) {
		return mount(srv, a), nil
	})
	if err != nil {
		logger.Error("todo server failed", "err", err)
		os.Exit(1)
	}
}

// Serve is Main for an example with flags of its own: it builds the
// hotstate server with logger and opts, and the app, serves them on addr
// with what mount returns, and shuts down gracefully on SIGINT or SIGTERM,
// which saves the stores that have OnSave hooks. An error from mount ends
// it before it listens.
func Serve(addr, framework string, logger *slog.Logger, mount func(srv *hotstate.Server, a *App) (Server, error), opts ...hotstate.Option) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := hotstate.New(append([]hotstate.Option{hotstate.WithLogger(logger)}, opts...)...)
	web, err := mount(srv, New(srv))
	if err != nil {
		return err
	}

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
	if err == nil {
		// REST requests that were still running when hotstate saved may
		// have changed stores since; the web server has drained them now.
		err = srv.Shutdown(shutdownCtx)
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// HTTPServer serves h with net/http, for the frameworks built on it.
func HTTPServer(h http.Handler) Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
}
