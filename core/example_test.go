package hotstate_test

import (
	"context"
	"fmt"

	hotstate "github.com/hotstate/hotstate/core"
)

type exampleTodo struct {
	ID   int64  `json:"id"`
	Text string `json:"text"`
	Done bool   `json:"done"`
}

type exampleTodos struct {
	Items []exampleTodo `json:"items"`
}

// A server owns a store and a function that changes it. A transport
// serves it to clients, next to the application's REST routes:
//
//	mux.Handle("/ws", hothttp.Handler(srv)) // github.com/hotstate/hotstate/adapters/nethttp
//
// Every client subscribed to "Todos" then gets each change as a patch.
func Example() {
	srv := hotstate.New()
	defer srv.Shutdown(context.Background())

	todos := hotstate.NewStore(srv, "Todos", exampleTodos{Items: []exampleTodo{}})
	hotstate.Handle(srv, "todos.add", func(ctx context.Context, args struct {
		Text string `json:"text"`
	}) (int64, error) {
		var id int64
		err := todos.Update(func(t *exampleTodos) {
			id = int64(len(t.Items)) + 1 // from the state: the function may run more than once
			t.Items = append(t.Items, exampleTodo{ID: id, Text: args.Text})
		})
		return id, err
	})

	// REST handlers and background jobs change the store the same way.
	if err := todos.Update(func(t *exampleTodos) {
		t.Items = append(t.Items, exampleTodo{ID: 1, Text: "Buy milk"})
	}); err != nil {
		fmt.Println(err)
	}
	fmt.Println(todos.Get().Items)
	// Output: [{1 Buy milk false}]
}
