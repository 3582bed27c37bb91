package wire_test

import (
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/hotstate/hotstate/core/wire"
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
	cache []int
	Items []int
}

func TestCloneUnexported(t *testing.T) {
	orig := withHidden{hiddenBase: &hiddenBase{L: []int{1}}, cache: []int{2}, Items: []int{3}}
	c := wire.Clone(orig)
	c.L[0], c.Items[0] = 10, 30
	if orig.L[0] != 1 || orig.Items[0] != 3 {
		t.Fatalf("exported data shared: %v %v", orig.L, orig.Items)
	}
	// Unexported fields are copied by value: the slice header, not its
	// elements.
	if &c.cache[0] != &orig.cache[0] {
		t.Fatal("unexported field copied deeply")
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
