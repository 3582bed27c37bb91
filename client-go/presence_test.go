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
	hotstate.NewFamily(srv, "Room:*", Room{Messages: []string{}}).
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
	room.Unsubscribe()
	eventually(t, "ada gone", func() bool { _, in := list.State()["ada"]; return !in })
}
