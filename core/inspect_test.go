package hotstate_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// TestInspection: Sessions and Instances describe what a connection holds
// and what it did, the observer names the instance, version and caller of
// what happened, and Disconnect closes the connection.
func TestInspection(t *testing.T) {
	var mu sync.Mutex
	var changes []hotstate.ChangeInfo
	var calls []hotstate.CallInfo
	var events []hotstate.EventInfo
	srv := hotstate.New(hotstate.WithObserver(&hotstate.Observer{
		ChangeApplied: func(i hotstate.ChangeInfo) { mu.Lock(); changes = append(changes, i); mu.Unlock() },
		CallDone:      func(i hotstate.CallInfo) { mu.Lock(); calls = append(calls, i); mu.Unlock() },
		EventEmitted:  func(i hotstate.EventInfo) { mu.Lock(); events = append(events, i); mu.Unlock() },
	}))
	rooms := hotstate.NewFamily(srv, "Room:*", obsRoom{Messages: []string{}})
	hotstate.Handle(srv, "post", func(ctx context.Context, text string) (bool, error) {
		return true, rooms.Update("general", func(r *obsRoom) { r.Messages = append(r.Messages, text) })
	})

	c := connectAs(t, srv, "alice")
	c.send(wire.EncodeSub("Room:general"))
	c.expect(wire.TypeSnap)
	rpc, _ := wire.EncodeRPC(1, "post", "hi")
	c.send(rpc)
	c.expect(wire.TypePatch)
	c.expect(wire.TypeRes)
	if err := rooms.Emit("general", "typing", "alice"); err != nil {
		t.Fatal(err)
	}
	c.expect(wire.TypeEvt)

	sessions := srv.Sessions()
	if len(sessions) != 1 {
		t.Fatalf("%d sessions, want 1", len(sessions))
	}
	s := sessions[0]
	if s.ClientID != c.id || s.RemoteAddr != "pipe" || s.Identity != "alice" || !slices.Equal(s.Subscriptions, []string{"Room:general"}) {
		t.Errorf("session %+v", s)
	}
	if s.FramesIn != 2 || s.FramesOut != 5 { // sub, rpc; hello, snap, patch, res, evt
		t.Errorf("frames in %d, out %d; want 2 and 5", s.FramesIn, s.FramesOut)
	}
	inst := srv.Instances()
	if len(inst) != 1 || inst[0].Name != "Room:general" || inst[0].Store != "Room:*" || inst[0].Version != 1 || inst[0].Subscribers != 1 || inst[0].Bytes == 0 || inst[0].Epoch == 0 {
		t.Errorf("instances %+v", inst)
	}
	mu.Lock()
	if n := len(changes); n != 2 || changes[1].Instance != "Room:general" || changes[1].Version != 1 {
		t.Errorf("changes %+v", changes)
	}
	if len(calls) != 1 || calls[0].ClientID != c.id {
		t.Errorf("calls %+v", calls)
	}
	if len(events) != 1 || events[0] != (hotstate.EventInfo{Channel: "typing", Store: "Room:general"}) {
		t.Errorf("events %+v", events)
	}
	mu.Unlock()

	if !srv.Disconnect(c.id) || srv.Disconnect("nobody") {
		t.Fatal("Disconnect did not find the client, or found one that is not there")
	}
	within(t, "the connection closed", func() bool { return len(srv.Sessions()) == 0 })
	if _, ok := srv.Engine().(interface {
		Publish(context.Context, string, []byte) error
	}); !ok {
		t.Error("Engine returned no engine")
	}
}
