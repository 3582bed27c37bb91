package hotstate

import (
	"fmt"
	"reflect"
	"slices"
)

// Event is a typed event: a channel name and the Go type of the data sent
// on it, declared once so that Schema, and the client types generated from
// it, know both. Create it with NewEvent. Sending through it is the same as
// Server.Emit and Server.EmitTo on its name; Server.Emit stays available
// for events nobody declared.
type Event[T any] struct {
	srv  *Server
	name string
}

// NewEvent declares the event name carrying T on srv. It panics if name is
// empty, one of the names Emit refuses (ErrReservedEvent), or declared
// already (ErrDuplicate), as registering a function twice does.
func NewEvent[T any](srv *Server, name string) *Event[T] {
	if name == "" {
		panic("hotstate: event needs a name")
	}
	if slices.Contains(reservedEvents[:], name) {
		panic(fmt.Errorf("%w: %q", ErrReservedEvent, name))
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if _, dup := srv.events[name]; dup {
		panic(fmt.Errorf("%w: event %q", ErrDuplicate, name))
	}
	if srv.events == nil {
		srv.events = map[string]reflect.Type{}
	}
	srv.events[name] = reflect.TypeFor[T]()
	return &Event[T]{srv: srv, name: name}
}

// Name returns the event's channel name, for Store.Emit and Family.Emit,
// which send it to the subscribers of one store instance.
func (e *Event[T]) Name() string { return e.name }

// Emit sends data to every connected client, as Server.Emit does.
func (e *Event[T]) Emit(data T) error { return e.srv.Emit(e.name, data) }

// EmitTo sends data to the one client with the given id, as Server.EmitTo
// does.
func (e *Event[T]) EmitTo(clientID string, data T) error {
	return e.srv.EmitTo(clientID, e.name, data)
}
