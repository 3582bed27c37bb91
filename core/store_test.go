package hotstate_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	hotstate "github.com/hotstate/hotstate/core"
)

type config struct {
	Theme string `json:"theme"`
	Lang  string `json:"lang,omitempty"`
}

type room struct {
	Name     string   `json:"name"`
	Messages []string `json:"messages"`
}

func TestStoreLifecycle(t *testing.T) {
	srv := hotstate.New()
	var events []string
	cfg := hotstate.NewStore(srv, "Config", config{Theme: "dark"})
	cfg.OnCreate(func(c *config) {
		events = append(events, "create:")
		c.Lang = "en"
	}).OnTerminate(func() {
		events = append(events, "terminate:"+cfg.Get().Theme)
	})

	if cfg.IsInitialized() || cfg.Has() {
		t.Fatal("store initialised before first use")
	}
	if got := cfg.Get(); got != (config{Theme: "dark"}) {
		t.Fatalf("Get before use = %+v, want raw defaults", got)
	}
	cfg.Init()
	if !cfg.IsInitialized() || !cfg.Has() {
		t.Fatal("Init did not initialise")
	}
	if got := cfg.Get(); got != (config{Theme: "dark", Lang: "en"}) {
		t.Fatalf("Get after Init = %+v, want OnCreate overrides merged", got)
	}
	if err := cfg.Update(func(c *config) { c.Theme = "light" }); err != nil {
		t.Fatal(err)
	}
	cfg.Reset()
	if cfg.IsInitialized() {
		t.Fatal("Reset left the store initialised")
	}
	if got := cfg.Get(); got != (config{Theme: "dark"}) {
		t.Fatalf("Get after Reset = %+v, want raw defaults", got)
	}
	if err := cfg.Set(config{Theme: "blue"}); err != nil { // a mutation: OnCreate runs first
		t.Fatal(err)
	}
	if !cfg.Delete() || cfg.Has() || cfg.Delete() {
		t.Fatal("Delete did not remove the store exactly once")
	}
	want := []string{"create:", "terminate:light", "create:", "terminate:blue"}
	if !slices.Equal(events, want) {
		t.Fatalf("hooks ran %q, want %q", events, want)
	}
}

func TestFamilyInstancesAreIndependent(t *testing.T) {
	srv := hotstate.New()
	var created []string
	srv.OnStoreCreated(func(name, key string) { created = append(created, name+"|"+key) })
	rooms := hotstate.NewFamily(srv, "Room:*", room{Messages: []string{}})
	rooms.OnCreate(func(key string, r *room) { r.Name = key })

	if err := rooms.Update("a", func(r *room) { r.Messages = append(r.Messages, "hi") }); err != nil {
		t.Fatal(err)
	}
	rooms.Init("b")
	if got := rooms.Get("b"); got.Name != "b" || len(got.Messages) != 0 {
		t.Fatalf("room b = %+v; instances must not share state", got)
	}
	if got := rooms.Get("a"); got.Name != "a" || !slices.Equal(got.Messages, []string{"hi"}) {
		t.Fatalf("room a = %+v", got)
	}
	if got := srv.ListStores(); !slices.Equal(got, []string{"Room:a", "Room:b"}) {
		t.Fatalf("ListStores = %q", got)
	}
	if !srv.HasStore("Room:a") || srv.HasStore("Room:c") || srv.HasStore("Nope") {
		t.Fatal("HasStore wrong")
	}
	h, ok := srv.Lookup("Room:a")
	if !ok || h.Get().(room).Name != "a" {
		t.Fatal("Lookup did not find Room:a")
	}
	if !srv.DeleteStore("Room:a") || rooms.Has("a") {
		t.Fatal("DeleteStore did not delete Room:a")
	}
	if !slices.Equal(created, []string{"Room:a|a", "Room:b|b"}) {
		t.Fatalf("storeCreated events %q", created)
	}
}

func TestGetReturnsACopy(t *testing.T) {
	srv := hotstate.New()
	rooms := hotstate.NewFamily(srv, "Room:*", room{Messages: []string{}})
	if err := rooms.Update("x", func(r *room) { r.Messages = append(r.Messages, "one") }); err != nil {
		t.Fatal(err)
	}
	got := rooms.Get("x")
	got.Messages[0] = "changed"
	if rooms.Get("x").Messages[0] != "one" {
		t.Fatal("mutating Get's result changed the store")
	}
}

func TestRegistrationPanics(t *testing.T) {
	srv := hotstate.New()
	hotstate.NewStore(srv, "Todos", 0)
	for name, fn := range map[string]func(){
		"duplicate store":    func() { hotstate.NewStore(srv, "Todos", 0) },
		"star in static":     func() { hotstate.NewStore(srv, "A*B", 0) },
		"bare star":          func() { hotstate.NewFamily(srv, "*", 0) },
		"duplicate function": func() { srv.HandleFunc("f", noop); srv.HandleFunc("f", noop) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				v := recover()
				if v == nil {
					t.Fatal("no panic")
				}
				err, _ := v.(error)
				if dup := strings.HasPrefix(name, "duplicate"); dup != errors.Is(err, hotstate.ErrDuplicate) {
					t.Fatalf("panic %v: matches ErrDuplicate %v, want %v", v, !dup, dup)
				}
			}()
			fn()
		})
	}
}

func noop(context.Context, any) (any, error) { return nil, nil }
