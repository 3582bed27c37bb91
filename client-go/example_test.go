package hotclient_test

import (
	"context"
	"fmt"
	"net"
	"time"

	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotclient "github.com/hotstate/hotstate/client-go"
	hotstate "github.com/hotstate/hotstate/core"
)

func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url, stop := exampleServer(ctx)
	defer stop()

	c, err := hotclient.Dial(ctx, url)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	todos := hotclient.SubscribeAs[Todos](c, "Todos", nil)
	if err := todos.Ready(ctx); err != nil {
		fmt.Println(err)
		return
	}
	var added Todo
	if err := c.Call(ctx, "todos.add", map[string]string{"text": "Buy milk"}, &added); err != nil {
		fmt.Println(err)
		return
	}
	// The server sends the store's patch before the call's answer, so the
	// new item is already there.
	fmt.Println(added.ID, todos.State().Items)
	// Output: 1 [{1 Buy milk false}]
}

// exampleServer serves a todo list on a free loopback port.
func exampleServer(ctx context.Context) (url string, stop func()) {
	srv := hotstate.New()
	todos := hotstate.NewStore(srv, "Todos", Todos{Items: []Todo{}})
	hotstate.Handle(srv, "todos.add", func(ctx context.Context, args Todo) (Todo, error) {
		var added Todo
		err := todos.Update(func(s *Todos) {
			added = Todo{ID: int64(len(s.Items) + 1), Text: args.Text}
			s.Items = append(s.Items, added)
		})
		return added, err
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hothttp.ServeListener(ctx, srv, ln)
	}()
	return "ws://" + ln.Addr().String(), func() { cancel(); <-done }
}

// CallAs returns the result as the server's own type.
func ExampleCallAs() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url, stop := exampleServer(ctx)
	defer stop()

	c, err := hotclient.Dial(ctx, url)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	added, err := hotclient.CallAs[Todo](ctx, c, "todos.add", Todo{Text: "Buy milk"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(added.ID, added.Text)
	// Output: 1 Buy milk
}
