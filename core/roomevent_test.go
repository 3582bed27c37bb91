package hotstate_test

import (
	"errors"
	"testing"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// TestEmitToMembers: an event emitted on one instance reaches its
// subscribers, after the changes sent before it, and nobody else.
func TestEmitToMembers(t *testing.T) {
	srv := hotstate.New()
	rooms := hotstate.NewFamily(srv, "Room:*", room{Messages: []string{}})
	a1, a2, b := connect(t, srv), connect(t, srv), connect(t, srv)
	for c, name := range map[*client]string{a1: "Room:a", a2: "Room:a", b: "Room:b"} {
		c.send(wire.EncodeSub(name))
		c.expect(wire.TypeSnap)
	}
	if err := rooms.Update("a", func(r *room) { r.Messages = append(r.Messages, "hi") }); err != nil {
		t.Fatal(err)
	}
	if err := rooms.Emit("a", "typing", map[string]string{"from": "ada"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{a1, a2} {
		c.expect(wire.TypePatch)
		f := c.expect(wire.TypeEvt)
		if f.Store != "Room:a" || f.Name != "typing" || decodeTree(t, f.Value).(map[string]any)["from"] != "ada" {
			t.Fatalf("event %+v", f)
		}
	}
	// b hears nothing of room a: the next frame it gets is its own room's.
	if err := rooms.Emit("b", "typing", nil); err != nil {
		t.Fatal(err)
	}
	if f := b.expect(wire.TypeEvt); f.Store != "Room:b" {
		t.Fatalf("b got %+v", f)
	}
	if err := rooms.Emit("a", "storeDeleted", nil); !errors.Is(err, hotstate.ErrReservedEvent) {
		t.Fatalf("reserved name: %v", err)
	}
	if err := rooms.Emit("nobody", "typing", nil); err != nil || rooms.Has("nobody") {
		t.Fatalf("emit to a missing room: %v, created %v", err, rooms.Has("nobody"))
	}
}
