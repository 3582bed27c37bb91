package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	hotclient "github.com/hotstate/hotstate/client-go"
	"github.com/hotstate/hotstate/examples/app"
	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// dsn is the example's default database, where CI runs PostgreSQL.
const dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// TestSavedStoresSurviveKill adds todos over REST and over hotstate and a
// chat message, waits until the example has saved them, kills it with no
// chance to clean up, and finds all of them in a new process on the same
// table.
func TestSavedStoresSurviveKill(t *testing.T) {
	db, table := testTable(t)
	exe := build(t)

	first := start(t, exe, "-table", table, "-save-delay", "50ms")
	if got := first.todos(t); !reflect.DeepEqual(got, app.Todos{Items: []app.Todo{}}) {
		t.Fatalf("GET /api/todos on an empty table: %+v, want the defaults", got)
	}
	first.add(t, "Buy milk")
	c := dial(t, first)
	call(t, c, "todos.add", app.AddArgs{Text: "Walk the dog"})
	call(t, c, "room.send", app.SendArgs{Room: "general", Text: "hello"})
	c.Close()

	want := app.Todos{Items: []app.Todo{{ID: 1, Text: "Buy milk"}, {ID: 2, Text: "Walk the dog"}}}
	waitSaved(t, db, table, "Todos", func(got app.Todos) bool { return reflect.DeepEqual(got, want) })
	waitSaved(t, db, table, "Room:general", func(got app.Room) bool { return isGeneral(got, "hello") })
	first.kill(t)

	second := start(t, exe, "-table", table, "-save-delay", "50ms")
	checkTodos(t, second, want)
	checkRoom(t, second, "hello")
	// The loaded list is the state, not a view of it: ids go on from it.
	if id := second.add(t, "Call mum"); id != 3 {
		t.Fatalf("POST /api/todos after the restart: id %d, want 3", id)
	}
	second.stop(t)
}

// TestShutdownSavesPendingChanges stops the example with SIGTERM while its
// changes wait for a save delay that never comes: Shutdown alone saves them.
func TestShutdownSavesPendingChanges(t *testing.T) {
	db, table := testTable(t)
	exe := build(t)

	first := start(t, exe, "-table", table, "-save-delay", "1h", "-save-max-delay", "1h")
	c := dial(t, first)
	// Subscribed, so that the room's OnIdle reset runs during the shutdown
	// too: Reset saves before it drops the state.
	room := hotclient.SubscribeAs[app.Room](c, "Room:general", nil)
	ready(t, room)
	call(t, c, "room.send", app.SendArgs{Room: "general", Text: "bye"})
	first.add(t, "Buy milk")
	if _, ok := readSaved[app.Todos](t, db, table, "Todos"); ok {
		t.Fatal("Todos saved before the shutdown; the test cannot tell that Shutdown saves")
	}
	first.stop(t)
	c.Close()

	want := app.Todos{Items: []app.Todo{{ID: 1, Text: "Buy milk"}}}
	if got, ok := readSaved[app.Todos](t, db, table, "Todos"); !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("saved Todos after SIGTERM: %+v (row found: %v), want %+v", got, ok, want)
	}
	second := start(t, exe, "-table", table)
	checkTodos(t, second, want)
	checkRoom(t, second, "bye")
	second.stop(t)
}

// testTable connects to PostgreSQL and returns a table name of the test's
// own, dropped at the end; the example creates it.
func testTable(t *testing.T) (*pgx.Conn, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	db, err := pgx.Connect(ctx, dsn)
	if err == nil {
		err = db.Ping(ctx)
	}
	if err != nil {
		t.Skipf("PostgreSQL is not reachable at %s (%v); this test needs it running with trust auth and a database named test", dsn, err)
	}
	table := fmt.Sprintf("hotstate_test_%d_%d", os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := db.Exec(ctx, "DROP TABLE IF EXISTS "+pgx.Identifier{table}.Sanitize()); err != nil {
			t.Errorf("dropping %s: %v", table, err)
		}
		_ = db.Close(ctx)
	})
	return db, table
}

// readSaved returns the state saved for the store instance name, and
// whether there is a row for it.
func readSaved[T any](t *testing.T, db *pgx.Conn, table, name string) (T, bool) {
	t.Helper()
	var v T
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var b []byte
	err := db.QueryRow(ctx, "SELECT state FROM "+pgx.Identifier{table}.Sanitize()+" WHERE name = $1", name).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return v, false
	}
	if err != nil {
		t.Fatalf("reading the saved %s: %v", name, err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("saved %s is %s: %v", name, b, err)
	}
	return v, true
}

// waitSaved polls the table until the state saved for name satisfies done.
func waitSaved[T any](t *testing.T, db *pgx.Conn, table, name string, done func(T) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		got, ok := readSaved[T](t, db, table, name)
		if ok && done(got) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not saved within 10s; the table holds %+v (row found: %v)", name, got, ok)
		}
		<-tick.C
	}
}

func isGeneral(r app.Room, text string) bool {
	return r.Name == "general" && len(r.Messages) == 1 && r.Messages[0].Text == text && r.Messages[0].From != ""
}

// checkTodos finds want over REST and through a hotstate subscription.
func checkTodos(t *testing.T, p *proc, want app.Todos) {
	t.Helper()
	if got := p.todos(t); !reflect.DeepEqual(got, want) {
		t.Fatalf("GET /api/todos: %+v, want %+v", got, want)
	}
	c := dial(t, p)
	defer c.Close()
	todos := hotclient.SubscribeAs[app.Todos](c, "Todos", nil)
	ready(t, todos)
	if got := todos.State(); !reflect.DeepEqual(got, want) {
		t.Fatalf("subscribed to Todos: %+v, want %+v", got, want)
	}
}

// checkRoom finds the room "general" holding the one message text.
func checkRoom(t *testing.T, p *proc, text string) {
	t.Helper()
	c := dial(t, p)
	defer c.Close()
	room := hotclient.SubscribeAs[app.Room](c, "Room:general", nil)
	ready(t, room)
	if got := room.State(); !isGeneral(got, text) {
		t.Fatalf("subscribed to Room:general: %+v, want the room named general with the message %q", got, text)
	}
}

func dial(t *testing.T, p *proc) *hotclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// No reconnection: each client talks to one process, which the test
	// ends.
	c, err := hotclient.Dial(ctx, "ws://"+p.addr+"/ws", hotclient.WithReconnect(false))
	if err != nil {
		t.Fatalf("hotclient.Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func ready[T any](t *testing.T, s *hotclient.TypedSubscription[T]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("subscribing to %s: %v", s.Name(), err)
	}
}

func call(t *testing.T, c *hotclient.Client, name string, args any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Call(ctx, name, args, nil); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// build compiles the example into the test's temporary directory.
func build(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "persist")
	if out, err := exec.Command("go", "build", "-o", exe, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return exe
}

// proc is a running example process.
type proc struct {
	exe  string
	cmd  *exec.Cmd
	addr string
	http *http.Client

	// done is closed when the process has exited and err holds what Wait
	// returned.
	done chan struct{}
	err  error

	mu     sync.Mutex // guards stderr
	stderr strings.Builder
}

// start runs the example on a free loopback port against the test
// database and waits until it listens; the test's end kills it if it
// still runs.
func start(t *testing.T, exe string, args ...string) *proc {
	t.Helper()
	p := &proc{
		exe:  exe,
		cmd:  exec.Command(exe, append([]string{"-addr", "127.0.0.1:0", "-db", dsn}, args...)...),
		http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
		done: make(chan struct{}),
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.stderr.WriteString(line + "\n")
			p.mu.Unlock()
			if !strings.Contains(line, "listening") {
				continue
			}
			for field := range strings.FieldsSeq(line) {
				if a, ok := strings.CutPrefix(field, "addr="); ok {
					select {
					case addrc <- a:
					default:
					}
				}
			}
		}
		// Wait closes the pipe, so only once everything is read.
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	select {
	case p.addr = <-addrc:
	case <-p.done:
		t.Fatalf("%s %v exited before listening (%v):\n%s", exe, args, p.err, p.output())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s %v did not report listening within 30s:\n%s", exe, args, p.output())
	}
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// kill ends the process with SIGKILL: no shutdown, no last save.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// stop ends the process with SIGTERM and checks that it exits cleanly.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("%s exited with %v after SIGTERM:\n%s", p.exe, p.err, p.output())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%s still running 20s after SIGTERM:\n%s", p.exe, p.output())
	}
}

// todos answers GET /api/todos.
func (p *proc) todos(t *testing.T) app.Todos {
	t.Helper()
	resp, err := p.http.Get("http://" + p.addr + "/api/todos")
	if err != nil {
		t.Fatalf("GET /api/todos: %v", err)
	}
	defer resp.Body.Close()
	var v app.Todos
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/todos: %d, %v", resp.StatusCode, err)
	}
	return v
}

// add adds a todo with POST /api/todos and returns its id.
func (p *proc) add(t *testing.T, text string) int64 {
	t.Helper()
	body, _ := json.Marshal(app.AddArgs{Text: text})
	resp, err := p.http.Post("http://"+p.addr+"/api/todos", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("POST /api/todos: %v", err)
	}
	defer resp.Body.Close()
	var res app.AddResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/todos %q: %d, %v", text, resp.StatusCode, err)
	}
	return res.ID
}
