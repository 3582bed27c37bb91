package wire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotstate/hotstate/core/wire"
)

type atBase struct {
	Version int    `json:"version"`
	Note    string `json:"note,omitempty"`
}

// atPoint is an array in JSON, through its own methods.
type atPoint struct{ X, Y int }

func (p atPoint) MarshalJSON() ([]byte, error) { return fmt.Appendf(nil, "[%d,%d]", p.X, p.Y), nil }

func (p *atPoint) UnmarshalJSON(b []byte) error {
	var xy [2]int
	if err := json.Unmarshal(b, &xy); err != nil {
		return err
	}
	p.X, p.Y = xy[0], xy[1]
	return nil
}

// atLabel is text in JSON: upper case there, lower case in Go.
type atLabel struct{ s string }

func (l atLabel) MarshalText() ([]byte, error) { return []byte(strings.ToUpper(l.s)), nil }

func (l *atLabel) UnmarshalText(b []byte) error {
	l.s = strings.ToLower(string(b))
	return nil
}

type atKey string

type atItem struct {
	ID    int64          `json:"id"`
	Text  string         `json:"text"`
	Done  bool           `json:"done"`
	Tags  []string       `json:"tags,omitempty"`
	Attrs map[string]int `json:"attrs,omitempty"`
	Next  *atItem        `json:"next,omitempty"`
	Score float64        `json:"score"`
	Ratio float32        `json:"ratio"`
	Any   any            `json:"any,omitempty"`
	When  time.Time      `json:"when"`
	Count int64          `json:"count,string"`
	At    atPoint        `json:"at"`
	Label atLabel        `json:"label"`
	Grid  [2]int8        `json:"grid"`
	Small uint16         `json:"small,omitzero"`
}

// atState has a place of every kind ApplyTo walks, and of every kind it
// hands to the reference.
type atState struct {
	atBase
	*Exported
	Title string             `json:"title"`
	Items []atItem           `json:"items"`
	ByKey map[string]*atItem `json:"byKey"`
	ByVal map[atKey]atItem   `json:"byVal,omitempty"`
	ByNum map[int][]int      `json:"byNum,omitempty"`
	Opt   *atBase            `json:"opt,omitempty"`
	Raw   []byte             `json:"raw,omitempty"`
	Tree  map[string]any     `json:"tree"`
	Zero  struct{ A int }    `json:"zero,omitzero"`
}

// applyViaTree is what ApplyTo must be equal to: the whole value to a
// tree, Apply, and the tree into a fresh T.
func applyViaTree[T any](v T, ops []wire.Op) (T, error) {
	var out T
	tree, err := wire.ToTree(v)
	if err != nil {
		return out, err
	}
	if tree, err = wire.Apply(tree, ops); err != nil {
		return out, err
	}
	err = wire.FromTree(tree, &out)
	return out, err
}

// canonical returns v as the wire delivers it: encoded and decoded.
// ApplyTo leaves the parts no op reaches alone, so only such values match
// the reference everywhere.
func canonical[T any](t testing.TB, v T) T {
	t.Helper()
	tree, err := wire.ToTree(v)
	if err != nil {
		t.Fatalf("ToTree: %v", err)
	}
	var out T
	if err := wire.FromTree(tree, &out); err != nil {
		t.Fatalf("FromTree: %v", err)
	}
	return out
}

// wireOps sends ops through a patch frame, so that their values are
// generic trees as a client receives them.
func wireOps(t testing.TB, ops []wire.Op) []wire.Op {
	t.Helper()
	b, err := wire.EncodePatch("s", 1, 2, ops)
	if err != nil {
		t.Fatalf("EncodePatch: %v", err)
	}
	f, err := wire.DecodeDepth(b, wire.MaxStateDepth)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return f.Ops
}

// checkApplyTo applies ops to a copy of v with ApplyTo and with the
// reference, and fails unless both fail, or both give the same value. On
// failure the copy must be unchanged. It returns ApplyTo's result.
func checkApplyTo[T any](t testing.TB, v T, ops []wire.Op) (T, error) {
	t.Helper()
	want, wantErr := applyViaTree(v, ops)
	got := wire.Clone(v)
	err := wire.ApplyTo(&got, ops)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("ApplyTo error %v, reference error %v\nops %v", err, wantErr, ops)
	}
	if err != nil {
		if !errors.Is(err, wire.ErrBadPatch) {
			t.Fatalf("error %v does not wrap ErrBadPatch", err)
		}
		if !reflect.DeepEqual(got, v) {
			t.Fatalf("failed ApplyTo changed its value\n got %+v\nwas  %+v\nops %v", got, v, ops)
		}
		return got, err
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ApplyTo differs from the reference\n got %+v\nwant %+v\nops %v", got, want, ops)
	}
	if !bytes.Equal(mpEncode(t, got), mpEncode(t, want)) {
		t.Fatalf("ApplyTo encodes unlike the reference; ops %v", ops)
	}
	return got, nil
}

func atFixture(t testing.TB) atState {
	return canonical(t, atState{
		atBase:   atBase{Version: 1},
		Exported: &Exported{E: 1},
		Title:    "todo",
		Items: []atItem{
			{ID: 1, Text: "a", Tags: []string{"x"}, At: atPoint{1, 2}, Grid: [2]int8{1, 2}, Label: atLabel{"one"}},
			{ID: 2, Text: "b"},
			{ID: 3, Text: "c", Any: map[string]any{"k": []any{1, 2}}},
		},
		ByKey: map[string]*atItem{"k": {ID: 9, Text: "k"}, "nil": nil},
		ByVal: map[atKey]atItem{"v": {ID: 8}},
		ByNum: map[int][]int{1: {1}},
		Tree:  map[string]any{"a": []any{1, "x"}, "m": map[string]any{"n": true}},
	})
}

func TestApplyTo(t *testing.T) {
	type ops = []wire.Op
	add := func(path string, v any) wire.Op { return wire.Op{Op: wire.OpAdd, Path: path, Value: v} }
	rep := func(path string, v any) wire.Op { return wire.Op{Op: wire.OpReplace, Path: path, Value: v} }
	rem := func(path string) wire.Op { return wire.Op{Op: wire.OpRemove, Path: path} }
	when := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name string
		ops  ops
		// want changes the fixture into the expected result; nil expects
		// an error, and the reference alone decides the ones marked
		// sameAsReference.
		want func(s *atState)
	}{
		{"field", ops{rep("/title", "done")}, func(s *atState) { s.Title = "done" }},
		{"promoted field", ops{rep("/version", int64(2))}, func(s *atState) { s.Version = 2 }},
		{"nested", ops{rep("/items/1/done", true)}, func(s *atState) { s.Items[1].Done = true }},
		{"float from integer", ops{rep("/items/1/score", int64(3))}, func(s *atState) { s.Items[1].Score = 3 }},
		{"float32", ops{rep("/items/1/ratio", 0.1)}, func(s *atState) { s.Items[1].Ratio = 0.1 }},
		{"integer overflow", ops{rep("/items/1/grid/0", int64(300))}, nil},
		{"wrong type", ops{rep("/items/1/done", "yes")}, nil},
		{"omitempty add", ops{add("/note", "hi")}, func(s *atState) { s.Note = "hi" }},
		{"omitempty absent", ops{rep("/note", "hi")}, nil},
		{"remove field", ops{rem("/title")}, func(s *atState) { s.Title = "" }},
		{"remove omitempty", ops{rem("/items/0/tags")}, func(s *atState) { s.Items[0].Tags = nil }},
		{"remove absent", ops{rem("/items/1/tags")}, nil},
		{"omitzero absent", ops{rep("/items/1/small", int64(1))}, nil},
		{"omitzero add", ops{add("/zero", map[string]any{"A": int64(4)})}, func(s *atState) { s.Zero.A = 4 }},
		{"pointer from nil", ops{add("/opt", map[string]any{"version": int64(3)})}, func(s *atState) { s.Opt = &atBase{Version: 3} }},
		{"through absent pointer", ops{add("/opt/note", "x")}, nil},
		{"through nil pointer", ops{add("/byKey/nil/text", "x")}, nil},
		{"through pointer", ops{rep("/byKey/k/text", "K")}, func(s *atState) { s.ByKey["k"].Text = "K" }},
		{"slice insert", ops{add("/items/1", map[string]any{"id": int64(7), "text": "new"})}, func(s *atState) {
			s.Items = slices.Insert(s.Items, 1, atItem{ID: 7, Text: "new"})
		}},
		{"slice append", ops{add("/items/-", map[string]any{"id": int64(7)})}, func(s *atState) { s.Items = append(s.Items, atItem{ID: 7}) }},
		{"slice add at length", ops{add("/items/3", map[string]any{"id": int64(7)})}, func(s *atState) { s.Items = append(s.Items, atItem{ID: 7}) }},
		{"slice add past length", ops{add("/items/4", map[string]any{})}, nil},
		{"slice remove", ops{rem("/items/0")}, func(s *atState) { s.Items = s.Items[1:] }},
		{"slice remove last one", ops{rem("/items/0/tags/0")}, func(s *atState) { s.Items[0].Tags = []string{} }},
		{"slice replace", ops{rep("/items/2", map[string]any{"id": int64(5)})}, func(s *atState) { s.Items[2] = atItem{ID: 5} }},
		{"slice replace past end", ops{rep("/items/3", map[string]any{})}, nil},
		{"slice remove dash", ops{rem("/items/-")}, nil},
		{"slice leading zero", ops{rep("/items/01/done", true)}, nil},
		{"array replace", ops{rep("/items/0/grid/1", int64(4))}, func(s *atState) { s.Items[0].Grid[1] = 4 }},
		{"array add cuts", ops{add("/items/0/grid/0", int64(9))}, func(s *atState) { s.Items[0].Grid = [2]int8{9, 1} }},
		{"array remove zero-fills", ops{rem("/items/0/grid/0")}, func(s *atState) { s.Items[0].Grid = [2]int8{2, 0} }},
		{"array out of range", ops{rep("/items/0/grid/2", int64(1))}, nil},
		{"map add", ops{add("/byKey/new", map[string]any{"id": int64(4)})}, func(s *atState) { s.ByKey["new"] = &atItem{ID: 4} }},
		{"map remove", ops{rem("/byKey/k")}, func(s *atState) { delete(s.ByKey, "k") }},
		{"map replace", ops{rep("/byKey/k", nil)}, func(s *atState) { s.ByKey["k"] = nil }},
		{"map replace missing", ops{rep("/byKey/x", nil)}, nil},
		{"map remove missing", ops{rem("/byKey/x")}, nil},
		{"map of structs", ops{rep("/byVal/v/done", true)}, func(s *atState) {
			v := s.ByVal["v"]
			v.Done = true
			s.ByVal["v"] = v
		}},
		{"named keys", ops{add("/byVal/w", map[string]any{"id": int64(1)})}, func(s *atState) { s.ByVal["w"] = atItem{ID: 1} }},
		{"integer keys", ops{add("/byNum/2", []any{int64(5)})}, func(s *atState) { s.ByNum[2] = []int{5} }},
		{"bad integer key", ops{add("/byNum/x", []any{})}, nil},
		{"whole", ops{rep("", map[string]any{"title": "new"})}, func(s *atState) { *s = atState{Title: "new"} }},
		{"whole remove", ops{rem("")}, nil},
		{"interface holding a tree", ops{add("/tree/m/o", int64(2))}, func(s *atState) { s.Tree["m"] = map[string]any{"n": true, "o": 2.0} }},
		{"interface deep", ops{rep("/items/2/any/k/1", "z")}, func(s *atState) { s.Items[2].Any = map[string]any{"k": []any{1.0, "z"}} }},
		{"interface replace", ops{rep("/items/2/any", []any{int64(1)})}, func(s *atState) { s.Items[2].Any = []any{1.0} }},
		{"tree member", ops{add("/tree/b", map[string]any{"c": nil})}, func(s *atState) { s.Tree["b"] = map[string]any{"c": nil} }},
		{"MarshalJSON leaf", ops{rep("/items/0/at", []any{int64(5), int64(6)})}, func(s *atState) { s.Items[0].At = atPoint{5, 6} }},
		{"into MarshalJSON", ops{rep("/items/0/at/1", int64(7))}, func(s *atState) { s.Items[0].At = atPoint{1, 7} }},
		{"into MarshalJSON past end", ops{rep("/items/0/at/2", int64(7))}, nil},
		{"MarshalText leaf", ops{rep("/items/0/label", "HELLO")}, func(s *atState) { s.Items[0].Label = atLabel{"hello"} }},
		{"MarshalText wrong type", ops{rep("/items/0/label", int64(1))}, nil},
		{"time", ops{rep("/items/0/when", "2024-01-02T03:04:05Z")}, func(s *atState) { s.Items[0].When = when }},
		{"bad time", ops{rep("/items/0/when", "yesterday")}, nil},
		{"string option", ops{rep("/items/0/count", "12")}, func(s *atState) { s.Items[0].Count = 12 }},
		{"string option unquoted", ops{rep("/items/0/count", int64(12))}, nil},
		{"bytes", ops{add("/raw", "aGk=")}, func(s *atState) { s.Raw = []byte("hi") }},
		{"bad bytes", ops{add("/raw", "!")}, nil},
		{"embedded pointer field", ops{rep("/E", int64(5))}, func(s *atState) { s.E = 5 }},
		{"embedded pointer emptied", ops{rem("/E"), rem("/F")}, func(s *atState) { s.Exported = nil }},
		{"embedded pointer made", ops{rem("/E"), rem("/F"), add("/F", int64(2))}, func(s *atState) { s.Exported = &Exported{F: 2} }},
		{"embedded pointer member removed", ops{rem("/E")}, func(s *atState) { s.E = 0 }},
		{"unknown member", ops{add("/nope", int64(1))}, func(*atState) {}},
		{"unknown member remove", ops{rem("/nope")}, nil},
		{"name in other case", ops{add("/TITLE", "x")}, sameAsReference},
		{"case of a value's keys", ops{add("/opt", map[string]any{"VERSION": int64(3)})}, func(s *atState) { s.Opt = &atBase{Version: 3} }},
		{"__proto__", ops{add("/tree/__proto__", int64(1))}, nil},
		{"bad escape", ops{rep("/items/~2", nil)}, nil},
		{"no slash", ops{rep("title", "x")}, nil},
		{"unknown op", ops{{Op: 3, Path: "/title", Value: "x"}}, nil},
		{"into a scalar", ops{add("/title/x", int64(1))}, nil},
		{"into null", ops{add("/items/0/next/id", int64(1))}, nil},
		{"in order", ops{
			add("/items/-", map[string]any{"id": int64(4)}),
			add("/items/3/text", "d"),
			rem("/items/0"),
			add("/byKey/n", map[string]any{"id": int64(5)}),
			add("/byKey/n/done", true),
		}, func(s *atState) {
			s.Items = append(s.Items[1:], atItem{ID: 4, Text: "d"})
			s.ByKey["n"] = &atItem{ID: 5, Done: true}
		}},
		{"last op fails", ops{
			rep("/title", "x"),
			add("/items/1", map[string]any{"id": int64(4)}),
			rem("/items/0/tags/0"),
			rem("/byKey/k"),
			rep("/byVal/v/id", int64(4)),
			add("/tree/a/0", "y"),
			rep("/nope/x", int64(1)),
		}, nil},
		{"removed member stays missing", ops{rem("/title"), rep("/title", "x")}, nil},
		{"member missing from a value", ops{add("/items/-", map[string]any{"id": int64(4)}), rep("/items/3/text", "d")}, nil},
		{"unknown member lives until the end", ops{add("/nope", map[string]any{"a": int64(1)}), rep("/nope/a", int64(2))}, func(*atState) {}},
		{"value fixed by a later op", ops{rep("/title", int64(5)), rep("/title", "ok")}, func(s *atState) { s.Title = "ok" }},
		{"bad value removed later", ops{add("/items/-", "bad"), rem("/items/3")}, func(*atState) {}},
		{"emptied omitempty field", ops{rem("/items/0/tags/0"), add("/items/0/tags/0", "y")}, func(s *atState) { s.Items[0].Tags = []string{"y"} }},
		{"array longer in the tree", ops{add("/items/0/grid/0", int64(9)), rem("/items/0/grid/2")}, func(s *atState) { s.Items[0].Grid = [2]int8{9, 1} }},
		{"empty value kept", ops{add("/note", ""), rep("/note", "n")}, func(s *atState) { s.Note = "n" }},
		{"null pointer kept", ops{rep("/byKey/k", nil), add("/byKey/k/id", int64(1))}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fix := atFixture(t)
			got, err := checkApplyTo(t, fix, c.ops)
			switch {
			case c.want == nil:
				if err == nil {
					t.Fatalf("no error; got %+v", got)
				}
			case err != nil:
				t.Fatal(err)
			case reflect.ValueOf(c.want).Pointer() != reflect.ValueOf(sameAsReference).Pointer():
				want := atFixture(t)
				c.want(&want)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("got  %+v\nwant %+v", got, want)
				}
			}
		})
	}
}

// A failing list takes back what it did, also where a slice had room to
// grow in place.
func TestApplyToUndo(t *testing.T) {
	s := atFixture(t)
	items := make([]atItem, len(s.Items), 10)
	copy(items, s.Items)
	s.Items = items
	before := wire.Clone(s)
	item := func(id int64) any { // whole, as Diff sends it
		tree, err := wire.ToTree(atItem{ID: id})
		if err != nil {
			t.Fatal(err)
		}
		return tree
	}
	err := wire.ApplyTo(&s, []wire.Op{
		{Op: wire.OpAdd, Path: "/items/1", Value: item(7)},
		{Op: wire.OpReplace, Path: "/items/2/text", Value: "x"},
		{Op: wire.OpRemove, Path: "/items/0"},
		{Op: wire.OpAdd, Path: "/items/-", Value: item(8)},
		{Op: wire.OpAdd, Path: "/items/1/tags", Value: []any{"t"}},
		{Op: wire.OpReplace, Path: "/byVal/v/text", Value: "y"},
		{Op: wire.OpAdd, Path: "/byKey/k/tags", Value: []any{"t"}},
		{Op: wire.OpReplace, Path: "/title", Value: int64(1)}, // does not decode
	})
	if !errors.Is(err, wire.ErrBadPatch) || !strings.Contains(err.Error(), "op 7") {
		t.Fatalf("error %v", err)
	}
	if !reflect.DeepEqual(s, before) || &s.Items[0] != &items[0] {
		t.Fatalf("not undone:\n got %+v\nwant %+v", s, before)
	}
}

// sameAsReference marks cases whose outcome the reference alone defines.
func sameAsReference(*atState) {}

func TestApplyToRoots(t *testing.T) {
	var n int
	if err := wire.ApplyTo(&n, []wire.Op{{Op: wire.OpReplace, Path: "", Value: int64(3)}}); err != nil || n != 3 {
		t.Fatalf("int root: %v, %d", err, n)
	}
	p := &atBase{Version: 1}
	if err := wire.ApplyTo(&p, []wire.Op{{Op: wire.OpReplace, Path: "/version", Value: int64(2)}}); err != nil || p.Version != 2 {
		t.Fatalf("pointer root: %v, %+v", err, p)
	}
	var tree any = map[string]any{"a": []any{1.0}}
	if err := wire.ApplyTo(&tree, []wire.Op{{Op: wire.OpAdd, Path: "/a/-", Value: int64(2)}}); err != nil ||
		!reflect.DeepEqual(tree, map[string]any{"a": []any{1.0, 2.0}}) {
		t.Fatalf("interface root: %v, %v", err, tree)
	}
	s := []int{1, 2}
	if err := wire.ApplyTo(&s, []wire.Op{{Op: wire.OpAdd, Path: "/0", Value: int64(0)}}); err != nil || !slices.Equal(s, []int{0, 1, 2}) {
		t.Fatalf("slice root: %v, %v", err, s)
	}
	if err := wire.ApplyTo[int](nil, nil); err == nil {
		t.Fatal("nil destination accepted")
	}
}

// Patches the differ makes, sent through a patch frame, turn a typed value
// into the new one, exactly: the encodings are the same bytes.
func TestApplyToDiffProperty(t *testing.T) {
	g := propGen{rand.New(rand.NewPCG(5, 6))}
	multi := 0
	for i := range 2000 {
		old := canonical(t, g.atState())
		var new atState
		if i%10 == 0 {
			new = g.atState()
		} else {
			new = wire.Clone(old)
			g.atMutate(&new)
		}
		new = canonical(t, new)
		ops, err := wire.Diff(old, new)
		if err != nil {
			t.Fatalf("Diff: %v", err)
		}
		if len(ops) > 1 {
			multi++
		}
		got, err := checkApplyTo(t, old, wireOps(t, ops))
		if err != nil {
			t.Fatalf("ApplyTo: %v\nops %v", err, ops)
		}
		if !bytes.Equal(mpEncode(t, got), mpEncode(t, new)) {
			t.Fatalf("ApplyTo(old, Diff(old, new)) encodes unlike new\nops %v", ops)
		}
		if !reflect.DeepEqual(got, new) {
			t.Fatalf("ApplyTo(old, Diff(old, new)) != new\n got %+v\nwant %+v\nops %v", got, new, ops)
		}
		if i%5 == 0 { // behind a pointer, the root is addressable
			p := &old
			if _, err := checkApplyTo(t, p, wireOps(t, ops)); err != nil {
				t.Fatal(err)
			}
		}
		if i%7 == 0 { // Go values, straight from Diff
			if _, err := checkApplyTo(t, old, ops); err != nil {
				t.Fatal(err)
			}
		}
	}
	if multi < 1000 {
		t.Fatalf("only %d of the patches had more than one op", multi)
	}
}

func (g propGen) atItem(depth int) atItem {
	it := atItem{
		ID: int64(g.n(5)), Text: g.str(), Done: g.n(2) == 0, Score: float64(g.n(4)) / 2,
		Ratio: float32(g.n(4)) / 4, When: time.Unix(int64(g.n(3)), 0).UTC(), Count: int64(g.n(3)),
		At: atPoint{g.n(3), g.n(2)}, Label: atLabel{g.str()}, Grid: [2]int8{int8(g.n(3)), int8(g.n(2))},
		Small: uint16(g.n(2)),
	}
	if g.n(4) > 0 {
		it.Tags = make([]string, g.n(4))
		for i := range it.Tags {
			it.Tags[i] = g.str()
		}
	}
	if g.n(3) == 0 {
		it.Attrs = map[string]int{}
		for range g.n(4) {
			it.Attrs[g.str()] = g.n(3)
		}
	}
	if depth < 2 && g.n(4) == 0 {
		next := g.atItem(depth + 1)
		it.Next = &next
	}
	if g.n(3) == 0 {
		it.Any = g.tree(2)
	}
	return it
}

func (g propGen) atState() atState {
	s := atState{atBase: atBase{Version: g.n(3), Note: g.str()}, Title: g.str()}
	if g.n(2) == 0 {
		s.Exported = &Exported{g.n(2), g.n(2)}
	}
	if g.n(5) > 0 {
		s.Items = make([]atItem, g.n(6))
		for i := range s.Items {
			s.Items[i] = g.atItem(0)
		}
	}
	if g.n(4) > 0 {
		s.ByKey = map[string]*atItem{}
		for range g.n(4) {
			var p *atItem
			if g.n(4) > 0 {
				it := g.atItem(1)
				p = &it
			}
			s.ByKey[g.str()] = p
		}
	}
	if g.n(3) == 0 {
		s.ByVal = map[atKey]atItem{}
		for range g.n(3) {
			s.ByVal[atKey(g.str())] = g.atItem(1)
		}
	}
	if g.n(3) == 0 {
		s.ByNum = map[int][]int{}
		for range g.n(3) {
			s.ByNum[g.n(12)] = g.ints()
		}
	}
	if g.n(3) == 0 {
		s.Opt = &atBase{Version: g.n(2)}
	}
	if g.n(2) == 0 {
		s.Raw = []byte(g.str())
	}
	if m, ok := g.tree(3).(map[string]any); ok {
		s.Tree = m
	}
	s.Zero.A = g.n(2)
	return s
}

// atKeys returns the keys of m in order, so that picking one does not
// depend on map iteration.
func atKeys[K ~string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// atMutate changes a few random places of s, which must not share memory
// with the value it is compared with.
func (g propGen) atMutate(s *atState) {
	for range 1 + g.n(4) {
		switch g.n(14) {
		case 0:
			s.Version++
		case 1:
			s.Note = g.str()
		case 2:
			s.Title = g.str()
		case 3, 4:
			if len(s.Items) == 0 {
				continue
			}
			it := &s.Items[g.n(len(s.Items))]
			switch g.n(10) {
			case 0:
				it.Done = !it.Done
			case 1:
				it.Tags = append(it.Tags, g.str())
			case 2:
				it.Text = g.str()
			case 3:
				it.Attrs = nil
			case 4:
				it.Any = g.mutateTree(it.Any, 2)
			case 5:
				it.At.Y++
			case 6:
				it.Label = atLabel{g.str()}
			case 7:
				it.Grid[g.n(2)]++
			case 8:
				it.Count++
				it.When = it.When.Add(time.Second)
				it.Small = uint16(g.n(2))
			default:
				if it.Next == nil || g.n(2) == 0 {
					next := g.atItem(1)
					it.Next = &next
				} else {
					it.Next.Score++
				}
			}
		case 5:
			s.Items = slices.Insert(s.Items, g.n(len(s.Items)+1), g.atItem(0))
		case 6:
			if len(s.Items) > 0 {
				i := g.n(len(s.Items))
				s.Items = slices.Delete(s.Items, i, i+1)
			}
		case 7:
			if s.ByKey == nil {
				s.ByKey = map[string]*atItem{}
			}
			it := g.atItem(1)
			s.ByKey[g.str()] = &it
		case 8:
			if keys := atKeys(s.ByKey); len(keys) > 0 {
				k := keys[g.n(len(keys))]
				if v := s.ByKey[k]; v != nil && g.n(2) == 0 {
					v.Score++
					v.Tags = append(v.Tags, "t")
				} else {
					delete(s.ByKey, k)
				}
			}
		case 9:
			if keys := atKeys(s.ByVal); len(keys) > 0 {
				k := keys[g.n(len(keys))]
				v := s.ByVal[k]
				v.Done = !v.Done
				v.Text = g.str()
				s.ByVal[k] = v
			} else {
				s.ByVal = map[atKey]atItem{atKey(g.str()): g.atItem(1)}
			}
		case 10:
			if s.ByNum == nil {
				s.ByNum = map[int][]int{}
			}
			s.ByNum[g.n(12)] = g.ints()
		case 11:
			s.Tree, _ = g.mutateTree(s.Tree, 3).(map[string]any)
		case 12:
			switch {
			case s.Exported != nil && g.n(2) == 0:
				s.E++
			case g.n(2) == 0:
				s.Exported = nil
			default:
				s.Exported = &Exported{g.n(2), 1}
			}
		default:
			s.Raw = []byte(g.str())
			s.Zero.A = g.n(2)
			if g.n(2) == 0 {
				s.Opt = nil
			} else if s.Opt != nil {
				s.Opt.Note = g.str()
			}
		}
	}
}

// atFuzzOps turns bytes into ops aimed at doc, the tree of a state: mostly
// real paths, some junk, with values from alt, the tree of another state,
// at the same path (which decode), from doc itself, or junk. Zero bytes,
// which run out inputs end in, choose the likeliest option.
func atFuzzOps(doc, alt any, b []byte) []wire.Op {
	next := func() int {
		if len(b) == 0 {
			return 0
		}
		c := int(b[0])
		b = b[1:]
		return c
	}
	junk := []any{nil, true, 3.5, int64(-1), int64(300), "s", "2024-01-02T03:04:05Z",
		map[string]any{"id": int64(1)}, []any{int64(1), int64(2)}, []any{}, map[string]any{}}
	var ops []wire.Op
	for len(b) > 0 && len(ops) < 8 {
		op := wire.Op{Op: wire.OpCode(next() % 3)}
		if next()%64 == 63 {
			op.Op = 3
		}
		node, other := doc, alt
		depth := next() % 6
		if depth == 0 && next()%4 != 3 {
			depth = 1 // the root only now and then
		}
		for ; depth > 0; depth-- {
			var tok string
			switch n := node.(type) {
			case map[string]any:
				tok = fuzzKey(n, next())
			case []any:
				tok = strconv.Itoa(next() % (len(n) + 2))
			default:
				if next()%8 != 7 {
					depth = 1 // stop at a leaf, mostly
					continue
				}
				tok = fuzzKey(nil, next())
			}
			node, other = treeChild(node, tok), treeChild(other, tok)
			switch next() % 32 {
			case 30:
				tok = "-"
			case 31:
				tok = []string{"__proto__", "TITLE", "nope", "~", "01", "x/y", "", "E"}[next()%8]
			}
			op.Path = string(wire.AppendPointerToken([]byte(op.Path), tok))
			if next()%128 == 127 {
				op.Path += "~" // a bad escape
			}
		}
		if op.Op != wire.OpRemove {
			switch k := next() % 16; {
			case k < 10:
				op.Value = other
			case k < 14:
				op.Value = node
			default:
				op.Value = junk[next()%len(junk)]
			}
		}
		ops = append(ops, op)
	}
	return ops
}

func treeChild(node any, tok string) any {
	switch n := node.(type) {
	case map[string]any:
		return n[tok]
	case []any:
		if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(n) {
			return n[i]
		}
	}
	return nil
}

// FuzzApplyTo checks ApplyTo against the reference on random ops over a
// random state: the same errors, the same results, nothing changed on
// failure.
func FuzzApplyTo(f *testing.F) {
	f.Add([]byte("state"), []byte{2, 0, 2, 1, 0, 3, 0, 1, 1, 0, 0, 0, 2, 1, 4, 1})
	f.Add([]byte("multi"), []byte{0, 1, 3, 2, 0, 1, 0, 0, 1, 0, 2, 1, 1, 2, 0, 0, 5, 1, 2, 0, 1, 3, 0, 0, 2, 0, 1, 1})
	f.Fuzz(func(t *testing.T, seed, opBytes []byte) {
		g := propGenFromBytes(seed)
		s := canonical(t, g.atState())
		alt := wire.Clone(s)
		g.atMutate(&alt)
		if g.n(4) == 0 {
			alt = g.atState()
		}
		doc, err := wire.ToTree(s)
		if err != nil {
			t.Fatal(err)
		}
		other, err := wire.ToTree(canonical(t, alt))
		if err != nil {
			t.Fatal(err)
		}
		checkApplyTo(t, s, atFuzzOps(doc, other, opBytes))
	})
}

type benchTodo struct {
	ID   int64  `json:"id"`
	Text string `json:"text"`
	Done bool   `json:"done"`
}

type benchTodos struct {
	Items []benchTodo `json:"items"`
}

func todos(n int) benchTodos {
	s := benchTodos{Items: make([]benchTodo, n)}
	for i := range s.Items {
		s.Items[i] = benchTodo{ID: int64(i), Text: "item number " + strconv.Itoa(i), Done: i%3 == 0}
	}
	return s
}

// doneOps are the two patches that set and clear one item's done flag, as
// a client receives them.
func doneOps(t testing.TB, i int) [2][]wire.Op {
	path := "/items/" + strconv.Itoa(i) + "/done"
	return [2][]wire.Op{
		wireOps(t, []wire.Op{{Op: wire.OpReplace, Path: path, Value: true}}),
		wireOps(t, []wire.Op{{Op: wire.OpReplace, Path: path, Value: false}}),
	}
}

// The cost of a one-field change does not grow with the state.
func TestApplyToAllocatesLittle(t *testing.T) {
	s := todos(10_000)
	ops := doneOps(t, 5000)
	i := 0
	allocs := testing.AllocsPerRun(100, func() {
		if err := wire.ApplyTo(&s, ops[i%2]); err != nil {
			t.Fatal(err)
		}
		i++
	})
	if allocs > 2 {
		t.Fatalf("a one-field change to a 10k-item state allocates %v times", allocs)
	}
}

// BenchmarkApplyTo applies a one-field change to a 10 000-item state:
// typed with ApplyTo, and the reference way through a generic tree.
func BenchmarkApplyTo(b *testing.B) {
	ops := doneOps(b, 5000)
	b.Run("typed", func(b *testing.B) {
		s := todos(10_000)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := wire.ApplyTo(&s, ops[i%2]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("reference", func(b *testing.B) {
		s := todos(10_000)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			var err error
			if s, err = applyViaTree(s, ops[i%2]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func ExampleApplyTo() {
	type Todo struct {
		Text string `json:"text"`
		Done bool   `json:"done"`
	}
	type Todos struct {
		Items []Todo `json:"items"`
	}
	state := Todos{Items: []Todo{{Text: "milk"}, {Text: "eggs"}}}

	// Ops as a patch frame delivers them: values are generic trees.
	err := wire.ApplyTo(&state, []wire.Op{
		{Op: wire.OpReplace, Path: "/items/1/done", Value: true},
		{Op: wire.OpAdd, Path: "/items/-", Value: map[string]any{"text": "bread"}},
	})
	fmt.Println(state, err)
	// Output: {[{milk false} {eggs true} {bread false}]} <nil>
}
