package wire

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

type bindInner struct {
	OK   bool    `json:"ok"`
	Rate float64 `json:"rate"`
}

type bindBase struct {
	Base string `json:"base"`
}

type bindNode struct {
	Name string      `json:"name"`
	Kids []*bindNode `json:"kids"`
}

type bindArgs struct {
	bindBase
	Text               string              `json:"text"`
	N                  int                 `json:"n,omitempty"`
	Small              int8                `json:"small"`
	U                  uint16              `json:"u"`
	Big                uint64              `json:"big"`
	Tags               []string            `json:"tags"`
	Meta               map[string]int64    `json:"meta"`
	Nested             map[string][]string `json:"nested"`
	Inner              *bindInner          `json:"inner"`
	Node               *bindNode           `json:"node"`
	Plain              bindInner
	Skip               string `json:"-"`
	Untagged, UNTAGGED string
}

// Types the binder leaves to the fallback, so their inputs always take it.
type (
	withTime   struct{ At time.Time }
	withQuoted struct {
		N int `json:"n,string"`
	}
	withBytes struct{ B []byte }
	withAny   struct{ V any }
)

// slowDecode is the exact path: the generic tree through encoding/json.
func slowDecode(raw []byte, v any) error {
	t, err := DecodeAny(raw)
	if err != nil {
		return err
	}
	return FromTree(t, v)
}

func mp(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sameAsFallback checks that when bind accepts raw for T, the fallback also
// accepts it and gives the same value. It reports whether bind accepted.
func sameAsFallback[T any](t testing.TB, raw []byte) bool {
	t.Helper()
	var fast, slow T
	bound := bind(raw, &fast)
	err := slowDecode(raw, &slow)
	if !bound {
		if !reflect.ValueOf(&fast).Elem().IsZero() {
			t.Errorf("%x: gave up but left %+v", raw, fast)
		}
		return false
	}
	if err != nil {
		t.Errorf("%x: bound %+v, fallback failed: %v", raw, fast, err)
	} else if !reflect.DeepEqual(fast, slow) {
		t.Errorf("%x: bound %+v, fallback gave %+v", raw, fast, slow)
	}
	return true
}

func TestBindMatchesFallback(t *testing.T) {
	accepted := []any{
		map[string]any{"text": "a", "n": 3, "tags": []any{"x", "y"}, "meta": map[string]any{"k": 7}, "inner": map[string]any{"ok": true, "rate": 1.5}, "extra": []any{1, "two", nil, 2.5, map[string]any{"x": false}}},
		map[string]any{"TEXT": "folded", "Plain": map[string]any{"OK": true, "rate": 3}, "base": "promoted", "untagged": "first of two", "small": -128, "u": 65535, "big": uint64(math.MaxUint64)},
		map[string]any{"node": map[string]any{"name": "root", "kids": []any{map[string]any{"name": "leaf", "kids": nil}, nil}}},
		map[string]any{"inner": nil, "tags": []any{}, "meta": map[string]any{}, "nested": map[string]any{"a": []any{"b"}}},
		map[string]any{"Skip": "ignored", "-": "ignored", "text": nil},
		map[string]any{},
	}
	for _, in := range accepted {
		if !sameAsFallback[bindArgs](t, mp(t, in)) {
			t.Errorf("%v: gave up on a value it should bind", in)
		}
	}
	refused := []any{
		[]any{"x"},                            // an array for a struct: JSON refuses it
		map[string]any{"n": 2.0},              // a float for an int: JSON takes it if integral
		map[string]any{"small": 200},          // out of range
		map[string]any{"u": -1},               // negative for unsigned
		map[string]any{"text": []byte("bin")}, // bin is base64 text in JSON
		map[string]any{"text": "\xff"},        // invalid UTF-8 becomes U+FFFD in JSON
		map[string]any{"inner": map[string]any{"rate": math.NaN()}},
		map[string]any{"extra": math.Inf(1)},    // even in a skipped value
		map[string]any{"tëxt": "non-ASCII key"}, // Unicode folding is left to JSON
		map[string]any{"meta": map[string]any{"k": "x"}},
		map[string]any{"tags": "not a list"},
		"text",
	}
	for _, in := range refused {
		if sameAsFallback[bindArgs](t, mp(t, in)) {
			t.Errorf("%v: bound a value it should leave to the fallback", in)
		}
	}
	// Two keys for one field: the fallback sees them sorted, not in wire order.
	twice := []byte{0x82, 0xa4, 't', 'e', 'x', 't', 0xa1, 'a', 0xa4, 'T', 'E', 'X', 'T', 0xa1, 'b'}
	if sameAsFallback[bindArgs](t, twice) {
		t.Error("bound two keys that land on one field")
	}
	for _, in := range []any{map[string]any{"At": "2026-01-02T03:04:05Z"}, map[string]any{"n": "5"}, map[string]any{"B": "AQI="}, map[string]any{"V": 1}} {
		raw := mp(t, in)
		if sameAsFallback[withTime](t, raw) || sameAsFallback[withQuoted](t, raw) || sameAsFallback[withBytes](t, raw) || sameAsFallback[withAny](t, raw) {
			t.Errorf("%v: bound a type it should leave to the fallback", in)
		}
	}
	// Scalars and containers at the top.
	for _, in := range []any{int64(-5), "s", true, 2.25, []any{1, 2}, map[string]any{"a": 1}} {
		raw := mp(t, in)
		sameAsFallback[int](t, raw)
		sameAsFallback[string](t, raw)
		sameAsFallback[bool](t, raw)
		sameAsFallback[float64](t, raw)
		sameAsFallback[[]int](t, raw)
		sameAsFallback[map[string]int](t, raw)
	}
}

// A value DecodeValue is given that already holds something is left to the
// fallback, which merges into it as encoding/json does.
func TestDecodeValueMergesIntoAFilledValue(t *testing.T) {
	v := bindArgs{Text: "kept", N: 1}
	if err := DecodeValue(mp(t, map[string]any{"n": 2}), &v); err != nil {
		t.Fatal(err)
	}
	if v.Text != "kept" || v.N != 2 {
		t.Errorf("got %+v", v)
	}
}

func TestBindAllocations(t *testing.T) {
	raw := mp(t, map[string]any{"text": "hello", "n": 42})
	allocs := testing.AllocsPerRun(100, func() {
		var v bindArgs
		if err := DecodeValue(raw, &v); err != nil {
			t.Fatal(err)
		}
	})
	// The string and the escaping target; the fallback takes dozens.
	if allocs > 3 {
		t.Errorf("%.0f allocations per decode", allocs)
	}
}

func FuzzBind(f *testing.F) {
	for _, in := range []any{
		map[string]any{"text": "a", "n": 3, "tags": []any{"x"}, "meta": map[string]any{"k": 7}, "inner": map[string]any{"ok": true}},
		map[string]any{"node": map[string]any{"name": "r", "kids": []any{map[string]any{"name": "l"}}}},
		map[string]any{"big": uint64(math.MaxUint64), "small": -3, "Plain": map[string]any{"rate": 0.5}},
		[]any{int64(1), "x", nil, true, 1.5},
	} {
		f.Add(mp(f, in))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		sameAsFallback[bindArgs](t, raw)
		sameAsFallback[[]int16](t, raw)
		sameAsFallback[map[string]float64](t, raw)
		sameAsFallback[*uint](t, raw)
		describedInJSON[bindArgs](t, raw)
		describedInJSON[[]int16](t, raw)
		describedInJSON[map[string]float64](t, raw)
		describedInJSON[*uint](t, raw)
	})
}

// Argument types as a function's author might write them: unexported,
// embedded, nested, with their own UnmarshalJSON.
type (
	argsBase struct {
		Note string `json:"note"`
	}
	argsLine struct {
		Qty int `json:"qty"`
	}
	argsOrder struct {
		Items []argsLine `json:"items"`
	}
	argsCheck       struct{}
	internalPayment struct {
		argsBase
		Amount  int           `json:"amount"`
		Label   string        `json:"label"`
		Tags    []string      `json:"tags"`
		Payment argsOrder     `json:"payment"`
		Small   int8          `json:"small"`
		Units   uint16        `json:"units"`
		Counts  map[int16]int `json:"counts"`
		Check   argsCheck     `json:"check"`
		At      time.Time     `json:"at"`
		Blob    []byte        `json:"blob"`
	}
)

const argsSecret = "sk_live_4242"

func (*argsCheck) UnmarshalJSON([]byte) error {
	return errors.New("argsCheck: token " + argsSecret + " rejected")
}

func TestDecodeArgsSpeaksJSON(t *testing.T) {
	items := func(qty ...any) map[string]any {
		var l []any
		for _, q := range qty {
			l = append(l, map[string]any{"qty": q})
		}
		return map[string]any{"payment": map[string]any{"items": l}}
	}
	for _, c := range []struct {
		in   any
		want string
	}{
		{map[string]any{"amount": "ten"}, `argument "/amount": expected a number, got a string`},
		{map[string]any{"label": 5}, `argument "/label": expected a string, got a number`},
		{map[string]any{"tags": map[string]any{"a": "b"}}, `argument "/tags": expected an array, got an object`},
		{map[string]any{"payment": map[string]any{"items": "none"}}, `argument "/payment/items": expected an array, got a string`},
		{items(1, 2, "3"), `argument "/payment/items/2/qty": expected a number, got a string`},
		{map[string]any{"payment": true}, `argument "/payment": expected an object, got a boolean`},
		{items(1.5), `argument "/payment/items/0/qty": expected an integer, got 1.5`},
		{map[string]any{"small": 300}, `argument "/small": expected an integer from -128 to 127, got 300`},
		{map[string]any{"units": -1}, `argument "/units": expected an integer from 0 to 65535, got -1`},
		{[]any{1, 2}, `arguments: expected an object, got an array`},
		{"pay", `arguments: expected an object, got a string`},
		{map[string]any{"check": "x"}, `argument "/check": invalid value`},
		// The type error at "amount" comes first, but an UnmarshalJSON
		// error stops decoding and is what encoding/json reports.
		{map[string]any{"amount": "ten", "check": 1}, `argument "/check": invalid value`},
		// encoding/json names a promoted field through its Go embedding.
		{map[string]any{"note": 1}, `argument "/note": expected a string, got a number`},
		// The caller's spelling of a key, not the field's.
		{map[string]any{"AMOUNT": "ten"}, `argument "/AMOUNT": expected a number, got a string`},
		{map[string]any{"counts": map[string]any{"1": 1, "x/y~": 2}}, `argument "/counts/x~1y~0": expected an integer key from -32768 to 32767, got "x/y~"`},
		{map[string]any{"at": "tomorrow"}, `argument "/at": invalid value`},
		{map[string]any{"blob": "!!"}, `argument "/blob": expected base64 text`},
		{map[string]any{"tags": []any{"a", math.Inf(1)}}, `argument "/tags/1": expected a finite number`},
	} {
		raw := mp(t, c.in)
		if sameAsFallback[internalPayment](t, raw) {
			t.Errorf("%v: bound", c.in)
		}
		var v internalPayment
		err := DecodeArgs(raw, &v)
		var ae *ArgsError
		if !errors.As(err, &ae) {
			t.Errorf("%v: got %v, want an *ArgsError", c.in, err)
			continue
		}
		if ae.Error() != c.want {
			t.Errorf("%v:\n got %s\nwant %s", c.in, ae.Error(), c.want)
		}
		if leak := goTerms(ae.Error(), "internalPayment", "argsBase", "argsLine", "argsOrder", "argsCheck", "time", "parsing", argsSecret); leak != "" {
			t.Errorf("%v: %q names %q", c.in, ae.Error(), leak)
		}
		// What the caller is not told is kept for the server's log.
		if ae.Err == nil || ae.Unwrap() != ae.Err {
			t.Errorf("%v: lost the decoder's error", c.in)
		}
	}
	var v internalPayment
	if err := DecodeArgs(mp(t, map[string]any{"check": 1}), &v); !strings.Contains(errors.Unwrap(err).Error(), argsSecret) {
		t.Errorf("the UnmarshalJSON error %v is not behind the ArgsError", errors.Unwrap(err))
	}
}

// Not MessagePack the protocol allows: here an extension.
func TestDecodeArgsMalformed(t *testing.T) {
	raw := []byte{0x81, 0xa6, 'a', 'm', 'o', 'u', 'n', 't', 0xd4, 0x01, 0x00}
	var v internalPayment
	var tree any
	for _, err := range []error{DecodeArgs(raw, &v), DecodeArgs(raw, &tree)} {
		if err == nil || err.Error() != "arguments: not a valid value" {
			t.Errorf("got %v", err)
		}
	}
}

// A search that would take long stops at an ancestor of the culprit.
func TestDecodeArgsBudget(t *testing.T) {
	l := make([]any, 200)
	for i := range l {
		l[i] = map[string]any{"qty": i}
	}
	l[150] = map[string]any{"qty": "x"}
	raw := mp(t, map[string]any{"payment": map[string]any{"items": l}})
	tree, err := DecodeAny(raw)
	if err != nil {
		t.Fatal(err)
	}
	cause := slowDecode(raw, new(internalPayment))
	const culprit = "/payment/items/150/qty"
	if path, _ := locate(tree, reflect.TypeFor[internalPayment](), cause, 1<<20); path != culprit {
		t.Errorf("with budget: %q", path)
	}
	path, _ := locate(tree, reflect.TypeFor[internalPayment](), cause, len(raw))
	if path == culprit || !strings.HasPrefix(culprit+"/", path+"/") {
		t.Errorf("short of budget: %q, want a proper ancestor of %q", path, culprit)
	}
}

var (
	goWord  = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)
	quoted  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	goTypes = map[string]bool{"Go": true, "json": true, "struct": true, "map": true, "slice": true,
		"interface": true, "bool": true, "int": true, "int8": true, "int16": true, "int32": true,
		"int64": true, "uint": true, "uint8": true, "uint16": true, "uint32": true, "uint64": true,
		"float32": true, "float64": true, "unmarshal": true, "reflect": true, "wire": true}
)

// goTerms returns a word of msg, outside its quoted parts, that belongs to
// Go rather than JSON, or is one of names; "" if there is none.
func goTerms(msg string, names ...string) string {
	for _, w := range goWord.FindAllString(quoted.ReplaceAllString(msg, `""`), -1) {
		if goTypes[w] || slices.Contains(names, w) {
			return w
		}
	}
	for _, n := range names {
		if strings.Contains(msg, n) {
			return n
		}
	}
	return ""
}

// describedInJSON checks that DecodeArgs fails exactly when the fallback
// does, with a message free of Go and a path that exists in the arguments.
func describedInJSON[T any](t *testing.T, raw []byte) {
	t.Helper()
	var v T
	err := DecodeArgs(raw, &v)
	if slow := slowDecode(raw, new(T)); (err == nil) != (slow == nil) {
		t.Fatalf("%x: DecodeArgs said %v, the fallback %v", raw, err, slow)
	}
	if err == nil {
		return
	}
	var ae *ArgsError
	if !errors.As(err, &ae) {
		t.Fatalf("%x: %v is not an *ArgsError", raw, err)
	}
	if w := goTerms(ae.Problem, "bindArgs", "bindBase", "bindInner", "bindNode"); w != "" {
		t.Fatalf("%x: %q says %q", raw, ae.Problem, w)
	}
	tree, terr := DecodeAny(raw)
	if terr != nil {
		if ae.Path != "" {
			t.Fatalf("%x: malformed, yet a path %q", raw, ae.Path)
		}
		return
	}
	if !resolves(tree, ae.Path) {
		t.Fatalf("%x: %q is not in %v", raw, ae.Path, tree)
	}
}

// resolves reports whether pointer names a value in tree, keys compared as
// JSON sees them.
func resolves(tree any, pointer string) bool {
	if pointer == "" {
		return true
	}
	if pointer[0] != '/' {
		return false
	}
	for _, tok := range strings.Split(pointer[1:], "/") {
		tok, err := unescapeToken(tok)
		if err != nil {
			return false
		}
		switch n := tree.(type) {
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n) {
				return false
			}
			tree = n[i]
		case map[string]any:
			found := false
			for k, v := range n {
				if jsonKey(k) == tok {
					tree, found = v, true
					break
				}
			}
			if !found {
				return false
			}
		default:
			return false
		}
	}
	return true
}
