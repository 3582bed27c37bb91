package wire_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hotstate/hotstate/core/wire"
)

// jsonDoc parses JSON into a generic tree with float64 numbers.
func jsonDoc(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return v
}

func TestApply(t *testing.T) {
	cases := []struct {
		name, doc string
		ops       []wire.Op
		want      string // JSON, or "error"
	}{
		// RFC 6902 appendix A, the add, remove and replace examples.
		{"A.1 add member", `{"foo":"bar"}`, []wire.Op{{Op: wire.OpAdd, Path: "/baz", Value: "qux"}}, `{"baz":"qux","foo":"bar"}`},
		{"A.2 add element", `{"foo":["bar","baz"]}`, []wire.Op{{Op: wire.OpAdd, Path: "/foo/1", Value: "qux"}}, `{"foo":["bar","qux","baz"]}`},
		{"A.3 remove member", `{"baz":"qux","foo":"bar"}`, []wire.Op{{Op: wire.OpRemove, Path: "/baz"}}, `{"foo":"bar"}`},
		{"A.4 remove element", `{"foo":["bar","qux","baz"]}`, []wire.Op{{Op: wire.OpRemove, Path: "/foo/1"}}, `{"foo":["bar","baz"]}`},
		{"A.5 replace", `{"baz":"qux","foo":"bar"}`, []wire.Op{{Op: wire.OpReplace, Path: "/baz", Value: "boo"}}, `{"baz":"boo","foo":"bar"}`},
		{"A.10 add nested", `{"foo":"bar"}`, []wire.Op{{Op: wire.OpAdd, Path: "/child", Value: map[string]any{"grandchild": map[string]any{}}}}, `{"foo":"bar","child":{"grandchild":{}}}`},
		{"A.12 missing parent", `{"foo":"bar"}`, []wire.Op{{Op: wire.OpAdd, Path: "/baz/bat", Value: "qux"}}, "error"},
		{"A.16 append", `{"foo":["bar"]}`, []wire.Op{{Op: wire.OpAdd, Path: "/foo/-", Value: []any{"abc", "def"}}}, `{"foo":["bar",["abc","def"]]}`},
		{"add at len", `[1,2]`, []wire.Op{{Op: wire.OpAdd, Path: "/2", Value: 3.0}}, `[1,2,3]`},
		{"add existing member replaces", `{"a":1}`, []wire.Op{{Op: wire.OpAdd, Path: "/a", Value: 2.0}}, `{"a":2}`},
		{"add to nil map", `{"a":null}`, []wire.Op{{Op: wire.OpAdd, Path: "/a/b", Value: 2.0}}, "error"},
		{"root replace", `{"a":1}`, []wire.Op{{Op: wire.OpReplace, Path: "", Value: []any{}}}, `[]`},
		{"root add", `1`, []wire.Op{{Op: wire.OpAdd, Path: "", Value: "x"}}, `"x"`},
		{"escapes", `{"a/b":{"~":1}}`, []wire.Op{{Op: wire.OpReplace, Path: "/a~1b/~0", Value: 2.0}}, `{"a/b":{"~":2}}`},
		{"empty key", `{"":{"":1}}`, []wire.Op{{Op: wire.OpRemove, Path: "//"}}, `{"":{}}`},
		{"sequence", `{"l":[]}`, []wire.Op{
			{Op: wire.OpAdd, Path: "/l/-", Value: 1.0},
			{Op: wire.OpAdd, Path: "/l/0", Value: 0.0},
			{Op: wire.OpAdd, Path: "/l/2", Value: 2.0},
			{Op: wire.OpRemove, Path: "/l/1"},
			{Op: wire.OpReplace, Path: "/l/0", Value: "z"},
			{Op: wire.OpAdd, Path: "/m", Value: map[string]any{}},
			{Op: wire.OpAdd, Path: "/m/k", Value: true},
		}, `{"l":["z",2],"m":{"k":true}}`},
		{"remove root", `{}`, []wire.Op{{Op: wire.OpRemove, Path: ""}}, "error"},
		{"remove missing", `{"a":1}`, []wire.Op{{Op: wire.OpRemove, Path: "/b"}}, "error"},
		{"replace missing", `{"a":1}`, []wire.Op{{Op: wire.OpReplace, Path: "/b", Value: 1.0}}, "error"},
		{"replace at len", `[1]`, []wire.Op{{Op: wire.OpReplace, Path: "/1", Value: 1.0}}, "error"},
		{"replace dash", `[1]`, []wire.Op{{Op: wire.OpReplace, Path: "/-", Value: 1.0}}, "error"},
		{"remove dash", `[1]`, []wire.Op{{Op: wire.OpRemove, Path: "/-"}}, "error"},
		{"add past len", `[1]`, []wire.Op{{Op: wire.OpAdd, Path: "/2", Value: 1.0}}, "error"},
		{"leading zero", `[1,2]`, []wire.Op{{Op: wire.OpReplace, Path: "/01", Value: 1.0}}, "error"},
		{"negative index", `[1,2]`, []wire.Op{{Op: wire.OpReplace, Path: "/-1", Value: 1.0}}, "error"},
		{"huge index", `[1,2]`, []wire.Op{{Op: wire.OpAdd, Path: "/99999999999999999999", Value: 1.0}}, "error"},
		{"index into object is a key", `{"0":1}`, []wire.Op{{Op: wire.OpReplace, Path: "/0", Value: 2.0}}, `{"0":2}`},
		{"walk through scalar", `{"a":1}`, []wire.Op{{Op: wire.OpAdd, Path: "/a/b", Value: 1.0}}, "error"},
		{"walk past array end", `{"a":[]}`, []wire.Op{{Op: wire.OpAdd, Path: "/a/0/b", Value: 1.0}}, "error"},
		{"no leading slash", `{"a":1}`, []wire.Op{{Op: wire.OpReplace, Path: "a", Value: 1.0}}, "error"},
		{"bad escape", `{"a~2":1}`, []wire.Op{{Op: wire.OpReplace, Path: "/a~2", Value: 1.0}}, "error"},
		{"trailing tilde", `{"a~":1}`, []wire.Op{{Op: wire.OpReplace, Path: "/a~", Value: 1.0}}, "error"},
		{"__proto__", `{}`, []wire.Op{{Op: wire.OpAdd, Path: "/__proto__", Value: 1.0}}, "error"},
		{"constructor inside", `{"constructor":{}}`, []wire.Op{{Op: wire.OpAdd, Path: "/constructor/x", Value: 1.0}}, `{"constructor":{"x":1}}`},
		{"prototype last", `{"a":{}}`, []wire.Op{{Op: wire.OpAdd, Path: "/a/prototype", Value: 1.0}}, `{"a":{"prototype":1}}`},
		{"unknown op", `{}`, []wire.Op{{Op: 3, Path: "/a", Value: 1.0}}, "error"},
		{"error after success", `{"a":1}`, []wire.Op{{Op: wire.OpRemove, Path: "/a"}, {Op: wire.OpRemove, Path: "/a"}}, "error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := jsonDoc(t, c.doc)
			got, err := wire.Apply(doc, c.ops)
			if !reflect.DeepEqual(doc, jsonDoc(t, c.doc)) {
				t.Fatalf("Apply changed its input to %v", doc)
			}
			if c.want == "error" {
				if err == nil {
					t.Fatalf("no error, got %v", got)
				}
				if !errors.Is(err, wire.ErrBadPatch) {
					t.Fatalf("error %v does not wrap ErrBadPatch", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := jsonDoc(t, c.want); !reflect.DeepEqual(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

func TestApplySharesUntouchedSubtrees(t *testing.T) {
	doc := jsonDoc(t, `{"a":{"x":[1,2]},"b":{"y":{"z":1}},"c":[{"k":1},{"k":2}]}`).(map[string]any)
	got, err := wire.Apply(doc, []wire.Op{
		{Op: wire.OpReplace, Path: "/b/y/z", Value: 2.0},
		{Op: wire.OpAdd, Path: "/c/1/j", Value: 3.0},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := got.(map[string]any)
	same := func(a, b any) bool { return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer() }
	if !same(m["a"], doc["a"]) {
		t.Error("untouched sibling /a was copied")
	}
	if same(m["b"], doc["b"]) || same(m, doc) {
		t.Error("a container on the path was not copied")
	}
	c, dc := m["c"].([]any), doc["c"].([]any)
	if !same(c[0], dc[0]) || same(c[1], dc[1]) {
		t.Error("array elements: untouched one copied or touched one shared")
	}
	if doc["b"].(map[string]any)["y"].(map[string]any)["z"] != 1.0 {
		t.Error("input changed")
	}
}

func TestApplyManyOpsOnOneArray(t *testing.T) {
	doc := any(map[string]any{"l": []any{}})
	var ops []wire.Op
	want := []any{}
	for i := range 1000 {
		ops = append(ops, wire.Op{Op: wire.OpAdd, Path: "/l/" + strconv.Itoa(i/2), Value: float64(i)})
		want = append(want[:i/2], append([]any{float64(i)}, want[i/2:]...)...)
	}
	for i := 0; i < 300; i++ {
		ops = append(ops, wire.Op{Op: wire.OpRemove, Path: "/l/" + strconv.Itoa(i)})
		want = append(want[:i], want[i+1:]...)
	}
	got, err := wire.Apply(doc, ops)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, map[string]any{"l": want}) {
		t.Fatal("wrong result")
	}
	if len(doc.(map[string]any)["l"].([]any)) != 0 {
		t.Fatal("input changed")
	}
}

// applyRef is a deliberately plain RFC 6902 implementation that deep-copies
// the document first; FuzzApply checks Apply against it.
func applyRef(doc any, ops []wire.Op) (any, bool) {
	doc = wire.Clone(doc)
	for _, op := range ops {
		if op.Op > wire.OpReplace {
			return nil, false
		}
		if op.Path == "" {
			if op.Op == wire.OpRemove {
				return nil, false
			}
			doc = op.Value
			continue
		}
		if !strings.HasPrefix(op.Path, "/") {
			return nil, false
		}
		toks := strings.Split(op.Path[1:], "/")
		for i, tok := range toks {
			if strings.Contains(strings.NewReplacer("~0", "", "~1", "").Replace(tok), "~") {
				return nil, false
			}
			toks[i] = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
			switch toks[i] {
			case "__proto__":
				return nil, false
			}
		}
		var ok bool
		if doc, ok = refSet(doc, toks, op); !ok {
			return nil, false
		}
	}
	return doc, true
}

func refIndex(tok string, n int) (int, bool) {
	if tok == "0" {
		return 0, n >= 0
	}
	if tok == "" || tok[0] < '1' || tok[0] > '9' {
		return 0, false
	}
	i, err := strconv.Atoi(tok)
	return i, err == nil && i <= n
}

func refSet(node any, toks []string, op wire.Op) (any, bool) {
	tok := toks[0]
	last := len(toks) == 1
	switch n := node.(type) {
	case map[string]any:
		if n == nil {
			n = map[string]any{}
		}
		_, exists := n[tok]
		switch {
		case !last:
			if !exists {
				return nil, false
			}
			child, ok := refSet(n[tok], toks[1:], op)
			if !ok {
				return nil, false
			}
			n[tok] = child
		case op.Op == wire.OpAdd:
			n[tok] = op.Value
		case !exists:
			return nil, false
		case op.Op == wire.OpRemove:
			delete(n, tok)
		default:
			n[tok] = op.Value
		}
		return n, true
	case []any:
		if last && op.Op == wire.OpAdd {
			i, ok := len(n), true
			if tok != "-" {
				i, ok = refIndex(tok, len(n))
			}
			if !ok {
				return nil, false
			}
			return append(n[:i:i], append([]any{op.Value}, n[i:]...)...), true
		}
		i, ok := refIndex(tok, len(n)-1)
		if !ok {
			return nil, false
		}
		switch {
		case !last:
			child, ok := refSet(n[i], toks[1:], op)
			if !ok {
				return nil, false
			}
			n[i] = child
		case op.Op == wire.OpRemove:
			return append(n[:i:i], n[i+1:]...), true
		default:
			n[i] = op.Value
		}
		return n, true
	}
	return nil, false
}

// fuzzOps turns bytes into ops aimed at doc: mostly real paths, some
// garbage, escapes, "-" and forbidden names.
func fuzzOps(doc any, b []byte) []wire.Op {
	next := func() int {
		if len(b) == 0 {
			return 0
		}
		c := int(b[0])
		b = b[1:]
		return c
	}
	var ops []wire.Op
	for len(b) > 0 && len(ops) < 16 {
		op := wire.Op{Op: wire.OpCode(next() % 4)}
		if op.Op == 3 && next()%8 != 0 {
			op.Op = wire.OpAdd
		}
		node := doc
		for depth := next() % 5; depth > 0; depth-- {
			tok := ""
			switch n := node.(type) {
			case map[string]any:
				tok = fuzzKey(n, next())
				node = n[tok]
			case []any:
				i := next() % (len(n) + 2)
				tok = strconv.Itoa(i)
				if i < len(n) {
					node = n[i]
				} else {
					node = nil
				}
			}
			switch next() % 16 {
			case 0:
				tok = "-"
			case 1:
				tok = []string{"__proto__", "constructor", "prototype", "~", "~2", "01", "x/y", ""}[next()%8]
			case 2:
				tok = strconv.Itoa(next() - 128)
			}
			op.Path = string(wire.AppendPointerToken([]byte(op.Path), tok))
			if tok == "~" && next()%2 == 0 {
				op.Path += "~"
			}
		}
		if op.Op != wire.OpRemove {
			op.Value = []any{nil, true, float64(next()), "s", map[string]any{"k": []any{1.0}}, []any{}}[next()%6]
		}
		ops = append(ops, op)
	}
	return ops
}

// fuzzKey picks a key of n by rank in sorted order, so the choice does not
// depend on map iteration order.
func fuzzKey(n map[string]any, i int) string {
	if len(n) == 0 {
		return fmt.Sprint(i % 3)
	}
	keys := make([]string, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys[i%len(keys)]
}

func FuzzApply(f *testing.F) {
	f.Add([]byte(`{"a":{"b":[1,2,{"c":null}]},"d":[]}`), []byte{2, 3, 0, 1, 2, 0, 5, 1, 2, 1, 7, 0, 1})
	f.Add([]byte(`[[],{}]`), []byte{0, 2, 1, 0, 3, 0, 1, 1, 1})
	f.Add([]byte(`{"~":{"a/b":1}}`), []byte{1, 2, 0, 0, 0, 0, 2, 1, 1, 0})
	f.Fuzz(func(t *testing.T, docJSON, opBytes []byte) {
		var doc any
		if json.Unmarshal(docJSON, &doc) != nil {
			doc = propGenFromBytes(docJSON).tree(4)
		}
		before := wire.Clone(doc)
		ops := fuzzOps(doc, opBytes)
		got, err := wire.Apply(doc, ops)
		if !reflect.DeepEqual(doc, before) {
			t.Fatalf("Apply changed its input")
		}
		want, ok := applyRef(doc, ops)
		if ok != (err == nil) {
			t.Fatalf("Apply error %v, reference ok %v; ops %v", err, ok, ops)
		}
		if err != nil {
			if !errors.Is(err, wire.ErrBadPatch) {
				t.Fatalf("error %v does not wrap ErrBadPatch", err)
			}
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %v, reference %v; ops %v", got, want, ops)
		}
	})
}
