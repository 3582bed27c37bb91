package hotclient

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/hotstate/hotstate/core/wire"
)

// These tests feed the client frames the server's own encoders produce,
// for the sequences a live server rarely shows on demand: duplicates,
// version gaps and epoch changes.

// offline returns a client with a connection whose queue is never written,
// so the frames the client sends can be inspected.
func offline(t *testing.T) (*Client, *conn) {
	c := New()
	t.Cleanup(func() { _ = c.Close() })
	cn := newConn(nil)
	c.mu.Lock()
	c.conn = cn
	c.mu.Unlock()
	return c, cn
}

func feed(t *testing.T, c *Client, b []byte, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	f, err := wire.DecodeDepth(b, wire.MaxStateDepth)
	if err != nil {
		t.Fatal(err)
	}
	c.handle(f)
}

func snap(t *testing.T, c *Client, epoch, version uint64, state any) {
	t.Helper()
	b, err := wire.EncodeSnap("S", epoch, version, state)
	feed(t, c, b, err)
}

func patch(t *testing.T, c *Client, epoch, version uint64, ops ...wire.Op) {
	t.Helper()
	b, err := wire.EncodePatch("S", epoch, version, ops)
	feed(t, c, b, err)
}

func set(path string, v any) wire.Op { return wire.Op{Op: wire.OpReplace, Path: path, Value: v} }

// sent returns the frames the client queued since the last call.
func sent(t *testing.T, cn *conn) []wire.Frame {
	t.Helper()
	var out []wire.Frame
	for _, b := range cn.take() {
		f, err := wire.DecodeDepth(b, wire.MaxStateDepth)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

func expectSub(t *testing.T, cn *conn) {
	t.Helper()
	fs := sent(t, cn)
	if len(fs) != 1 || fs[0].Type != wire.TypeSub || fs[0].Store != "S" || fs[0].Resume {
		t.Fatalf("sent %+v, want one plain sub", fs)
	}
}

func state(h *Subscription) any { return h.ServerState() }

func TestPatchSequencing(t *testing.T) {
	c, cn := offline(t)
	h := c.Subscribe("S", nil)
	expectSub(t, cn)

	patch(t, c, 1, 1, set("/n", int64(1)))
	if h.HasData() {
		t.Fatal("a patch before the snapshot was used")
	}
	snap(t, c, 1, 5, map[string]any{"n": int64(5)})
	patch(t, c, 1, 5, set("/n", int64(-1))) // duplicate
	patch(t, c, 1, 6, set("/n", int64(6)))
	if got := state(h); !reflect.DeepEqual(got, map[string]any{"n": int64(6)}) {
		t.Fatalf("state %v", got)
	}
	if fs := sent(t, cn); len(fs) != 0 {
		t.Fatalf("sent %+v", fs)
	}

	// A gap: the client keeps its last consistent state, asks for a
	// snapshot and ignores patches until it comes.
	patch(t, c, 1, 8, set("/n", int64(8)))
	expectSub(t, cn)
	patch(t, c, 1, 9, set("/n", int64(9)))
	if got := state(h); !reflect.DeepEqual(got, map[string]any{"n": int64(6)}) {
		t.Fatalf("state during resync %v", got)
	}
	snap(t, c, 1, 9, map[string]any{"n": int64(9)})
	patch(t, c, 1, 10, set("/n", int64(10)))
	if got := state(h); !reflect.DeepEqual(got, map[string]any{"n": int64(10)}) {
		t.Fatalf("state after resync %v", got)
	}

	// Another epoch: resync.
	patch(t, c, 2, 11, set("/n", int64(11)))
	expectSub(t, cn)
	snap(t, c, 2, 0, map[string]any{"n": int64(0)})

	// A patch that does not apply: resync.
	patch(t, c, 2, 1, wire.Op{Op: wire.OpRemove, Path: "/missing"})
	expectSub(t, cn)
	snap(t, c, 2, 1, map[string]any{"n": int64(1)})

	// A path through a key JavaScript clients must refuse: resync too. The
	// encoder will not write one, so the frame is edited after encoding.
	b, err := wire.EncodePatch("S", 2, 2, []wire.Op{{Op: wire.OpAdd, Path: "/xxproto__", Value: int64(1)}})
	feed(t, c, bytes.Replace(b, []byte("/xxproto__"), []byte("/__proto__"), 1), err)
	expectSub(t, cn)
}

func TestResubscribeOffersHeldVersion(t *testing.T) {
	c, cn := offline(t)
	c.Subscribe("S", nil)
	c.Subscribe("T", nil)
	sent(t, cn)
	snap(t, c, 3, 7, map[string]any{})

	next := newConn(nil)
	if !c.attach(next, wire.Frame{Type: wire.TypeHello, Protocol: 1, Client: "x"}) {
		t.Fatal("attach refused")
	}
	byStore := map[string]wire.Frame{}
	for _, f := range sent(t, next) {
		byStore[f.Store] = f
	}
	if f := byStore["S"]; !f.Resume || f.Epoch != 3 || f.Version != 7 {
		t.Fatalf("S: %+v, want a resume from 3/7", f)
	}
	if f := byStore["T"]; f.Type != wire.TypeSub || f.Resume {
		t.Fatalf("T: %+v, want a plain sub", f)
	}
	if c.ID() != "x" {
		t.Fatalf("id %q", c.ID())
	}
}
