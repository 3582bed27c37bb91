// Command persist serves the todo app like examples/nethttp, the REST API
// under /api and hotstate at /ws, and keeps the Todos store and every chat
// room in PostgreSQL, so a restart finds them again: OnSave writes each
// instance's state as jsonb, OnCreate reads it back.
//
//	go run ./examples/persist -db 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable'
//	curl -X POST localhost:3000/api/todos -d '{"text":"Buy milk"}'
//	# Ctrl-C saves what is still unsaved; start it again, and
//	curl localhost:3000/api/todos
//
// A process killed outright loses only the changes of its last save delay
// (-save-delay, 2 s by default).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/examples/app"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func main() {
	addr := flag.String("addr", ":3000", "address to listen on")
	db := flag.String("db", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL connection URL")
	table := flag.String("table", "hotstate_stores", "table of saved stores, created if missing; may be schema-qualified")
	quiet := flag.Duration("save-delay", 2*time.Second, "save a store once its changes have stopped for this long")
	most := flag.Duration("save-max-delay", 10*time.Second, "save a store at least this often while its changes keep coming")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*addr, *db, *table, logger, hotstate.WithSaveDelay(*quiet, *most)); err != nil {
		logger.Error("todo server failed", "err", err)
		os.Exit(1)
	}
}

func run(addr, db, table string, logger *slog.Logger, opts ...hotstate.Option) error {
	pool, err := pgxpool.New(context.Background(), db)
	if err != nil {
		return err
	}
	// Closed after Serve returns, that is after Shutdown's saves.
	defer pool.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	saved, err := openSaved(ctx, pool, table)
	if err != nil {
		return err
	}
	return app.Serve(addr, "net/http", logger, func(srv *hotstate.Server, a *app.App) (app.Server, error) {
		// A save that fails is retried; this is where it shows.
		srv.OnError(func(err error, clientID string) { logger.Error("hotstate", "err", err, "client", clientID) })
		if err := persist(a, saved); err != nil {
			return nil, err
		}
		mux := http.NewServeMux()
		a.HandleREST(mux)
		mux.Handle("GET /ws", hothttp.Handler(srv))
		return app.HTTPServer(mux), nil
	}, opts...)
}

// persist saves the Todos store and the Rooms family in saved and loads
// them back when they are created.
func persist(a *app.App, saved *savedStores) error {
	todos := a.Todos.Name()
	a.Todos.
		OnCreate(func(t *app.Todos) { saved.load(todos, t) }).
		OnSave(func(ctx context.Context, t app.Todos) error { return saved.save(ctx, todos, t) })

	rooms := strings.TrimSuffix(a.Rooms.Pattern(), "*")
	a.Rooms.
		OnCreate(func(key string, r *app.Room) {
			app.NameRoom(key, r)
			saved.load(rooms+key, r)
		}).
		OnSave(func(ctx context.Context, key string, r app.Room) error { return saved.save(ctx, rooms+key, r) })

	// GET /api/todos reads with Get, which does not create the store and
	// so would show the empty defaults until something else did. Loading
	// now also makes a failed read fail the start rather than a request.
	return initStore(a.Todos)
}

func initStore[T any](s *hotstate.Store[T]) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("loading %s: %v", s.Name(), v)
		}
	}()
	s.Init()
	return nil
}

// savedStores is the table of saved states: one row per store instance,
// named as clients subscribe to it ("Todos", "Room:general"), holding its
// state as the JSON that clients see.
type savedStores struct {
	pool         *pgxpool.Pool
	upsert, read string
}

// ioTimeout bounds one read or write: OnSave runs from a timer with no
// deadline of its own, and the next save of the instance waits for it.
const ioTimeout = 5 * time.Second

func openSaved(ctx context.Context, pool *pgxpool.Pool, table string) (*savedStores, error) {
	t := pgx.Identifier(strings.Split(table, ".")).Sanitize()
	_, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+t+` (
		name     text PRIMARY KEY,
		state    jsonb NOT NULL,
		saved_at timestamptz NOT NULL DEFAULT now()
	)`)
	if err != nil {
		return nil, fmt.Errorf("creating table %s: %w", t, err)
	}
	return &savedStores{
		pool: pool,
		upsert: `INSERT INTO ` + t + ` (name, state) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET state = excluded.state, saved_at = now()`,
		read: `SELECT state FROM ` + t + ` WHERE name = $1`,
	}, nil
}

func (s *savedStores) save(ctx context.Context, name string, state any) error {
	b, err := json.Marshal(state)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, ioTimeout)
	defer cancel()
	_, err = s.pool.Exec(ctx, s.upsert, name, b)
	return err
}

// load decodes the saved state of name over state, the defaults OnCreate
// is given; without a row it leaves them. OnCreate cannot return an error,
// and going on with the defaults after a failed read would overwrite the
// saved row at the next save, so load panics instead: hotstate answers the
// use that created the instance with an internal error, and the next use
// reads again.
func (s *savedStores) load(name string, state any) {
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	var b []byte
	err := s.pool.QueryRow(ctx, s.read, name).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return
	}
	if err == nil {
		err = json.Unmarshal(b, state)
	}
	if err != nil {
		panic(fmt.Errorf("loading %s: %w", name, err))
	}
}
