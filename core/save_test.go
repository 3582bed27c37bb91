package hotstate_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
)

// savedRooms records what an OnSave hook was given.
type savedRooms struct {
	mu      sync.Mutex
	saved   map[string]room
	calls   atomic.Int32
	running atomic.Int32
	overlap atomic.Bool
	fail    atomic.Int32 // fail this many saves first
}

func (s *savedRooms) hook(ctx context.Context, key string, r room) error {
	s.calls.Add(1)
	if s.running.Add(1) > 1 {
		s.overlap.Store(true)
	}
	defer s.running.Add(-1)
	time.Sleep(time.Millisecond) // long enough for another save to overlap, were one allowed
	if s.fail.Add(-1) >= 0 {
		return errors.New("database unavailable")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.saved == nil {
		s.saved = map[string]room{}
	}
	s.saved[key] = r
	return nil
}

func (s *savedRooms) get(key string) (room, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.saved[key]
	return r, ok
}

// TestOnSaveDebounces: a burst of changes is saved once it goes quiet, as
// the last state; saves never overlap; a failed save is retried.
func TestOnSaveDebounces(t *testing.T) {
	var db savedRooms
	var failures atomic.Int32
	srv := hotstate.New(hotstate.WithSaveDelay(20*time.Millisecond, time.Second))
	srv.OnError(func(err error, _ string) { failures.Add(1) })
	rooms := hotstate.NewFamily(srv, "Room:*", room{Messages: []string{}}).OnSave(db.hook)
	rooms.Init("a")
	if _, ok := db.get("a"); ok {
		t.Fatal("creation was saved; only changes are")
	}
	for i := range 50 {
		if err := rooms.Update("a", func(r *room) { r.Messages = append(r.Messages, string(rune('a'+i%26))) }); err != nil {
			t.Fatal(err)
		}
	}
	within(t, "the save", func() bool { r, ok := db.get("a"); return ok && len(r.Messages) == 50 })
	if n := db.calls.Load(); n > 3 {
		t.Fatalf("%d saves for one burst", n)
	}
	// A failing save is reported and retried until it works.
	db.fail.Store(2)
	if err := rooms.Update("a", func(r *room) { r.Name = "renamed" }); err != nil {
		t.Fatal(err)
	}
	within(t, "the retried save", func() bool { r, _ := db.get("a"); return r.Name == "renamed" })
	if failures.Load() < 2 {
		t.Fatalf("%d failures reported, want 2", failures.Load())
	}
	if db.overlap.Load() {
		t.Fatal("two saves of one instance ran at once")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestOnSaveFlushes: Delete, Reset and Shutdown save what is unsaved
// without waiting for the quiet period.
func TestOnSaveFlushes(t *testing.T) {
	var db savedRooms
	srv := hotstate.New(hotstate.WithSaveDelay(time.Hour, time.Hour))
	rooms := hotstate.NewFamily(srv, "Room:*", room{Messages: []string{}}).OnSave(db.hook)
	for _, key := range []string{"deleted", "reset", "open"} {
		if err := rooms.Update(key, func(r *room) { r.Name = key }); err != nil {
			t.Fatal(err)
		}
	}
	rooms.Delete("deleted")
	rooms.Reset("reset")
	for _, key := range []string{"deleted", "reset"} {
		if r, ok := db.get(key); !ok || r.Name != key {
			t.Fatalf("%s saved as %+v, %v", key, r, ok)
		}
	}
	if _, ok := db.get("open"); ok {
		t.Fatal("saved before the quiet period")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if r, ok := db.get("open"); !ok || r.Name != "open" {
		t.Fatalf("Shutdown saved %+v, %v", r, ok)
	}
	if n := db.calls.Load(); n != 3 {
		t.Fatalf("%d saves, want 3", n)
	}
}
