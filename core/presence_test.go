package hotstate_test

import (
	"reflect"
	"testing"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// TestPresence: "presence:Room:a" lists the members of Room:a, patched as
// they come and go; two connections of one user are one member; a quick
// reconnect does not flap the list; the room's own rule guards the list.
func TestPresence(t *testing.T) {
	const grace = 200 * time.Millisecond
	srv := hotstate.New(hotstate.WithHeartbeat(grace))
	rooms := hotstate.NewFamily(srv, "Room:*", room{Messages: []string{}}).
		Allow(func(c hotstate.Caller, key string) bool { return key == "a" }).
		Presence(func(c hotstate.Caller) (string, any) {
			name, _ := c.Identity.(string)
			return name, map[string]string{"name": name}
		})
	watcher := connectAs(t, srv, "watcher")
	watcher.send(wire.EncodeSub("presence:Room:a"))
	if s := watcher.expect(wire.TypeSnap); !reflect.DeepEqual(decodeTree(t, s.Value), map[string]any{}) {
		t.Fatalf("empty list %v", decodeTree(t, s.Value))
	}
	expectOp := func(op wire.OpCode, path string) {
		t.Helper()
		f := watcher.expect(wire.TypePatch)
		if len(f.Ops) != 1 || f.Ops[0].Op != op || f.Ops[0].Path != path {
			t.Fatalf("patch %+v, want %v %s", f.Ops, op, path)
		}
	}
	ada1, ada2 := connectAs(t, srv, "ada"), connectAs(t, srv, "ada")
	ada1.send(wire.EncodeSub("Room:a"))
	ada1.expect(wire.TypeSnap)
	expectOp(wire.OpAdd, "/ada")
	ada2.send(wire.EncodeSub("Room:a")) // the same member: no patch
	ada2.expect(wire.TypeSnap)
	if err := rooms.UpdatePresence("a", "ada", map[string]string{"name": "ada", "typing": "yes"}); err != nil {
		t.Fatal(err)
	}
	expectOp(wire.OpAdd, "/ada/typing")

	// Both of ada's connections go, one comes back within the grace
	// period: nothing changes for the watcher.
	ada1.close()
	ada2.send(wire.EncodeUnsub("Room:a"))
	back := connectAs(t, srv, "ada")
	back.send(wire.EncodeSub("Room:a"))
	back.expect(wire.TypeSnap)
	bob := connectAs(t, srv, "bob")
	bob.send(wire.EncodeSub("Room:a"))
	bob.expect(wire.TypeSnap)
	expectOp(wire.OpAdd, "/bob") // the next change is bob's, not ada leaving
	// Gone for longer than the grace period: removed.
	bob.close()
	expectOp(wire.OpRemove, "/bob")

	// The list of a room the caller may not enter is refused like the room.
	watcher.send(wire.EncodeSub("presence:Room:b"))
	if f := watcher.expect(wire.TypeErr); f.Err.Code != wire.CodeForbidden {
		t.Fatalf("presence of a forbidden room: %+v", f.Err)
	}
	// Deleting the room ends its list.
	rooms.Delete("a")
	watcher.expect(wire.TypeDel)
}

// TestPresenceListenerCallsBack: a store listener that calls back into
// stores when the presence list is created cannot deadlock the tracker.
func TestPresenceListenerCallsBack(t *testing.T) {
	srv := hotstate.New(hotstate.WithHeartbeat(0))
	rooms := hotstate.NewFamily(srv, "Room:*", room{Messages: []string{}}).
		Presence(func(c hotstate.Caller) (string, any) { return c.ID, true })
	srv.OnStoreCreated(func(name, key string) {
		rooms.Has(key)
		_ = rooms.UpdatePresence(key, "nobody", false) // reaches the tracker
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		c := connect(t, srv)
		c.send(wire.EncodeSub("Room:x"))
		c.expect(wire.TypeSnap)
		c.send(wire.EncodeUnsub("Room:x"))
		c.close()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("presence with a listener calling back hung")
	}
}
