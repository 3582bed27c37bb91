package wire

import (
	"bytes"
	"math"
	"reflect"
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
	})
}
