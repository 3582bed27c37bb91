package hotstate_test

import (
	"context"
	"encoding/json"
	"reflect"
	"sync"
	"testing"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// rivalEngine is an engine shared with a writer on another node: before
// an append it may let the rival commit a change of its own at the same
// position, so the server's append meets a conflict as it would in a
// cluster.
type rivalEngine struct {
	*hotstate.MemoryEngine
	mu    sync.Mutex
	rival func(prev hotstate.Position) []byte // a frame to commit first, or nil
}

func (e *rivalEngine) Append(ctx context.Context, name string, prev hotstate.Position, c hotstate.Change) error {
	e.mu.Lock()
	rival := e.rival
	e.rival = nil
	e.mu.Unlock()
	if rival != nil {
		frame := rival(prev)
		at := hotstate.Position{Epoch: prev.Epoch, Version: prev.Version + 1}
		if wire.TypeOf(frame) == wire.TypeDel {
			at = hotstate.Position{}
		}
		if err := e.MemoryEngine.Append(ctx, name, prev, hotstate.Change{Position: at, Frame: frame}); err != nil {
			return err
		}
	}
	return e.MemoryEngine.Append(ctx, name, prev, c)
}

func (e *rivalEngine) next(rival func(prev hotstate.Position) []byte) {
	e.mu.Lock()
	e.rival = rival
	e.mu.Unlock()
}

type journal struct {
	N   int      `json:"n"`
	Log []string `json:"log"`
}

// follow keeps a subscriber's copy of "J" the way clients do and returns
// it once it has reached version v.
func follow(t *testing.T, c *client, doc *any, v uint64) {
	t.Helper()
	for {
		f := c.next()
		switch f.Type {
		case wire.TypeSnap:
			*doc = decodeTree(t, f.Value)
		case wire.TypePatch:
			next, err := wire.Apply(*doc, f.Ops)
			if err != nil {
				t.Fatalf("patch %d does not apply: %v", f.Version, err)
			}
			*doc = next
		default:
			continue
		}
		if f.Version == v {
			return
		}
	}
}

func decodeTree(t *testing.T, raw []byte) any {
	t.Helper()
	v, err := wire.DecodeAny(raw)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func sameJSON(t *testing.T, tree any, want journal) {
	t.Helper()
	a, _ := json.Marshal(tree)
	b, _ := json.Marshal(want)
	var x, y any
	_ = json.Unmarshal(a, &x)
	_ = json.Unmarshal(b, &y)
	if !reflect.DeepEqual(x, y) {
		t.Fatalf("subscriber holds %s, server %s", a, b)
	}
}

// TestUpdateCatchesUpAfterAConflict: when another node committed first,
// Update takes that change (applied to the typed state, sent to
// subscribers) and runs its function again on the newer state.
func TestUpdateCatchesUpAfterAConflict(t *testing.T) {
	eng := &rivalEngine{MemoryEngine: hotstate.NewMemoryEngine(256, 1<<20)}
	srv := hotstate.New(hotstate.WithEngine(eng))
	j := hotstate.NewStore(srv, "J", journal{Log: []string{}})
	c := connect(t, srv)
	c.send(wire.EncodeSub("J"))
	var doc any
	follow(t, c, &doc, 0)

	// A patch from the rival: Since brings it, ApplyTo applies it.
	eng.next(func(prev hotstate.Position) []byte {
		return must(wire.EncodePatch("J", prev.Epoch, prev.Version+1, []wire.Op{
			{Op: wire.OpAdd, Path: "/log/-", Value: "rival"},
			{Op: wire.OpReplace, Path: "/n", Value: 10},
		}))
	})
	runs := 0
	if err := j.Update(func(s *journal) { runs++; s.N++; s.Log = append(s.Log, "ours") }); err != nil {
		t.Fatal(err)
	}
	want := journal{N: 11, Log: []string{"rival", "ours"}}
	if got := j.Get(); runs != 2 || !reflect.DeepEqual(got, want) {
		t.Fatalf("fn ran %d times, state %+v; want 2 and %+v", runs, got, want)
	}
	follow(t, c, &doc, 2)
	sameJSON(t, doc, want)

	// A Set from the rival: a snapshot in the log, so the state is loaded.
	eng.next(func(prev hotstate.Position) []byte {
		return must(wire.EncodeSnap("J", prev.Epoch, prev.Version+1, journal{N: 100, Log: []string{"reset"}}))
	})
	if err := j.Update(func(s *journal) { s.N++ }); err != nil {
		t.Fatal(err)
	}
	want = journal{N: 101, Log: []string{"reset"}}
	if got := j.Get(); !reflect.DeepEqual(got, want) {
		t.Fatalf("after the rival's Set: %+v, want %+v", got, want)
	}
	follow(t, c, &doc, 4)
	sameJSON(t, doc, want)

	// A delete from the rival: this copy ends (del), and the update makes
	// the store anew.
	eng.next(func(prev hotstate.Position) []byte { return wire.EncodeDel("J") })
	if err := j.Update(func(s *journal) { s.Log = append(s.Log, "again") }); err != nil {
		t.Fatal(err)
	}
	if got := j.Get(); !reflect.DeepEqual(got, journal{Log: []string{"again"}}) {
		t.Fatalf("after the rival's delete: %+v", got)
	}
	c.expect(wire.TypeDel)
}

// TestUpdateOpsCatchesUpAfterAConflict: UpdateOps changes the state in
// place, so losing the race to another node means loading the log's state
// and running the function again on it.
func TestUpdateOpsCatchesUpAfterAConflict(t *testing.T) {
	eng := &rivalEngine{MemoryEngine: hotstate.NewMemoryEngine(256, 1<<20)}
	srv := hotstate.New(hotstate.WithEngine(eng))
	j := hotstate.NewStore(srv, "J", journal{Log: []string{}})
	j.Init()
	eng.next(func(prev hotstate.Position) []byte {
		return must(wire.EncodePatch("J", prev.Epoch, prev.Version+1, []wire.Op{{Op: wire.OpReplace, Path: "/n", Value: 10}}))
	})
	runs := 0
	err := j.UpdateOps(func(s *journal) []hotstate.Op {
		runs++
		s.N++
		return []hotstate.Op{hotstate.ReplaceOp("/n", s.N)}
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := j.Get(); runs != 2 || got.N != 11 {
		t.Fatalf("fn ran %d times, n = %d; want 2 and 11", runs, got.N)
	}
}
