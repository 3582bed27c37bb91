package hotstate_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

type joined struct {
	ID string `json:"id"`
}

func TestSchema(t *testing.T) {
	srv := hotstate.New()
	hotstate.NewStore(srv, "Config", config{})
	hotstate.NewFamily(srv, "Room:*", room{}).Presence(func(c hotstate.Caller) (string, any) { return c.ID, nil })
	hotstate.Handle(srv, "todos.add", func(ctx context.Context, a config) (int64, error) { return 0, nil })
	srv.HandleFunc("raw", func(ctx context.Context, args any) (any, error) { return nil, nil })
	hotstate.NewEvent[joined](srv, "user.joined")

	got := srv.Schema()
	want := hotstate.Schema{
		Stores: []hotstate.StoreSchema{
			{Name: "Config", State: reflect.TypeFor[config]()},
			{Name: "Room:*", Family: true, Prefix: "Room:", State: reflect.TypeFor[room]()},
			{Name: "presence:*", Family: true, Prefix: "presence:", State: reflect.TypeFor[hotstate.Presence]()},
		},
		Functions: []hotstate.FunctionSchema{
			{Name: "raw"},
			{Name: "todos.add", Args: reflect.TypeFor[config](), Result: reflect.TypeFor[int64]()},
		},
		Events: []hotstate.EventSchema{{Name: "user.joined", Data: reflect.TypeFor[joined]()}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Schema() =\n%+v\nwant\n%+v", got, want)
	}
}

func TestTypedEvent(t *testing.T) {
	srv := hotstate.New()
	ev := hotstate.NewEvent[joined](srv, "user.joined")
	a, b := connect(t, srv), connect(t, srv)

	if err := ev.Emit(joined{ID: "ada"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{a, b} {
		f := c.expect(wire.TypeEvt)
		if f.Name != "user.joined" || decodeTree(t, f.Value).(map[string]any)["id"] != "ada" {
			t.Fatalf("event %+v", f)
		}
	}
	if err := ev.EmitTo(b.id, joined{ID: "bob"}); err != nil {
		t.Fatal(err)
	}
	if f := b.expect(wire.TypeEvt); decodeTree(t, f.Value).(map[string]any)["id"] != "bob" {
		t.Fatalf("event %+v", f)
	}
	if err := ev.EmitTo("nobody", joined{}); !errors.Is(err, hotstate.ErrUnknownClient) {
		t.Fatalf("EmitTo an unknown client: %v", err)
	}
	if ev.Name() != "user.joined" {
		t.Fatalf("Name() = %q", ev.Name())
	}

	for name, want := range map[string]error{"user.joined": hotstate.ErrDuplicate, "storeDeleted": hotstate.ErrReservedEvent} {
		func() {
			defer func() {
				err, _ := recover().(error)
				if !errors.Is(err, want) {
					t.Errorf("NewEvent(%q) panicked with %v, want %v", name, err, want)
				}
			}()
			hotstate.NewEvent[string](srv, name)
		}()
	}
}
