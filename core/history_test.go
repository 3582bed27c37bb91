package hotstate

import (
	"fmt"
	"testing"
)

func TestHistoryBounds(t *testing.T) {
	h := history{maxCount: 3, maxBytes: 10}
	frame := func(v uint64) []byte { return []byte(fmt.Sprintf("p%d", v)) }
	for v := uint64(1); v <= 5; v++ {
		h.add(v, frame(v))
	}
	for _, c := range []struct {
		from, current uint64
		want          []string
		ok            bool
	}{
		{5, 5, nil, true},
		{4, 5, []string{"p5"}, true},
		{2, 5, []string{"p3", "p4", "p5"}, true},
		{1, 5, nil, false}, // p2 was evicted: only a snapshot helps
		{6, 5, nil, false}, // ahead of the server: not ours
		{4, 6, nil, false}, // history does not reach the current version
	} {
		got, ok := h.since(c.from, c.current)
		if ok != c.ok || fmt.Sprint(toStrings(got)) != fmt.Sprint(c.want) {
			t.Errorf("since(%d, %d) = %q, %v; want %q, %v", c.from, c.current, toStrings(got), ok, c.want, c.ok)
		}
	}
	h.add(6, []byte("0123456789abc")) // larger than the byte bound
	if _, ok := h.since(5, 6); ok {
		t.Fatal("an oversize frame must clear the history")
	}
	h.add(7, frame(7))
	h.add(9, frame(9)) // a gap restarts the history
	if got, ok := h.since(8, 9); !ok || len(got) != 1 {
		t.Fatalf("after a gap: %q %v", toStrings(got), ok)
	}
	if _, ok := h.since(7, 9); ok {
		t.Fatal("range across a gap must not resume")
	}
}

func TestHistoryDisabled(t *testing.T) {
	h := history{}
	h.add(1, []byte("x"))
	if _, ok := h.since(0, 1); ok {
		t.Fatal("disabled history resumed")
	}
}

func toStrings(frames [][]byte) []string {
	var s []string
	for _, f := range frames {
		s = append(s, string(f))
	}
	return s
}
