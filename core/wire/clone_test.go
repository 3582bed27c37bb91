package wire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotstate/hotstate/core/wire"
	"github.com/vmihailenco/msgpack/v5"
)

type cloneLeaf struct {
	N int
	S string
}

type cloneDeep struct {
	Ints   []int
	Leaves []cloneLeaf
	Nested [][]string
	Map    map[string][]int
	PtrMap map[int]*cloneLeaf
	Ptr    *cloneLeaf
	PtrPtr **int
	Any    any
	Arr    [2][]int
	Tree   map[string]any
	Iface  interface{ String() string }
	Time   time.Time
	Embed  *cloneDeep
}

type withMutex struct {
	Mu sync.Mutex
	N  int
}

type namedSlice []int

func (n namedSlice) String() string { return "named" }

func sampleDeep() cloneDeep {
	n := 5
	p := &n
	return cloneDeep{
		Ints:   []int{1, 2, 3},
		Leaves: []cloneLeaf{{1, "a"}, {2, "b"}},
		Nested: [][]string{{"x"}, nil, {}},
		Map:    map[string][]int{"a": {1}},
		PtrMap: map[int]*cloneLeaf{1: {3, "c"}, 2: nil},
		Ptr:    &cloneLeaf{4, "d"},
		PtrPtr: &p,
		Any:    []int{7},
		Arr:    [2][]int{{8}, {9}},
		Tree:   map[string]any{"l": []any{map[string]any{"k": 1}}, "s": "v"},
		Iface:  namedSlice{10},
		Time:   time.Unix(1, 0),
		Embed:  &cloneDeep{Ints: []int{11}},
	}
}

// mutateDeep writes through every reference a clone could share.
func mutateDeep(c *cloneDeep) {
	c.Ints[0] = 100
	c.Leaves[0].S = "changed"
	c.Nested[0][0] = "changed"
	c.Map["a"][0] = 100
	c.Map["b"] = nil
	c.PtrMap[1].N = 100
	c.Ptr.N = 100
	**c.PtrPtr = 100
	c.Any.([]int)[0] = 100
	c.Arr[0][0] = 100
	c.Tree["l"].([]any)[0].(map[string]any)["k"] = 100
	c.Tree["new"] = true
	c.Iface.(namedSlice)[0] = 100
	c.Embed.Ints[0] = 100
}

func TestCloneIsDeep(t *testing.T) {
	orig := sampleDeep()
	c := wire.Clone(orig)
	if !reflect.DeepEqual(c, orig) {
		t.Fatalf("clone differs:\n%#v\n%#v", c, orig)
	}
	mutateDeep(&c)
	if !reflect.DeepEqual(orig, sampleDeep()) {
		t.Fatalf("mutating the clone changed the original: %#v", orig)
	}
	// And the other way round.
	orig2 := sampleDeep()
	c2 := wire.Clone(&orig2)
	mutateDeep(&orig2)
	if !reflect.DeepEqual(*c2, sampleDeep()) {
		t.Fatal("mutating the original changed the clone")
	}
}

type hiddenBase struct{ L []int }

type withHidden struct {
	*hiddenBase
	n     int
	Items []int
}

func TestCloneUnexportedEmbedded(t *testing.T) {
	orig := withHidden{hiddenBase: &hiddenBase{L: []int{1}}, n: 2, Items: []int{3}}
	c := wire.Clone(orig)
	c.L[0], c.Items[0] = 10, 30
	if orig.L[0] != 1 || orig.Items[0] != 3 || c.n != 2 {
		t.Fatalf("embedded data shared or plain field lost: %v %v %d", orig.L, orig.Items, c.n)
	}
}

func TestCloneKeepsNilAndEmpty(t *testing.T) {
	type s struct {
		A []int
		B []int
		M map[string]int
		N map[string]int
		P *int
		I any
	}
	c := wire.Clone(s{B: []int{}, N: map[string]int{}})
	if c.A != nil || c.B == nil || c.M != nil || c.N == nil || c.P != nil || c.I != nil {
		t.Fatalf("%#v", c)
	}
	if got := wire.Clone[any](nil); got != nil {
		t.Fatal(got)
	}
	if got := wire.Clone(map[string]any(nil)); got != nil {
		t.Fatal(got)
	}
}

func TestCloneFlatValues(t *testing.T) {
	leaves := []cloneLeaf{{1, "a"}, {2, "b"}}
	c := wire.Clone(leaves)
	c[0].N = 9
	if leaves[0].N != 1 {
		t.Fatal("slice of flat structs shared")
	}
	if &c[0] == &leaves[0] {
		t.Fatal("same backing array")
	}
	// A type with unexported fields is copied by value.
	m := &withMutex{N: 1}
	cm := wire.Clone(m)
	cm.N = 2
	if m.N != 1 || cm == m {
		t.Fatal("pointer to struct with unexported fields shared")
	}
	if got := wire.Clone(42); got != 42 {
		t.Fatal(got)
	}
}

func TestCloneRandomStates(t *testing.T) {
	g := propGen{rand.New(rand.NewPCG(5, 6))}
	for range 500 {
		s := g.state()
		c := wire.Clone(s)
		if !reflect.DeepEqual(s, c) {
			t.Fatalf("clone differs")
		}
		before := clientTree(t, s)
		g.mutate(&c)
		for i := range c.Items {
			c.Items[i].Done()
			if len(c.Items[i].Tags) > 0 {
				c.Items[i].Tags[0] = "mutated"
			}
		}
		for _, v := range c.ByKey {
			if v != nil {
				v.Score = -1
			}
		}
		if c.Ptr != nil {
			*c.Ptr = -1
		}
		if !reflect.DeepEqual(clientTree(t, s), before) {
			t.Fatalf("mutating a clone changed the original:\n%v\n%v", clientTree(t, s), before)
		}
	}
}

func TestCloneConcurrentFirstUse(t *testing.T) {
	// Types are compiled on first use; racing first uses must be safe.
	type fresh struct {
		A []cloneDeep
		B map[string]*fresh
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			v := fresh{A: []cloneDeep{sampleDeep()}, B: map[string]*fresh{"x": {}}}
			if !reflect.DeepEqual(wire.Clone(v), v) {
				t.Error("clone differs")
			}
			if _, err := wire.Diff(v, wire.Clone(v)); err != nil {
				t.Error(err)
			}
			clientTree(t, v)
		})
	}
	wg.Wait()
}

// tagSet hides its map in an unexported field and crosses the wire
// through its JSON methods, as set types commonly do.
type tagSet struct{ m map[string]bool }

func newTagSet(tags ...string) tagSet {
	s := tagSet{m: map[string]bool{}}
	for _, t := range tags {
		s.m[t] = true
	}
	return s
}

func (s tagSet) MarshalJSON() ([]byte, error) {
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return json.Marshal(keys)
}

func (s *tagSet) UnmarshalJSON(b []byte) error {
	var keys []string
	if err := json.Unmarshal(b, &keys); err != nil {
		return err
	}
	*s = newTagSet(keys...)
	return nil
}

// textList is a tagSet that goes through MarshalText, with pointer
// receivers on both sides.
type textList struct{ items []string }

func (l *textList) MarshalText() ([]byte, error) { return []byte(strings.Join(l.items, ",")), nil }

func (l *textList) UnmarshalText(b []byte) error {
	l.items = strings.Split(string(b), ",")
	return nil
}

type account struct {
	Balance *big.Int          `json:"balance"`
	Rate    *big.Float        `json:"rate"`
	Share   *big.Rat          `json:"share"`
	Tags    tagSet            `json:"tags"`
	ByUser  map[string]tagSet `json:"byUser"`
	Lists   []textList        `json:"lists"`
	Any     any               `json:"any"`
}

func sampleAccount() account {
	a := account{
		Balance: big.NewInt(100),
		Share:   big.NewRat(1, 3),
		Tags:    newTagSet("a"),
		ByUser:  map[string]tagSet{"u": newTagSet("x")},
		Lists:   []textList{{items: []string{"p", "q"}}},
		Any:     newTagSet("i"),
	}
	a.Rate = new(big.Float).SetPrec(200).SetMode(big.ToZero).SetInt64(1)
	a.Rate.Quo(a.Rate, big.NewFloat(3))
	return a
}

// TestCloneHiddenReferences is the regression test for copies that shared
// the memory behind unexported fields: changing a copy in place changed the
// original too, and Diff then saw nothing to send.
func TestCloneHiddenReferences(t *testing.T) {
	orig := sampleAccount()
	before := clientTree(t, orig)
	c := wire.Clone(orig)
	if !reflect.DeepEqual(clientTree(t, c), before) {
		t.Fatalf("clone encodes differently:\n%v\n%v", clientTree(t, c), before)
	}
	if c.Rate.Prec() != 200 || c.Rate.Mode() != big.ToZero || c.Rate.Cmp(orig.Rate) != 0 {
		t.Fatalf("Float copied as %v (prec %d, %v), want %v", c.Rate, c.Rate.Prec(), c.Rate.Mode(), orig.Rate)
	}
	c.Balance.Add(c.Balance, big.NewInt(1))
	c.Rate.Add(c.Rate, c.Rate)
	c.Share.Add(c.Share, c.Share)
	c.Tags.m["b"] = true
	c.ByUser["u"].m["y"] = true
	c.Lists[0].items[0] = "changed"
	c.Any.(tagSet).m["j"] = true
	if !reflect.DeepEqual(clientTree(t, orig), before) {
		t.Fatalf("changing the clone changed the original:\n%v\n%v", clientTree(t, orig), before)
	}
	ops := roundTrip(t, orig, c)
	if len(ops) != 7 {
		t.Fatalf("Diff found %d changes, want 7: %v", len(ops), ops)
	}
	if err := wire.CheckClone(reflect.TypeFor[account]()); err != nil {
		t.Fatal(err)
	}
}

func TestCloneRawMessageAndTime(t *testing.T) {
	type doc struct {
		Raw  json.RawMessage `json:"raw"`
		At   time.Time       `json:"at"`
		When *time.Time      `json:"when"`
	}
	at := time.Date(2024, 5, 6, 7, 8, 9, 10, time.FixedZone("X", 3600))
	orig := doc{Raw: json.RawMessage(`{"a":1}`), At: at, When: &at}
	c := wire.Clone(orig)
	if !reflect.DeepEqual(c, orig) || c.At.Location() != at.Location() {
		t.Fatalf("clone %#v, want %#v", c, orig)
	}
	c.Raw[2] = 'b'
	*c.When = c.When.Add(time.Hour)
	if string(orig.Raw) != `{"a":1}` || !orig.When.Equal(at) {
		t.Fatalf("clone shares memory: %s %v", orig.Raw, orig.When)
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[doc](), reflect.TypeFor[time.Time](), reflect.TypeFor[withMutex]()} {
		if err := wire.CheckClone(typ); err != nil {
			t.Errorf("%v: %v", typ, err)
		}
	}
}

type hiddenMap struct {
	N int
	m map[string]int
}

type hiddenInner struct{ p *int }

type hiddenOuter struct {
	Items []struct {
		Name  string
		inner hiddenInner
	}
}

type hiddenEmbed struct {
	hiddenMap
	Note string
}

type hiddenBig struct{ balance *big.Int }

// cycleA reaches its hidden field only through cycleB and back.
type cycleA struct {
	B *cycleB
}

type cycleB struct {
	A    *cycleA
	list []int
}

// cycleSet is a marshaler on a cycle: whatever it hides is its own
// business, so the types around it are fine.
type cycleSet struct {
	Next *cycleHolder
	m    map[string]bool
}

func (s cycleSet) MarshalJSON() ([]byte, error)  { return json.Marshal(len(s.m)) }
func (s *cycleSet) UnmarshalJSON(b []byte) error { s.m = map[string]bool{}; return nil }

type cycleHolder struct{ S cycleSet }

func TestCheckCloneRefuses(t *testing.T) {
	for _, c := range []struct {
		typ        reflect.Type
		path, kind string
	}{
		{reflect.TypeFor[hiddenMap](), "m", "map[string]int"},
		{reflect.TypeFor[*[]hiddenMap](), "[].m", "map[string]int"},
		{reflect.TypeFor[hiddenOuter](), "Items[].inner", "wire_test.hiddenInner"},
		{reflect.TypeFor[hiddenEmbed](), "hiddenMap.m", "map[string]int"},
		{reflect.TypeFor[hiddenBig](), "balance", "*big.Int"},
		{reflect.TypeFor[cycleA](), "B.list", "[]int"},
		{reflect.TypeFor[map[string]cycleB](), "[].list", "[]int"},
	} {
		err := wire.CheckClone(c.typ)
		if err == nil {
			t.Errorf("%v: no error", c.typ)
			continue
		}
		msg := err.Error()
		for _, want := range []string{"cannot clone " + c.typ.String() + ":", "field " + c.path + " (" + c.kind + ",", "export the field", "json.Marshaler", "json.Unmarshaler"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%v: error %q does not say %q", c.typ, msg, want)
			}
		}
		v := reflect.New(c.typ).Elem()
		if c.typ.Kind() == reflect.Pointer {
			v = reflect.New(c.typ.Elem()) // a nil pointer would have nothing to copy
		}
		got := func() (p any) {
			defer func() { p = recover() }()
			wire.Clone[any](v.Interface())
			return nil
		}()
		if perr, ok := got.(error); !ok || !errors.Is(perr, err) {
			t.Errorf("%v: Clone panicked with %v, want %v", c.typ, got, err)
		}
	}
	if err := wire.CheckClone(reflect.TypeFor[cycleHolder]()); err != nil {
		t.Errorf("a marshaler on a cycle: %v", err)
	}
	h := cycleHolder{S: cycleSet{m: map[string]bool{"x": true}}}
	if c := wire.Clone(h); &c.S.m == &h.S.m || len(c.S.m) != 0 {
		t.Error("cycleSet not copied through its JSON")
	}
}

type failingSet struct{ m map[string]bool }

func (failingSet) MarshalJSON() ([]byte, error)  { return nil, fmt.Errorf("broken") }
func (*failingSet) UnmarshalJSON(b []byte) error { return nil }

func TestCloneMarshalerFails(t *testing.T) {
	defer func() {
		if err, ok := recover().(error); !ok || !strings.Contains(err.Error(), "broken") {
			t.Fatalf("panic %v, want the MarshalJSON error", err)
		}
	}()
	wire.Clone(failingSet{m: map[string]bool{}})
}

// TestCloneHiddenConcurrent reads an original while its clone changes, which
// the race detector flags if they share memory.
func TestCloneHiddenConcurrent(t *testing.T) {
	orig := sampleAccount()
	c := wire.Clone(orig)
	var wg sync.WaitGroup
	wg.Go(func() {
		var buf bytes.Buffer
		for range 100 {
			buf.Reset()
			if err := wire.EncodeValue(msgpack.NewEncoder(&buf), orig); err != nil {
				t.Error(err)
			}
		}
	})
	for i := range 100 {
		c.Balance.Add(c.Balance, c.Balance)
		c.Tags.m[fmt.Sprint(i)] = true
		c.Lists[0].items[0] = fmt.Sprint(i)
	}
	wg.Wait()
}

// BenchmarkCloneMixed clones a value with every kind of reference, the
// per-node costs that BenchmarkClone10k's one big slice hides.
func BenchmarkCloneMixed(b *testing.B) {
	v := sampleDeep()
	b.ReportAllocs()
	for b.Loop() {
		_ = wire.Clone(v)
	}
}

// BenchmarkCloneShallow clones a struct that assignment copies whole.
func BenchmarkCloneShallow(b *testing.B) {
	v := struct {
		A, B int
		S    string
		T    time.Time
		P    [4]int32
	}{A: 1, S: "s", T: time.Unix(1, 0)}
	b.ReportAllocs()
	for b.Loop() {
		_ = wire.Clone(v)
	}
}

// BenchmarkCloneHidden clones the big numbers and marshaler types that
// hide references in unexported fields.
func BenchmarkCloneHidden(b *testing.B) {
	v := sampleAccount()
	b.ReportAllocs()
	for b.Loop() {
		_ = wire.Clone(v)
	}
}
