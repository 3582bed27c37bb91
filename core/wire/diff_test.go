package wire_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotstate/hotstate/core/wire"
	"github.com/vmihailenco/msgpack/v5"
)

type benchItem struct {
	ID   int      `json:"id"`
	Text string   `json:"text"`
	Done bool     `json:"done"`
	Tags []string `json:"tags,omitempty"`
}

type benchState struct {
	Items []benchItem `json:"items"`
}

// roundTrip checks the contract of Diff: applying its ops, as a client
// receives them, to the client's copy of old gives the client's copy of
// new. It also checks that Apply shares what the ops did not touch and
// leaves its input alone. It returns the ops.
func roundTrip(t *testing.T, old, new any) []wire.Op {
	t.Helper()
	ops, err := wire.Diff(old, new)
	if err != nil {
		t.Fatalf("Diff: %v", err)
	}
	doc := clientTree(t, old)
	before := clientTree(t, doc)
	want := clientTree(t, new)
	got, err := wire.Apply(doc, overWire(t, ops))
	if err != nil {
		t.Fatalf("Apply: %v\nops: %v", err, ops)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Apply(old, Diff(old, new)) != new\n got %#v\nwant %#v\n ops %v", got, want, ops)
	}
	if !reflect.DeepEqual(doc, before) {
		t.Fatalf("Apply changed its input")
	}
	checkShared(t, doc, got, ops, "")
	return ops
}

// overWire sends ops through EncodeOps and decodes them as a client does,
// so op values become generic trees.
func overWire(t testing.TB, ops []wire.Op) []wire.Op {
	t.Helper()
	var buf bytes.Buffer
	if err := wire.EncodeOps(msgpack.NewEncoder(&buf), ops); err != nil {
		t.Fatalf("EncodeOps: %v", err)
	}
	arr := mpDecode(t, buf.Bytes()).([]any)
	out := make([]wire.Op, len(arr))
	for i, x := range arr {
		o := x.([]any)
		out[i].Op = wire.OpCode(o[0].(int64))
		out[i].Path = o[1].(string)
		if len(o) == 3 {
			out[i].Value = o[2]
		}
	}
	return out
}

// checkShared asserts that every map under prefix that no op touched is
// the very same map in got as in doc.
func checkShared(t *testing.T, doc, got any, ops []wire.Op, prefix string) {
	t.Helper()
	touches := func(p string, below bool) bool {
		for _, op := range ops {
			if op.Path == p || below && strings.HasPrefix(op.Path, p+"/") || !below && strings.HasPrefix(p, op.Path+"/") {
				return true
			}
		}
		return false
	}
	if prefix == "" && touches("", true) && slices.ContainsFunc(ops, func(op wire.Op) bool { return op.Path == "" }) {
		return
	}
	if prefix != "" && touches(prefix, false) {
		return // an ancestor was replaced
	}
	dm, ok1 := doc.(map[string]any)
	gm, ok2 := got.(map[string]any)
	if !ok1 || !ok2 {
		return
	}
	for k, dv := range dm {
		p := string(wire.AppendPointerToken([]byte(prefix), k))
		if touches(p, true) {
			checkShared(t, dv, gm[k], ops, p)
			continue
		}
		gv := gm[k]
		switch dv := dv.(type) {
		case map[string]any:
			if reflect.ValueOf(dv).UnsafePointer() != reflect.ValueOf(gv).UnsafePointer() {
				t.Fatalf("untouched map at %q was copied", p)
			}
		case []any:
			gs, _ := gv.([]any)
			if len(dv) > 0 && (len(gs) != len(dv) || &gs[0] != &dv[0]) {
				t.Fatalf("untouched array at %q was copied", p)
			}
		}
	}
}

func TestDiffProtocolExample(t *testing.T) {
	old := benchState{Items: []benchItem{{ID: 0}, {ID: 1}, {ID: 2}, {ID: 3}, {ID: 4}}}
	new := wire.Clone(old)
	new.Items[3].Done = true
	ops := roundTrip(t, old, new)
	want := []wire.Op{{Op: wire.OpReplace, Path: "/items/3/done", Value: true}}
	if !reflect.DeepEqual(ops, want) {
		t.Fatalf("got %#v", ops)
	}
}

func TestDiffOps(t *testing.T) {
	type omitted struct {
		A int            `json:"a,omitempty"`
		M map[string]int `json:"m"`
		P *int           `json:"p"`
		S []int          `json:"s"`
	}
	cases := []struct {
		name     string
		old, new any
		want     string
	}{
		{"equal", benchItem{ID: 1, Tags: []string{"x"}}, benchItem{ID: 1, Tags: []string{"x"}}, ""},
		{"insert middle", []int{1, 2, 3}, []int{1, 9, 2, 3}, "add /1 9"},
		{"remove middle", []int{1, 2, 3, 4}, []int{1, 4}, "remove /2; remove /1"},
		{"append", []int{1}, []int{1, 2, 3}, "add /1 2; add /2 3"},
		{"change and grow", []int{1, 2}, []int{5, 6, 7}, "replace /0 5; replace /1 6; add /2 7"},
		{"nil to empty slice", []int(nil), []int{}, "replace  []"},
		{"omitempty appears", omitted{}, omitted{A: 1}, "add /a 1"},
		{"omitempty goes", omitted{A: 1}, omitted{}, "remove /a"},
		{"map keys", omitted{M: map[string]int{"a": 1, "b": 2}}, omitted{M: map[string]int{"b": 3, "c": 4}}, "remove /m/a; replace /m/b 3; add /m/c 4"},
		{"nil map", omitted{M: map[string]int{}}, omitted{}, "replace /m map[]"},
		{"pointer", omitted{P: ptrTo(1)}, omitted{P: ptrTo(2)}, "replace /p 2"},
		{"nil pointer", omitted{P: ptrTo(1)}, omitted{}, "replace /p <nil>"},
		{"escaped key", map[string]int{"a/b~": 1}, map[string]int{"a/b~": 2}, "replace /a~1b~0 2"},
		{"int keys", map[int]bool{10: true}, map[int]bool{10: false, 9: true}, "replace /10 false; add /9 true"},
		{"root type change", any(1), any("x"), "replace  x"},
		{"root nil", nil, map[string]any{"a": 1}, "replace  map[a:1]"},
		{"interface type change", []any{1, "a"}, []any{"1", "a"}, "replace /0 1"},
		{"generic", map[string]any{"a": []any{1, 2}, "b": true}, map[string]any{"a": []any{1, 2, 3}}, "add /a/2 3; remove /b"},
		{"bytes", []byte("ab"), []byte("ac"), "replace  [97 99]"},
		{"array", [3]int{1, 2, 3}, [3]int{1, 5, 3}, "replace /1 5"},
		{"time", time.Unix(1, 0).UTC(), time.Unix(2, 0).UTC(), "replace  1970-01-01 00:00:02 +0000 UTC"},
		{"same time other monotonic", time.Unix(1, 0), time.Unix(1, 0).Round(0), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ops := roundTrip(t, c.old, c.new)
			var parts []string
			for _, op := range ops {
				s := op.Op.String() + " " + op.Path
				if op.Op != wire.OpRemove {
					s += " " + fmtValue(op.Value)
				}
				parts = append(parts, s)
			}
			if got := strings.Join(parts, "; "); got != c.want {
				t.Fatalf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

// fmtValue prints an op value for the expectations above, pointers
// followed.
func fmtValue(v any) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		v = rv.Elem().Interface()
	}
	return fmt.Sprint(v)
}

func TestDiffMapOrderIsDeterministic(t *testing.T) {
	old := map[string]any{}
	new := map[string]any{}
	for i := range 40 {
		k := strconv.Itoa(i)
		old[k] = i
		if i%3 != 0 {
			new[k] = i + 1
		}
		new["n"+k] = true
	}
	first, err := wire.Diff(old, new)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		again, _ := wire.Diff(old, new)
		if !reflect.DeepEqual(first, again) {
			t.Fatal("op order differs between runs")
		}
	}
	if !slices.IsSortedFunc(first, func(a, b wire.Op) int { return strings.Compare(a.Path, b.Path) }) {
		t.Fatal("ops of a map are not in key order")
	}
}

// Values whose pointer-receiver marshalers apply only where they are
// addressable must get op values that encode the same way.
func TestDiffAddressability(t *testing.T) {
	old := holderT{PMs: []ptrMarsh{{1}, {2}}, BMm: map[string]bothMarsh{"k": {1}}, PMp: &ptrMarsh{1}}
	new := holderT{PM: ptrMarsh{5}, PMs: []ptrMarsh{{1}, {3}, {4}}, PT: ptrText{"x"}, PTs: []ptrText{{"y"}},
		BM: bothMarsh{2}, BMs: []bothMarsh{{1}}, BMm: map[string]bothMarsh{"k": {2}, "j": {3}}, PMp: &ptrMarsh{2},
		Arr: [2]ptrMarsh{{1}, {2}}, ArrS: [][2]ptrMarsh{{{1}, {2}}}}
	roundTrip(t, old, new)
	roundTrip(t, &old, &new)
	roundTrip(t, []holderT{old}, []holderT{new})
	roundTrip(t, map[string]holderT{"a": old}, map[string]holderT{"a": new})
	roundTrip(t, map[string]any{"a": old}, map[string]any{"a": new})
}

func TestDiffEncodingCases(t *testing.T) {
	cases := equivalenceCases()
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range cases {
			if !yield(k) {
				return
			}
		}
	})
	// Every pair of cases of the same type, and each case against nil.
	for _, a := range names {
		for _, b := range names {
			va, vb := cases[a], cases[b]
			if reflect.TypeOf(va) != reflect.TypeOf(vb) && va != nil && vb != nil {
				continue
			}
			roundTrip(t, va, vb)
		}
	}
	var q1, q2 quotedT
	q2 = quotedT{N: 1, S: "x", B: true, F: 2, P: ptrTo(3), J: "4", JQ: "5"}
	roundTrip(t, q1, q2)
	roundTrip(t, q2, q1)
	roundTrip(t, omitZero{}, omitZero{Z: zeroer{1}, Fz: math.Copysign(0, -1)})
}

func TestDiffErrors(t *testing.T) {
	type withChan struct{ C chan int }
	type badKey struct{ M map[[1]int]int }
	cases := []struct{ old, new any }{
		{withChan{}, withChan{}},
		{badKey{M: map[[1]int]int{}}, badKey{M: map[[1]int]int{{1}: 1}}},
		{struct{ M badMarshal }{}, struct{ M badMarshal }{badMarshal{1}}},
	}
	for _, c := range cases {
		if _, err := wire.Diff(c.old, c.new); err == nil {
			t.Errorf("Diff(%#v, %#v) succeeded", c.old, c.new)
		}
	}
	loopA := &treeNode{Name: "a"}
	loopA.Children = []*treeNode{loopA}
	loopB := &treeNode{Name: "a"}
	loopB.Children = []*treeNode{loopB}
	if _, err := wire.Diff(loopA, loopB); err == nil {
		t.Error("Diff of cyclic values succeeded")
	}
}

func TestDiffEqualAllocatesLittle(t *testing.T) {
	old := bigState(10_000)
	new := wire.Clone(old)
	allocs := testing.AllocsPerRun(5, func() {
		ops, err := wire.Diff(old, new)
		if err != nil || len(ops) != 0 {
			t.Fatalf("ops %v, err %v", ops, err)
		}
	})
	if allocs > 5 {
		t.Fatalf("Diff of equal 10k-item states allocates %v times", allocs)
	}
}

func bigState(n int) benchState {
	s := benchState{Items: make([]benchItem, n)}
	for i := range s.Items {
		s.Items[i] = benchItem{ID: i, Text: "item " + strconv.Itoa(i), Done: i%3 == 0, Tags: []string{"a", "b"}}
	}
	return s
}

// The property tests below diff random values and their random mutations.

type propBase struct {
	Version int    `json:"version"`
	Note    string `json:"note,omitempty"`
}

type propItem struct {
	ID    int            `json:"id"`
	Name  string         `json:"name,omitempty"`
	Tags  []string       `json:"tags"`
	Attrs map[string]int `json:"attrs,omitempty"`
	Next  *propItem      `json:"next,omitempty"`
	Score float64        `json:"score"`
	Any   any            `json:"any,omitempty"`
	When  time.Time      `json:"when"`
	Count int64          `json:"count,string"`
	PM    ptrMarsh       `json:"pm"`
}

type propState struct {
	propBase
	*Exported
	Items []propItem           `json:"items"`
	ByKey map[string]*propItem `json:"byKey"`
	ByNum map[int][]int        `json:"byNum,omitempty"`
	Grid  [3][]int             `json:"grid"`
	Ptr   *int                 `json:"ptr"`
	Raw   []byte               `json:"raw,omitempty"`
	Opt   *propBase            `json:"opt,omitempty"`
	Tree  map[string]any       `json:"tree"`
}

type propGen struct{ r *rand.Rand }

// propGenFromBytes seeds a generator with fuzz input, so that any bytes
// make a tree.
func propGenFromBytes(b []byte) propGen {
	h := fnv.New64a()
	h.Write(b)
	return propGen{rand.New(rand.NewPCG(h.Sum64(), uint64(len(b))))}
}

func (g propGen) n(k int) int { return g.r.IntN(k) }

func (g propGen) str() string {
	return []string{"", "a", "b", "a/b", "~", "é", "0", "-"}[g.n(8)]
}

func (g propGen) ints() []int {
	if g.n(6) == 0 {
		return nil
	}
	s := make([]int, g.n(5))
	for i := range s {
		s[i] = g.n(4)
	}
	return s
}

func (g propGen) item(depth int) propItem {
	it := propItem{ID: g.n(5), Name: g.str(), Score: float64(g.n(4)) / 2, Count: int64(g.n(3)), PM: ptrMarsh{g.n(2)}}
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
		next := g.item(depth + 1)
		it.Next = &next
	}
	if g.n(3) == 0 {
		it.Any = g.tree(2)
	}
	it.When = time.Unix(int64(g.n(3)), 0).UTC()
	return it
}

func (g propGen) state() propState {
	s := propState{propBase: propBase{Version: g.n(3), Note: g.str()}}
	if g.n(2) == 0 {
		s.Exported = &Exported{g.n(2), g.n(2)}
	}
	if g.n(5) > 0 {
		s.Items = make([]propItem, g.n(6))
		for i := range s.Items {
			s.Items[i] = g.item(0)
		}
	}
	if g.n(4) > 0 {
		s.ByKey = map[string]*propItem{}
		for range g.n(4) {
			var p *propItem
			if g.n(4) > 0 {
				it := g.item(1)
				p = &it
			}
			s.ByKey[g.str()] = p
		}
	}
	if g.n(3) == 0 {
		s.ByNum = map[int][]int{}
		for range g.n(3) {
			s.ByNum[g.n(12)] = g.ints()
		}
	}
	for i := range s.Grid {
		s.Grid[i] = g.ints()
	}
	if g.n(2) == 0 {
		s.Ptr = ptrTo(g.n(3))
	}
	if g.n(2) == 0 {
		s.Raw = []byte(g.str())
	}
	if g.n(3) == 0 {
		s.Opt = &propBase{Version: g.n(2)}
	}
	if m, ok := g.tree(3).(map[string]any); ok {
		s.Tree = m
	}
	return s
}

// tree returns a random generic tree with the types clients decode.
func (g propGen) tree(depth int) any {
	k := g.n(10)
	if depth <= 0 {
		k = g.n(6)
	}
	switch k {
	case 0:
		return nil
	case 1:
		return g.n(2) == 0
	case 2:
		return int64(g.n(300) - 50)
	case 3:
		return float64(g.n(8)) / 4
	case 4, 5:
		return g.str()
	case 6, 7:
		s := make([]any, g.n(5))
		for i := range s {
			s[i] = g.tree(depth - 1)
		}
		return s
	default:
		m := map[string]any{}
		for range g.n(5) {
			m[g.str()] = g.tree(depth - 1)
		}
		return m
	}
}

// mutateTree changes a few random places of a copy of x.
func (g propGen) mutateTree(x any, depth int) any {
	switch x := x.(type) {
	case map[string]any:
		m := wire.Clone(x)
		if m == nil {
			m = map[string]any{}
		}
		for range g.n(3) {
			k := g.str()
			switch g.n(4) {
			case 0:
				delete(m, k)
			case 1:
				m[k] = g.tree(depth)
			default:
				if v, ok := m[k]; ok {
					m[k] = g.mutateTree(v, depth-1)
				}
			}
		}
		return m
	case []any:
		s := wire.Clone(x)
		for range g.n(3) {
			switch i := g.n(len(s) + 1); g.n(4) {
			case 0:
				s = slices.Insert(s, i, g.tree(depth))
			case 1:
				if i < len(s) {
					s = slices.Delete(s, i, i+1)
				}
			default:
				if i < len(s) {
					s[i] = g.mutateTree(s[i], depth-1)
				}
			}
		}
		return s
	}
	if g.n(2) == 0 {
		return x
	}
	return g.tree(depth)
}

func (g propGen) mutate(s *propState) {
	for range 1 + g.n(4) {
		switch g.n(12) {
		case 0:
			s.Version++
		case 1:
			s.Note = g.str()
		case 2:
			if len(s.Items) > 0 {
				it := &s.Items[g.n(len(s.Items))]
				switch g.n(6) {
				case 0:
					it.Done()
				case 1:
					it.Tags = append(it.Tags, g.str())
				case 2:
					it.Name = g.str()
				case 3:
					it.Attrs = nil
				case 4:
					it.Any = g.mutateTree(it.Any, 2)
				default:
					it.PM.V++
				}
			}
		case 3:
			s.Items = slices.Insert(s.Items, g.n(len(s.Items)+1), g.item(0))
		case 4:
			if len(s.Items) > 0 {
				i := g.n(len(s.Items))
				s.Items = slices.Delete(s.Items, i, i+1)
			}
		case 5:
			if s.ByKey == nil {
				s.ByKey = map[string]*propItem{}
			}
			it := g.item(1)
			s.ByKey[g.str()] = &it
		case 6:
			for k, v := range s.ByKey {
				if v != nil && g.n(2) == 0 {
					v.Score += 1
				} else {
					delete(s.ByKey, k)
				}
				break
			}
		case 7:
			s.Grid[g.n(3)] = g.ints()
		case 8:
			s.Ptr = nil
			if g.n(2) == 0 {
				s.Ptr = ptrTo(g.n(3))
			}
		case 9:
			s.Tree, _ = g.mutateTree(s.Tree, 3).(map[string]any)
		case 10:
			s.Exported = nil
			if g.n(2) == 0 {
				s.Exported = &Exported{g.n(2), 1}
			}
		default:
			if s.ByNum == nil {
				s.ByNum = map[int][]int{}
			}
			s.ByNum[g.n(12)] = g.ints()
		}
	}
}

// Done is a mutation that flips several fields at once.
func (it *propItem) Done() {
	it.ID++
	it.When = it.When.Add(time.Second)
	it.Count++
}

func TestDiffProperty(t *testing.T) {
	g := propGen{rand.New(rand.NewPCG(1, 2))}
	for i := range 3000 {
		old := g.state()
		var new propState
		if i%10 == 0 {
			new = g.state()
		} else {
			new = wire.Clone(old)
			g.mutate(&new)
		}
		roundTrip(t, old, new)
		if i%3 == 0 {
			roundTrip(t, &old, &new)
		}
		if ops, err := wire.Diff(old, wire.Clone(old)); err != nil || len(ops) != 0 {
			t.Fatalf("Diff of a value and its clone: %v %v", ops, err)
		}
	}
}

func TestDiffPropertyUntyped(t *testing.T) {
	g := propGen{rand.New(rand.NewPCG(3, 4))}
	for i := range 3000 {
		old := g.tree(4)
		new := g.mutateTree(old, 3)
		if i%10 == 0 {
			new = g.tree(4)
		}
		roundTrip(t, old, new)
		// Trees decoded from the wire diff the same way.
		ops, err := wire.Diff(clientTree(t, old), clientTree(t, new))
		if err != nil {
			t.Fatal(err)
		}
		got, err := wire.Apply(clientTree(t, old), ops)
		if err != nil || !reflect.DeepEqual(got, clientTree(t, new)) {
			t.Fatalf("decoded trees: %v, %#v", err, got)
		}
	}
}

// fuzzTree makes a generic tree of fuzz input: its JSON if it is JSON,
// else a random tree seeded by it.
func fuzzTree(b []byte) any {
	var v any
	if json.Unmarshal(b, &v) == nil {
		return v
	}
	return propGenFromBytes(b).tree(4)
}

// FuzzDiffApply diffs two generic trees, JSON documents or random trees
// seeded by the input (the second a mutation of the first), and checks
// that the ops turn one into the other, directly and over the wire. The
// input also seeds a pair of typed values for the same check.
func FuzzDiffApply(f *testing.F) {
	f.Add([]byte(`{"a":[1,2,3],"b":{"c":"d"}}`), []byte(`{"a":[1,3],"b":{"c":"e","f":null}}`))
	f.Add([]byte(`[1,2,3,4,5]`), []byte(`[0,1,2,9,4,5,6]`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		old := fuzzTree(a)
		var new any
		if json.Unmarshal(b, &new) != nil {
			new = propGenFromBytes(b).mutateTree(old, 3)
		}
		before := wire.Clone(old)
		ops, err := wire.Diff(old, new)
		if err != nil {
			t.Fatalf("Diff: %v", err)
		}
		got, err := wire.Apply(old, ops)
		if err != nil {
			t.Fatalf("Apply: %v; ops %v", err, ops)
		}
		if !reflect.DeepEqual(got, new) {
			t.Fatalf("got %v, want %v; ops %v", got, new, ops)
		}
		if !reflect.DeepEqual(old, before) {
			t.Fatal("Apply changed its input")
		}
		// The same through the wire, as a client sees it.
		got, err = wire.Apply(clientTree(t, old), overWire(t, ops))
		if err != nil || !reflect.DeepEqual(got, clientTree(t, new)) {
			t.Fatalf("over the wire: %v, %v", err, got)
		}

		g := propGenFromBytes(append(slices.Clip(a), b...))
		typedOld := g.state()
		typedNew := wire.Clone(typedOld)
		g.mutate(&typedNew)
		roundTrip(t, typedOld, typedNew)
	})
}

// BenchmarkDiff10k measures one update of a 10 000-item store the way the
// server does it: Clone the state, change one field, Diff, encode the ops.
func BenchmarkDiff10k(b *testing.B) {
	state := bigState(10_000)
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		next := wire.Clone(state)
		next.Items[i%len(next.Items)].Done = !next.Items[i%len(next.Items)].Done
		ops, err := wire.Diff(state, next)
		if err != nil || len(ops) != 1 {
			b.Fatalf("ops %v, err %v", ops, err)
		}
		buf.Reset()
		if err := wire.EncodeOps(enc, ops); err != nil {
			b.Fatal(err)
		}
		state = next
		i += 7919
	}
}

// BenchmarkDiffOnly10k is BenchmarkDiff10k without the Clone.
func BenchmarkDiffOnly10k(b *testing.B) {
	state := bigState(10_000)
	next := wire.Clone(state)
	next.Items[5000].Text = "changed"
	b.ReportAllocs()
	for b.Loop() {
		if ops, err := wire.Diff(state, next); err != nil || len(ops) != 1 {
			b.Fatalf("ops %v, err %v", ops, err)
		}
	}
}

// BenchmarkClone10k is the Clone part of BenchmarkDiff10k.
func BenchmarkClone10k(b *testing.B) {
	state := bigState(10_000)
	b.ReportAllocs()
	for b.Loop() {
		_ = wire.Clone(state)
	}
}

func BenchmarkEncodeValue10k(b *testing.B) {
	state := bigState(10_000)
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := wire.EncodeValue(enc, state); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleDiff() {
	type Todo struct {
		Text string `json:"text"`
		Done bool   `json:"done"`
	}
	type Todos struct {
		Items []Todo `json:"items"`
	}
	old := Todos{Items: []Todo{{Text: "milk"}, {Text: "eggs"}}}
	new := wire.Clone(old)
	new.Items[1].Done = true
	new.Items = append(new.Items, Todo{Text: "bread"})

	ops, _ := wire.Diff(old, new)
	for _, op := range ops {
		fmt.Println(op.Op, op.Path, op.Value)
	}

	// A client applies the ops to its own copy of the state.
	doc := map[string]any{"items": []any{
		map[string]any{"text": "milk", "done": false},
		map[string]any{"text": "eggs", "done": false},
	}}
	doc2, _ := wire.Apply(doc, []wire.Op{
		{Op: wire.OpReplace, Path: "/items/1/done", Value: true},
		{Op: wire.OpAdd, Path: "/items/2", Value: map[string]any{"text": "bread", "done": false}},
	})
	fmt.Println(doc2)
	// Output:
	// replace /items/1/done true
	// add /items/2 {bread false}
	// map[items:[map[done:false text:milk] map[done:true text:eggs] map[done:false text:bread]]]
}
