package hotinspect_test

import (
	"testing"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	hotinspect "github.com/hotstate/hotstate/inspector"
)

// BenchmarkObserverUnwatched is what the server's hot paths pay for the
// inspector while no page is open: one call of each function it observes.
func BenchmarkObserverUnwatched(b *testing.B) {
	o := hotinspect.New().Observer()
	change := hotstate.ChangeInfo{Store: "Room:*", Instance: "Room:general", Version: 7, Bytes: 150, Subscribers: 1000}
	call := hotstate.CallInfo{Function: "todos.add", Duration: time.Millisecond, Code: "ok", ClientID: "abc"}
	appended := hotstate.AppendInfo{Instance: "Room:general", Duration: time.Microsecond}
	b.ReportAllocs()
	for b.Loop() {
		o.ChangeApplied(change)
		o.CallDone(call)
		o.EngineAppended(appended)
		o.EventEmitted(hotstate.EventInfo{Channel: "typing"})
		o.ConnOpened(hotstate.ConnOpenedInfo{ClientID: "abc"})
		o.ConnClosed(hotstate.ConnClosedInfo{ClientID: "abc"})
	}
}

type counter struct {
	N int `json:"n"`
}

// BenchmarkUpdate is a store change on a server without an observer and
// on one with the inspector's while no page is open: the difference is
// what installing the inspector costs a change (its ChangeApplied, and the
// timing of Engine.Append that an EngineAppended observer turns on).
func BenchmarkUpdate(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []hotstate.Option
	}{
		{"none", nil},
		{"inspector-unwatched", []hotstate.Option{hotstate.WithObserver(hotinspect.New().Observer())}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := hotstate.New(bc.opts...)
			s := hotstate.NewStore(srv, "Counter", counter{})
			s.Init()
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Update(func(c *counter) { c.N++ }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
