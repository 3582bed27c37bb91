// Command drive is a Go client that keeps a todo server (examples/todo)
// busy: it subscribes to Todos and adds a todo every -every until it has
// added -count of them (0: until interrupted), printing each one it added.
// The inspector's browser test runs it against the server while the page
// watches.
//
//	go run ./examples/drive -url ws://localhost:4400/ws
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	hotclient "github.com/hotstate/hotstate/client-go"
	"github.com/hotstate/hotstate/examples/app"
)

func main() {
	url := flag.String("url", "ws://localhost:4400/ws", "the server's WebSocket")
	every := flag.Duration("every", 250*time.Millisecond, "how often to add a todo")
	count := flag.Int("count", 0, "how many todos to add; 0 adds until interrupted")
	text := flag.String("text", "driven", "the todos' text, before their number")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := drive(ctx, *url, *every, *count, *text); err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "drive:", err)
		os.Exit(1)
	}
}

func drive(ctx context.Context, url string, every time.Duration, count int, text string) error {
	c, err := hotclient.Dial(ctx, url)
	if err != nil {
		return err
	}
	defer c.Close()
	todos := c.Subscribe("Todos", nil)
	if err := todos.Ready(ctx); err != nil {
		return err
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for n := 1; count == 0 || n <= count; n++ {
		var res app.AddResult
		if err := c.Call(ctx, "todos.add", app.AddArgs{Text: fmt.Sprintf("%s %d", text, n)}, &res); err != nil {
			return err
		}
		fmt.Printf("added %s %d\n", text, n)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
	return nil
}
