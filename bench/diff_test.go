// Package bench compares hotstate's update path with a generic JSON differ.
// It is a module of its own so that core does not depend on the competitor.
package bench

import (
	"bytes"
	"strconv"
	"testing"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/wI2L/jsondiff"
)

type item struct {
	ID   int      `json:"id"`
	Text string   `json:"text"`
	Done bool     `json:"done"`
	Tags []string `json:"tags"`
}

type state struct {
	Items []item `json:"items"`
}

func newState(n int) state {
	s := state{Items: make([]item, n)}
	for i := range s.Items {
		s.Items[i] = item{ID: i, Text: "item number " + strconv.Itoa(i), Done: i%3 == 0, Tags: []string{"home", "t" + strconv.Itoa(i%7)}}
	}
	return s
}

// BenchmarkUpdateDiff measures what one change to a 10 000-item store costs
// to turn into a patch. hotstate clones the state, changes one field,
// diffs and encodes the ops; jsondiff compares the same two states.
func BenchmarkUpdateDiff(b *testing.B) {
	const n = 10_000
	b.Run("hotstate", func(b *testing.B) {
		cur := newState(n)
		var buf bytes.Buffer
		enc := msgpack.NewEncoder(&buf)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			next := wire.Clone(cur)
			it := &next.Items[i%n]
			it.Done = !it.Done
			ops, err := wire.Diff(cur, next)
			if err != nil || len(ops) != 1 {
				b.Fatalf("ops %v, err %v", ops, err)
			}
			buf.Reset()
			if err := wire.EncodeOps(enc, ops); err != nil {
				b.Fatal(err)
			}
			cur = next
			i += 7919
		}
	})
	// The whole Store.Update path: lock, clone, diff, encode the patch
	// frame once, record it for resume, queue it to subscribers (none here).
	b.Run("store-update", func(b *testing.B) {
		srv := hotstate.New()
		store := hotstate.NewStore(srv, "Items", newState(n))
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			k := i % n
			if err := store.Update(func(s *state) { s.Items[k].Done = !s.Items[k].Done }); err != nil {
				b.Fatal(err)
			}
			i += 7919
		}
	})
	b.Run("jsondiff", func(b *testing.B) {
		cur := newState(n)
		next := wire.Clone(cur)
		next.Items[n/2].Done = !next.Items[n/2].Done
		b.ReportAllocs()
		for b.Loop() {
			patch, err := jsondiff.Compare(cur, next)
			if err != nil || len(patch) != 1 {
				b.Fatalf("patch %v, err %v", patch, err)
			}
		}
	})
}
