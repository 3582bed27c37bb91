package hotclient_test

import (
	"net/http"
	"testing"

	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotclient "github.com/hotstate/hotstate/client-go"
	hotstate "github.com/hotstate/hotstate/core"
)

// TestPresenceFromTheGoClient: a Go client follows who is in a room as
// other clients join and leave, over real WebSockets.
func TestPresenceFromTheGoClient(t *testing.T) {
	srv := hotstate.New(hotstate.WithHeartbeat(0))
	type member struct {
		Name string `json:"name"`
	}
	rooms := hotstate.NewFamily(srv, "Room:*", Room{Messages: []string{}}).
		Presence(func(c hotstate.Caller) (string, any) {
			name, _ := c.Identity.(string)
			return name, member{Name: name}
		})
	addr, _ := serveOn(t, srv, "127.0.0.1:0", hothttp.WithIdentity(func(r *http.Request) (any, error) {
		return r.URL.Query().Get("user"), nil
	}))
	watcher := dial(t, "ws://"+addr+"/?user=watcher")
	list := hotclient.SubscribePresence[member](watcher, "Room:lobby", nil)
	if err := list.Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	ada := dial(t, "ws://"+addr+"/?user=ada")
	room := ada.Subscribe("Room:lobby", nil)
	if err := room.Ready(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ada listed", func() bool { return list.State()["ada"].Name == "ada" })

	// An event to the room's members reaches ada, not the watcher, who
	// follows the list but is not in the room.
	heard := make(chan string, 2)
	ada.On("typing", func(data any) { heard <- "ada" })
	watcher.On("typing", func(data any) { heard <- "watcher" })
	marker := make(chan struct{})
	watcher.On("marker", func(any) { close(marker) })
	if err := rooms.Emit("lobby", "typing", member{Name: "ada"}); err != nil {
		t.Fatal(err)
	}
	// Events reach a connection in order: once the watcher has the marker,
	// sent after the room's event, it would have had that one too.
	if err := srv.Emit("marker", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-marker:
	case <-ctxT(t).Done():
		t.Fatal("no marker")
	}
	select {
	case who := <-heard:
		if who != "ada" {
			t.Fatalf("%s heard the room's event", who)
		}
	case <-ctxT(t).Done():
		t.Fatal("the room's event did not reach ada")
	}
	if len(heard) != 0 {
		t.Fatalf("the event reached %s too", <-heard)
	}
	room.Unsubscribe()
	eventually(t, "ada gone", func() bool { _, in := list.State()["ada"]; return !in })
}
