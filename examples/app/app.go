// Package app is the todo application every example serves: a todo list, a
// configuration store and chat rooms, the functions that change them, and a
// user.joined event. The examples differ only in the web framework around it.
package app

import (
	"context"
	"errors"
	"strings"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
)

// Todo is one item of the list. The json tags name it on the wire and in
// the REST API alike.
type Todo struct {
	ID   int64  `json:"id"`
	Text string `json:"text"`
	Done bool   `json:"done"`
}

// Todos is the state of the "Todos" store.
type Todos struct {
	Items []Todo `json:"items"`
}

// Config is the state of the "Config" store.
type Config struct {
	Theme string `json:"theme"`
}

// Message is one chat line.
type Message struct {
	From string `json:"from"`
	Text string `json:"text"`
	TS   int64  `json:"ts"`
}

// Room is the state of each "Room:*" instance.
type Room struct {
	Name     string    `json:"name"`
	Messages []Message `json:"messages"`
	Users    []string  `json:"users"`
}

// App holds the stores so REST handlers can reach them too.
type App struct {
	Todos  *hotstate.Store[Todos]
	Config *hotstate.Store[Config]
	Rooms  *hotstate.Family[Room]
}

// AddArgs are the arguments of todos.add.
type AddArgs struct {
	Text string `json:"text"`
}

// AddResult is what todos.add returns.
type AddResult struct {
	ID int64 `json:"id"`
}

// ToggleArgs are the arguments of todos.toggle.
type ToggleArgs struct {
	ID int64 `json:"id"`
}

// Joined is the data of the user.joined event.
type Joined struct {
	ID string `json:"id"`
}

// SendArgs are the arguments of room.send.
type SendArgs struct {
	Room string `json:"room"`
	Text string `json:"text"`
}

// ErrEmptyText is returned when a todo or message has no text.
var ErrEmptyText = errors.New("text must not be empty")

// New registers the application on srv.
func New(srv *hotstate.Server) *App {
	a := &App{
		Todos:  hotstate.NewStore(srv, "Todos", Todos{Items: []Todo{}}),
		Config: hotstate.NewStore(srv, "Config", Config{Theme: "dark"}),
		Rooms:  hotstate.NewFamily(srv, "Room:*", Room{Messages: []Message{}, Users: []string{}}),
	}
	a.Rooms.
		OnCreate(NameRoom).
		OnIdle(func(key string) { a.Rooms.Reset(key) })

	hotstate.Handle(srv, "todos.add", func(ctx context.Context, args AddArgs) (AddResult, error) {
		id, err := a.AddTodo(args.Text)
		return AddResult{ID: id}, err
	})
	hotstate.Handle(srv, "todos.toggle", func(ctx context.Context, args ToggleArgs) (any, error) {
		return nil, a.Todos.Update(func(t *Todos) {
			for i := range t.Items {
				if t.Items[i].ID == args.ID {
					t.Items[i].Done = !t.Items[i].Done
				}
			}
		})
	})
	hotstate.Handle(srv, "room.send", func(ctx context.Context, args SendArgs) (any, error) {
		text := strings.TrimSpace(args.Text)
		if text == "" || args.Room == "" {
			return nil, ErrEmptyText
		}
		from := hotstate.ClientID(ctx)
		return nil, a.Rooms.Update(args.Room, func(r *Room) {
			r.Messages = append(r.Messages, Message{From: from, Text: text, TS: time.Now().UnixMilli()})
		})
	})
	joined := hotstate.NewEvent[Joined](srv, "user.joined")
	srv.OnConnect(func(c hotstate.Caller) {
		_ = joined.Emit(Joined{ID: c.ID})
	})
	return a
}

// NameRoom is the Rooms family's OnCreate hook. Setting another OnCreate
// replaces it, so a hook that loads saved rooms calls it too.
func NameRoom(key string, r *Room) { r.Name = key }

// AddTodo appends a todo and returns its id; todos.add and the REST API
// both call it.
func (a *App) AddTodo(text string) (int64, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return 0, ErrEmptyText
	}
	var id int64
	err := a.Todos.Update(func(t *Todos) {
		// The id comes from the state, not a counter: an Update function
		// may run again when another writer changed the store first.
		id = nextID(t.Items)
		t.Items = append(t.Items, Todo{ID: id, Text: text})
	})
	return id, err
}

// nextID returns one more than the largest id in items: small ids, which
// JavaScript numbers hold exactly.
func nextID(items []Todo) int64 {
	var id int64
	for _, it := range items {
		id = max(id, it.ID)
	}
	return id + 1
}
