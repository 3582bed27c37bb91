package wire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotstate/hotstate/core/wire"
	"github.com/vmihailenco/msgpack/v5"
)

// encode returns the MessagePack bytes EncodeValue writes for v.
func mpEncode(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := wire.EncodeValue(msgpack.NewEncoder(&buf), v); err != nil {
		t.Fatalf("EncodeValue(%#v): %v", v, err)
	}
	return buf.Bytes()
}

// decode reads b as a generic tree, the way clients do.
func mpDecode(t testing.TB, b []byte) any {
	t.Helper()
	d := msgpack.NewDecoder(bytes.NewReader(b))
	d.UseLooseInterfaceDecoding(true)
	v, err := d.DecodeInterfaceLoose()
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return v
}

// tree is mpDecode(mpEncode(v)): what a client holds for v.
func clientTree(t testing.TB, v any) any {
	t.Helper()
	return mpDecode(t, mpEncode(t, v))
}

// viaMsgpack decodes EncodeValue's output keeping float32 apart from
// float64, and normalises it for comparison with viaJSON.
func viaMsgpack(t *testing.T, v any) (any, error) {
	var buf bytes.Buffer
	if err := wire.EncodeValue(msgpack.NewEncoder(&buf), v); err != nil {
		return nil, err
	}
	d := msgpack.NewDecoder(&buf)
	x, err := d.DecodeInterface()
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if buf.Len() != 0 {
		t.Fatalf("%d trailing bytes", buf.Len())
	}
	return normalise(x), nil
}

// viaJSON is json.Unmarshal(json.Marshal(v)), normalised.
func viaJSON(t *testing.T, v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		t.Fatalf("json decode %s: %v", b, err)
	}
	return normalise(x), nil
}

// num is a number in a canonical text form: the two encodings represent
// the same number with different Go types.
type num string

func canonicalFloat(f float64) num {
	if f == math.Trunc(f) && math.Abs(f) < 1<<63 {
		return num(strconv.FormatInt(int64(f), 10))
	}
	return num(strconv.FormatFloat(f, 'g', -1, 64))
}

func normalise(x any) any {
	switch x := x.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, v := range x {
			m[k] = normalise(v)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, v := range x {
			s[i] = normalise(v)
		}
		return s
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return num(strconv.FormatInt(i, 10))
		}
		if u, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return num(strconv.FormatUint(u, 10))
		}
		f, _ := strconv.ParseFloat(string(x), 64)
		return canonicalFloat(f)
	case int8, int16, int32, int64:
		return num(strconv.FormatInt(reflect.ValueOf(x).Int(), 10))
	case uint8, uint16, uint32, uint64:
		return num(strconv.FormatUint(reflect.ValueOf(x).Uint(), 10))
	case float32:
		// json writes float32 with 32-bit shortest formatting.
		f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(x), 'g', -1, 32), 64)
		return canonicalFloat(f)
	case float64:
		return canonicalFloat(x)
	}
	return x
}

type innerT struct {
	A int
	B string `json:"b"`
}

type embedded struct {
	innerT
	C int
}

type embeddedPtr struct {
	*innerT
	C int
}

type Exported struct{ E, F int }

type embeddedExportedPtr struct {
	*Exported
	G int
}

type taggedEmbed struct {
	innerT `json:"in"`
	C      int
}

type conflictA struct{ X, Y int }
type conflictB struct{ X int }
type conflicts struct {
	conflictA
	conflictB
}

type taggedX struct {
	X int `json:"X"`
}
type tagWins struct {
	conflictB
	taggedX
}

type shallowWins struct {
	conflictA
	X string
}

type deep struct{ conflictB }
type depthWins struct {
	deep
	conflictA
}

type omitT struct {
	A  int            `json:",omitempty"`
	B  string         `json:"b,omitempty"`
	P  *int           `json:",omitempty"`
	M  map[string]int `json:",omitempty"`
	S  []int          `json:",omitempty"`
	Ar [0]int         `json:",omitempty"`
	F  float64        `json:",omitempty"`
	I  any            `json:",omitempty"`
	St innerT         `json:",omitempty"`
	Bo bool           `json:",omitempty"`
	U  uint8          `json:"u,omitempty"`
}

type dashT struct {
	A int `json:"-"`
	B int `json:"-,"`
	c int
	D func() `json:"-"`
}

type quotedT struct {
	N  int     `json:",string"`
	S  string  `json:",string"`
	B  bool    `json:",string"`
	F  float64 `json:",string"`
	F3 float32 `json:",string"`
	P  *int    `json:",string"`
	Nl *int    `json:",string"`
	J  json.Number
	JQ json.Number `json:",string"`
}

type zeroer struct{ v int }

func (z zeroer) IsZero() bool                 { return z.v < 0 }
func (z zeroer) MarshalJSON() ([]byte, error) { return []byte(strconv.Itoa(z.v)), nil }

type omitZero struct {
	T  time.Time         `json:",omitzero"`
	N  int               `json:",omitzero"`
	S  struct{ A int }   `json:",omitzero"`
	Z  zeroer            `json:",omitzero"`
	Fz float64           `json:",omitzero"`
	M  map[string]string `json:",omitzero"`
}

type marshT struct{ V int }

func (m marshT) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, `{"v": %d, "f": 1.5, "big": 18446744073709551615, "neg": -3, "e": 1e3, "l": [true, null, "x<y"]}`, m.V), nil
}

type ptrMarsh struct{ V int }

func (m *ptrMarsh) MarshalJSON() ([]byte, error) { return fmt.Appendf(nil, `"ptr %d"`, m.V), nil }

type textT struct{ A, B string }

func (t textT) MarshalText() ([]byte, error) { return []byte(t.A + "-" + t.B), nil }

type ptrText struct{ A string }

func (t *ptrText) MarshalText() ([]byte, error) { return []byte("pt:" + t.A), nil }

type textKey int

func (k textKey) MarshalText() ([]byte, error) { return []byte("k" + strconv.Itoa(int(k))), nil }

type strKey string

func (k strKey) MarshalText() ([]byte, error) { return []byte("never used"), nil }

type bothMarsh struct{ V int }

func (b bothMarsh) MarshalText() ([]byte, error)  { return []byte("text"), nil }
func (b *bothMarsh) MarshalJSON() ([]byte, error) { return []byte(`"json"`), nil }

type myBytes []byte
type myByte uint8

type holderT struct {
	PM   ptrMarsh
	PMs  []ptrMarsh
	PMp  *ptrMarsh
	PT   ptrText
	PTs  []ptrText
	BM   bothMarsh
	BMs  []bothMarsh
	BMm  map[string]bothMarsh
	Arr  [2]ptrMarsh
	ArrS [][2]ptrMarsh
}

type embedsTime struct {
	time.Time
	X int
}

type treeNode struct {
	Name     string      `json:"name"`
	Children []*treeNode `json:"children,omitempty"`
}

type ifaces struct {
	A any
	B fmt.Stringer
	C any
	D any
	E json.Marshaler
}

func ptrTo[T any](v T) *T { return &v }

func equivalenceCases() map[string]any {
	when := time.Date(2024, 2, 29, 13, 4, 5, 123456789, time.FixedZone("X", 3600))
	return map[string]any{
		"nil":               nil,
		"bool":              true,
		"ints":              []any{0, -1, 127, 128, 255, 256, -32, -33, -129, 65535, 65536, math.MaxInt64, math.MinInt64, uint64(math.MaxUint64), int8(-5), uint16(7)},
		"floats":            []any{0.0, 1.5, -2.25, 1e300, 5e-324, float32(0.1), float32(3.5), 1e21, 1e20, 123456789.0},
		"negzero":           math.Copysign(0, -1),
		"string":            "héllo <&> \u2028",
		"invalid utf8":      "a\xffb\xc3",
		"embedded":          embedded{innerT{1, "x"}, 2},
		"embedded ptr":      embeddedPtr{&innerT{1, "x"}, 2},
		"nil embedded":      embeddedPtr{nil, 2},
		"exported ptr":      embeddedExportedPtr{&Exported{1, 2}, 3},
		"tagged embed":      taggedEmbed{innerT{1, "x"}, 2},
		"conflicts":         conflicts{conflictA{1, 2}, conflictB{3}},
		"tag wins":          tagWins{conflictB{1}, taggedX{2}},
		"shallow wins":      shallowWins{conflictA{1, 2}, "top"},
		"depth wins":        depthWins{deep{conflictB{1}}, conflictA{2, 3}},
		"omit empty":        omitT{},
		"omit full":         omitT{1, "b", ptrTo(0), map[string]int{"a": 1}, []int{1}, [0]int{}, -0.0, 0, innerT{}, true, 3},
		"omit negzero":      omitT{F: math.Copysign(0, -1), S: []int{}, M: map[string]int{}},
		"dash":              dashT{A: 1, B: 2, c: 3},
		"quoted":            quotedT{N: -5, S: `a"b<`, B: true, F: 1e-7, F3: 0.1, P: ptrTo(9), J: "12.50", JQ: "7"},
		"number zero":       quotedT{},
		"omitzero":          omitZero{},
		"omitzero full":     omitZero{T: when, N: 1, S: struct{ A int }{1}, Z: zeroer{-1}, Fz: math.Copysign(0, -1), M: map[string]string{}},
		"time":              when,
		"time ptr":          &when,
		"nil time ptr":      (*time.Time)(nil),
		"embeds time":       embedsTime{when, 1},
		"bytes":             []byte("hello, world"),
		"nil bytes":         []byte(nil),
		"empty bytes":       []byte{},
		"named bytes":       myBytes("abc"),
		"byte elems":        []myByte{1, 2, 3},
		"byte array":        [3]byte{1, 2, 3},
		"marshaler":         marshT{7},
		"marshalers":        []marshT{{1}, {2}},
		"ptr marshaler":     holderT{PM: ptrMarsh{1}, PMs: []ptrMarsh{{2}}, PMp: &ptrMarsh{3}, PT: ptrText{"a"}, PTs: []ptrText{{"b"}}, BM: bothMarsh{}, BMs: []bothMarsh{{}}, BMm: map[string]bothMarsh{"k": {}}, ArrS: [][2]ptrMarsh{{{1}, {2}}}},
		"ptr marshaler ptr": &holderT{PM: ptrMarsh{1}, Arr: [2]ptrMarsh{{4}, {5}}},
		"text":              textT{"a", "b"},
		"text map":          map[textT]int{{"x", "y"}: 1, {"a", "b"}: 2},
		"int keys":          map[int]string{10: "ten", 9: "nine", -1: "minus"},
		"uint8 keys":        map[uint8]bool{200: true, 3: false},
		"text keys":         map[textKey]int{1: 1, 22: 2},
		"string keys":       map[strKey]int{"z": 1, "a": 2},
		"nil map":           map[string]int(nil),
		"empty map":         map[string]int{},
		"nested ptrs":       ptrTo(ptrTo(ptrTo(42))),
		"nil ptr":           (*int)(nil),
		"ptr to nil":        ptrTo((*int)(nil)),
		"nil slice":         []int(nil),
		"empty slice":       []int{},
		"slice of ptrs":     []*innerT{{1, "a"}, nil},
		"array":             [2][2]int{{1, 2}, {3, 4}},
		"ifaces":            ifaces{A: 1, B: time.Second, C: []any{innerT{}, nil}, D: (*innerT)(nil), E: marshT{3}},
		"nil ifaces":        ifaces{},
		"tree":              &treeNode{"root", []*treeNode{{"a", nil}, {"b", []*treeNode{{"c", nil}}}}},
		"generic":           map[string]any{"z": []any{1, "x", nil, true, 2.5, map[string]any{}}, "a": map[string]any{"b": []any{}}, "n": nil, "i64": int64(-7), "u64": uint64(1 << 63)},
		"generic nils":      map[string]any{"m": map[string]any(nil), "s": []any(nil)},
		"any slice":         []any{embedded{}, []byte("x"), map[int]int{1: 2}},
		"struct in map":     map[string]innerT{"k": {1, "v"}},
		"anon struct":       struct{ A, b int }{1, 2},
		"json number":       json.Number("-12.5e3"),
		"empty struct":      struct{}{},
		"uintptr":           uintptr(77),
	}
}

func TestEncodeValueMatchesJSON(t *testing.T) {
	for name, v := range equivalenceCases() {
		t.Run(name, func(t *testing.T) {
			got, err := viaMsgpack(t, v)
			if err != nil {
				t.Fatalf("EncodeValue: %v", err)
			}
			want, err := viaJSON(t, v)
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %#v\nwant %#v", got, want)
			}
		})
	}
}

func TestEncodeValueErrors(t *testing.T) {
	cyclic := &treeNode{Name: "loop"}
	cyclic.Children = []*treeNode{cyclic}
	cases := map[string]any{
		"chan":        make(chan int),
		"func":        func() {},
		"complex":     complex(1, 2),
		"nan":         math.NaN(),
		"inf":         math.Inf(-1),
		"nan32":       float32(math.Inf(1)),
		"nan field":   struct{ F float64 }{math.NaN()},
		"chan field":  struct{ C chan int }{},
		"bad key":     map[[2]int]int{{1, 2}: 3},
		"bad number":  json.Number("12x"),
		"cycle":       cyclic,
		"in generic":  map[string]any{"f": func() {}},
		"bad marshal": struct{ M badMarshal }{},
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := json.Marshal(v); err == nil {
				t.Fatalf("json.Marshal accepts %#v", v)
			}
			_, err := viaMsgpack(t, v)
			if err == nil {
				t.Fatal("EncodeValue accepted it")
			}
			if name != "bad marshal" && !errors.Is(err, wire.ErrUnsupportedValue) {
				t.Errorf("error %v does not wrap ErrUnsupportedValue", err)
			}
		})
	}
}

type badMarshal struct{ X int }

func (badMarshal) MarshalJSON() ([]byte, error) { return []byte(`{"a":`), nil }

func TestEncodeValueSmallestIntegers(t *testing.T) {
	cases := []struct {
		v    any
		want []byte
	}{
		{5, []byte{0x05}},
		{-1, []byte{0xff}},
		{200, []byte{0xcc, 200}},
		{uint64(70000), []byte{0xce, 0, 1, 0x11, 0x70}},
		{int64(-200), []byte{0xd1, 0xff, 0x38}},
		{float32(1.5), []byte{0xca, 0x3f, 0xc0, 0, 0}},
	}
	for _, c := range cases {
		if got := mpEncode(t, c.v); !bytes.Equal(got, c.want) {
			t.Errorf("%T %v: got % x, want % x", c.v, c.v, got, c.want)
		}
	}
}

func TestEncodeValueSortsKeys(t *testing.T) {
	m := map[string]any{}
	for i := range 50 {
		m["k"+strconv.Itoa(i)] = i
	}
	first := mpEncode(t, m)
	for range 20 {
		if !bytes.Equal(mpEncode(t, m), first) {
			t.Fatal("map encoding is not deterministic")
		}
	}
}

func TestEncodeReflectInvalid(t *testing.T) {
	var buf bytes.Buffer
	if err := wire.EncodeReflect(msgpack.NewEncoder(&buf), reflect.Value{}); err != nil {
		t.Fatal(err)
	}
	if got := buf.Bytes(); !bytes.Equal(got, []byte{0xc0}) {
		t.Fatalf("got % x", got)
	}
}

func TestEncodeOps(t *testing.T) {
	ops := []wire.Op{
		{Op: wire.OpReplace, Path: "/items/3/done", Value: true},
		{Op: wire.OpRemove, Path: "/a~1b", Value: "ignored"},
		{Op: wire.OpAdd, Path: "/x/-", Value: map[string]any{"k": []any{1}}},
	}
	var buf bytes.Buffer
	if err := wire.EncodeOps(msgpack.NewEncoder(&buf), ops); err != nil {
		t.Fatal(err)
	}
	got := mpDecode(t, buf.Bytes())
	want := []any{
		[]any{int64(2), "/items/3/done", true},
		[]any{int64(1), "/a~1b"},
		[]any{int64(0), "/x/-", map[string]any{"k": []any{int64(1)}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v", got)
	}
	if err := wire.EncodeOps(msgpack.NewEncoder(&buf), []wire.Op{{Op: 7}}); err == nil {
		t.Fatal("unknown op code encoded")
	}
}

func TestEncodeOpsSize(t *testing.T) {
	// PROTOCOL.md's example patch frame is 44 bytes; its ops are 18.
	var buf bytes.Buffer
	ops := []wire.Op{{Op: wire.OpReplace, Path: "/items/3/done", Value: true}}
	if err := wire.EncodeOps(msgpack.NewEncoder(&buf), ops); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 18 {
		t.Fatalf("ops take %d bytes: % x", buf.Len(), buf.Bytes())
	}
	if !strings.HasPrefix(buf.String(), "\x91\x93\x02\xad/items/3/done") {
		t.Fatalf("% x", buf.Bytes())
	}
}
