package hotclient_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotclient "github.com/hotstate/hotstate/client-go"
	hotstate "github.com/hotstate/hotstate/core"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wait bounds every wait of the tests; nothing should take nearly as long.
const wait = 10 * time.Second

type Todo struct {
	ID   int64  `json:"id"`
	Text string `json:"text"`
	Done bool   `json:"done"`
}

type Todos struct {
	Items []Todo `json:"items"`
}

type Room struct {
	Name     string   `json:"name"`
	Messages []string `json:"messages"`
}

// app is a hotstate server with the stores and functions the tests use,
// served on loopback.
type app struct {
	srv   *hotstate.Server
	todos *hotstate.Store[Todos]
	rooms *hotstate.Family[Room]
	// gate holds the "block" function until a test sends to it (nil: succeed)
	// or closes it; entered tells the test the call arrived.
	gate    chan error
	entered chan struct{}

	addr string
	stop func()
}

// newApp starts a server on addr ("127.0.0.1:0" for any port) whose Todos
// store starts with the given items.
func newApp(t *testing.T, addr string, items ...Todo) *app {
	t.Helper()
	srv := hotstate.New()
	a := &app{
		srv:     srv,
		todos:   hotstate.NewStore(srv, "Todos", Todos{Items: append([]Todo{}, items...)}),
		rooms:   hotstate.NewFamily(srv, "Room:*", Room{Messages: []string{}}),
		gate:    make(chan error),
		entered: make(chan struct{}, 16),
	}
	a.rooms.OnCreate(func(key string, r *Room) { r.Name = key })
	hotstate.Handle(srv, "todos.add", func(ctx context.Context, args struct {
		Text string `json:"text"`
	}) (Todo, error) {
		var added Todo
		err := a.todos.Update(func(s *Todos) {
			added = Todo{ID: int64(len(s.Items) + 1), Text: args.Text}
			s.Items = append(s.Items, added)
		})
		return added, err
	})
	hotstate.Handle(srv, "fail", func(ctx context.Context, args any) (any, error) {
		return nil, errors.New("it broke")
	})
	hotstate.Handle(srv, "block", func(ctx context.Context, args any) (string, error) {
		a.entered <- struct{}{}
		select {
		case err := <-a.gate:
			return "released", err
		case <-ctx.Done():
			return "", ctx.Err()
		}
	})
	a.serve(t, addr)
	return a
}

// serve listens on addr and serves until stop, which a test calls to kill
// the server and which runs at cleanup anyway.
func (a *app) serve(t *testing.T, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	a.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hothttp.ServeListener(ctx, a.srv, ln)
	}()
	a.stop = sync.OnceFunc(func() {
		cancel()
		<-done
	})
	t.Cleanup(a.stop)
}

func (a *app) url() string { return "ws://" + a.addr }

// dial connects a client and closes it at cleanup.
func dial(t *testing.T, url string, opts ...hotclient.Option) *hotclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := hotclient.Dial(ctx, url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// fast makes reconnection quick enough for tests.
var fast = []hotclient.Option{
	hotclient.WithReconnectDelay(5 * time.Millisecond),
	hotclient.WithReconnectMax(50 * time.Millisecond),
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// recv returns the next value from ch, failing the test after wait.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		t.Fatal("nothing arrived in time")
	}
	panic("unreachable")
}

// until receives from ch until ok accepts a value, which it returns.
func until[T any](t *testing.T, ch <-chan T, ok func(T) bool) T {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case v := <-ch:
			if ok(v) {
				return v
			}
		case <-deadline:
			t.Fatal("the expected value did not arrive in time")
		}
	}
}

// eventually polls cond until it holds, failing the test after wait.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// collect returns an onChange that sends each state to the channel.
func collect[T any]() (chan T, func(T)) {
	ch := make(chan T, 1024)
	return ch, func(v T) { ch <- v }
}

// lifecycle records a client's lifecycle notifications.
func lifecycle(c *hotclient.Client) chan hotclient.Lifecycle {
	ch := make(chan hotclient.Lifecycle, 1024)
	c.OnLifecycle(func(e hotclient.Lifecycle) { ch <- e })
	return ch
}

func kind(k hotclient.LifecycleKind) func(hotclient.Lifecycle) bool {
	return func(e hotclient.Lifecycle) bool { return e.Kind == k }
}

func texts(s Todos) []string {
	out := []string{}
	for _, it := range s.Items {
		out = append(out, it.Text)
	}
	return out
}
