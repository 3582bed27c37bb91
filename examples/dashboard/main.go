// Command dashboard is a terminal view of the todo server's stores: it
// subscribes to Todos and a chat room with the Go client and redraws them
// whenever they change.
//
//	go run ./todo &
//	go run ./dashboard -url ws://localhost:4400
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	hotclient "github.com/hotstate/hotstate/client-go"
	"github.com/hotstate/hotstate/examples/app"
)

func main() {
	url := flag.String("url", "ws://localhost:4400", "WebSocket URL of the todo server")
	room := flag.String("room", "general", "chat room to show")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	d := &dashboard{out: os.Stdout, clear: isTerminal(os.Stdout), room: *room, status: "connecting to " + *url}
	c := hotclient.New()
	// Every callback runs on the client's callback goroutine, one at a
	// time, so the dashboard needs no lock of its own.
	c.OnLifecycle(func(e hotclient.Lifecycle) {
		switch e.Kind {
		case hotclient.Connected:
			d.status = "connected as " + e.ClientID
		case hotclient.Disconnected:
			d.status = fmt.Sprintf("disconnected: %v", e.Err)
		case hotclient.Reconnecting:
			d.status = fmt.Sprintf("reconnecting in %v (attempt %d)", e.Delay.Round(time.Millisecond), e.Attempt)
		case hotclient.Failure:
			d.status = fmt.Sprintf("error: %v", e.Err)
		default:
			return
		}
		d.draw()
	})
	hotclient.SubscribeAs(c, "Todos", func(t app.Todos) {
		d.todos = t
		d.draw()
	})
	hotclient.SubscribeAs(c, "Room:"+*room, func(r app.Room) {
		d.chat = r
		d.draw()
	})
	if err := c.Connect(*url); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	<-ctx.Done()
	_ = c.Close()
}

// dashboard is what the screen shows.
type dashboard struct {
	out    io.Writer
	clear  bool
	room   string
	status string
	todos  app.Todos
	chat   app.Room
}

func (d *dashboard) draw() {
	var b strings.Builder
	if d.clear {
		b.WriteString("\033[H\033[2J")
	} else {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "hotstate dashboard · %s\n\n", d.status)
	fmt.Fprintf(&b, "Todos (%d)\n", len(d.todos.Items))
	for _, t := range d.todos.Items {
		mark := " "
		if t.Done {
			mark = "x"
		}
		fmt.Fprintf(&b, "  [%s] %d. %s\n", mark, t.ID, t.Text)
	}
	fmt.Fprintf(&b, "\nRoom:%s (%d messages)\n", d.room, len(d.chat.Messages))
	for _, m := range d.chat.Messages {
		fmt.Fprintf(&b, "  %s  %s: %s\n", time.UnixMilli(m.TS).Format("15:04:05"), m.From, m.Text)
	}
	_, _ = io.WriteString(d.out, b.String())
}

// isTerminal reports whether f is a terminal, where redrawing in place
// reads better than scrolling.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
