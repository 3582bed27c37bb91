package hotstate_test

import (
	"context"
	"errors"
	"testing"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

type directory struct {
	Users map[string]int `json:"users"`
}

// TestReservedKeyLeavesStateAlone: a change that would put "__proto__"
// into a state is refused with ErrReservedKey, the state stays as it was,
// subscribers get nothing and new subscribers still get a snapshot.
func TestReservedKeyLeavesStateAlone(t *testing.T) {
	srv := hotstate.New()
	dir := hotstate.NewStore(srv, "Directory", directory{Users: map[string]int{}})
	srv.HandleFunc("join", func(_ context.Context, args any) (any, error) {
		name, _ := args.(string)
		return nil, dir.Update(func(d *directory) { d.Users[name] = len(d.Users) })
	})
	c := connect(t, srv)
	c.send(wire.EncodeSub("Directory"))
	c.expect(wire.TypeSnap)

	c.send(must(wire.EncodeRPC(1, "join", "__proto__")))
	res := c.expect(wire.TypeRes)
	if res.Err == nil || res.Err.Code != wire.CodeError {
		t.Fatalf("join __proto__ answered %+v, want an error", res)
	}
	if err := dir.Set(directory{Users: map[string]int{"__proto__": 1}}); !errors.Is(err, wire.ErrReservedKey) {
		t.Fatalf("Set = %v, want ErrReservedKey", err)
	}
	if got := dir.Get(); len(got.Users) != 0 {
		t.Fatalf("state changed: %+v", got)
	}
	c.send(must(wire.EncodeRPC(2, "join", "ada")))
	// The patch and the result may arrive in either order.
	for range 2 {
		if f := c.next(); f.Type == wire.TypePatch && (f.Version != 1 || f.Ops[0].Path != "/users/ada") {
			t.Fatalf("next patch %+v, want version 1 adding ada", f)
		}
	}
	late := connect(t, srv)
	late.send(wire.EncodeSub("Directory"))
	if s := late.expect(wire.TypeSnap); s.Version != 1 {
		t.Fatalf("late snapshot %+v", s)
	}
}

// TestReservedEventNames: events named like client lifecycle events would
// fire the JS client's lifecycle listeners, so Emit and EmitTo refuse them.
func TestReservedEventNames(t *testing.T) {
	srv := hotstate.New()
	c := connect(t, srv)
	id := c.id
	for _, name := range []string{"connected", "disconnected", "reconnecting", "error", "storeDeleted"} {
		if err := srv.Emit(name, nil); !errors.Is(err, hotstate.ErrReservedEvent) {
			t.Errorf("Emit(%q) = %v", name, err)
		}
		if err := srv.EmitTo(id, name, nil); !errors.Is(err, hotstate.ErrReservedEvent) {
			t.Errorf("EmitTo(%q) = %v", name, err)
		}
	}
	if err := srv.Emit("connectedUsers", 3); err != nil {
		t.Fatal(err)
	}
	if f := c.expect(wire.TypeEvt); f.Name != "connectedUsers" {
		t.Fatalf("event %+v", f)
	}
}

// TestSnapshotLargerThanQueue: one frame above WithMaxQueueBytes still
// reaches a subscriber that keeps up, and patches follow it.
func TestSnapshotLargerThanQueue(t *testing.T) {
	srv := hotstate.New(hotstate.WithMaxQueueBytes(64 << 10))
	big := make([]string, 2000)
	for i := range big {
		big[i] = "a line of text long enough to make the state larger than the queue"
	}
	doc := hotstate.NewStore(srv, "Doc", room{Messages: big})
	c := connect(t, srv)
	c.send(wire.EncodeSub("Doc"))
	if s := c.expect(wire.TypeSnap); len(s.Value) < 128<<10 {
		t.Fatalf("snapshot of %d bytes; the test needs one above the queue limit", len(s.Value))
	}
	for i := range 20 {
		if err := doc.Update(func(r *room) { r.Name = string(rune('a' + i)) }); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		if p := c.expect(wire.TypePatch); p.Version != uint64(i+1) {
			t.Fatalf("patch %+v, want version %d", p, i+1)
		}
	}
}
