package tsgen_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/tsgen"
)

var update = flag.Bool("update", false, "rewrite testdata/shapes.ts")

// generate registers a store "S" of state T and returns the generated
// module and warnings.
func generate[T any](t *testing.T, opts ...tsgen.Option) (string, []tsgen.Warning) {
	t.Helper()
	srv := hotstate.New()
	var zero T
	hotstate.NewStore(srv, "S", zero)
	src, warnings, err := tsgen.Generate(srv.Schema(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return string(src), warnings
}

// has fails unless out has each line, leading spaces ignored.
func has(t *testing.T, out string, lines ...string) {
	t.Helper()
	got := map[string]bool{}
	for l := range strings.Lines(out) {
		got[strings.TrimSpace(l)] = true
	}
	for _, l := range lines {
		if !got[l] {
			t.Errorf("no line %q in\n%s", l, out)
		}
	}
}

func hasNot(t *testing.T, out string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if strings.Contains(out, p) {
			t.Errorf("%q in\n%s", p, out)
		}
	}
}

func TestTags(t *testing.T) {
	type S struct {
		Tagged   string `json:"tagged"`
		Untagged string
		Dropped  string `json:"-"`
		Dash     string `json:"-,"`
		Odd      string `json:"a-b"`
		Options  string `json:",omitempty"`
		hidden   string
	}
	out, _ := generate[S](t)
	has(t, out, "tagged: string;", "Untagged: string;", `"-": string;`, `"a-b": string;`, "Options?: string;")
	hasNot(t, out, "Dropped", "hidden")
}

func TestOptional(t *testing.T) {
	type Inner struct {
		A int8 `json:"a"`
	}
	type S struct {
		Str    string            `json:"str,omitempty"`
		Ptr    *int8             `json:"ptr,omitempty"`
		Slice  []int8            `json:"slice,omitempty"`
		Map    map[string]int8   `json:"map,omitempty"`
		Struct Inner             `json:"struct,omitempty"` // a struct is never empty
		Zero   Inner             `json:"zero,omitzero"`
		ZPtr   *Inner            `json:"zptr,omitzero"`
		ZTime  time.Time         `json:"ztime,omitzero"`
		Plain  *int8             `json:"plain"`
		Nested map[string]*Inner `json:"nested"`
	}
	out, _ := generate[S](t)
	has(t, out,
		"str?: string;", "ptr?: number;", "slice?: number[];", "map?: { [key: string]: number };",
		"struct: Inner;", "zero?: Inner;", "zptr?: Inner;", "ztime?: string;",
		"plain: number | null;", "nested: { [key: string]: Inner | null } | null;",
	)
}

func TestQuoted(t *testing.T) {
	type S struct {
		ID    int64   `json:"id,string"`
		Ptr   *uint64 `json:"ptr,string"`
		Flag  bool    `json:"flag,string"`
		Float float64 `json:"float,string"`
		Slice []int64 `json:"slice,string"` // not a basic type: the option does nothing
	}
	out, warnings := generate[S](t)
	has(t, out, "id: string;", "ptr: string | null;", "flag: string;", "float: string;", "slice: number[] | null;")
	if len(warnings) != 1 || warnings[0].Where != "tsgen_test.S.slice" {
		t.Errorf("warnings %v, want one for S.slice", warnings)
	}
}

func TestEmbedded(t *testing.T) {
	type Base struct {
		ID   int32  `json:"id"`
		Name string `json:"name"`
	}
	type Extra struct {
		Note string `json:"note"`
		Name string `json:"name"` // ties with Base.Name: neither is sent
	}
	type Meta struct {
		Tag string `json:"tag"`
	}
	type Named struct {
		X bool `json:"x"`
	}
	type S struct {
		Base
		*Extra
		Meta  `json:"meta"` // a tag makes it a field
		Named               // depth 1: shadowed by S.X
		X     string        `json:"x"`
	}
	out, _ := generate[S](t)
	has(t, out, "id: number;", "note?: string;", "meta: Meta;", "x: string;")
	hasNot(t, out, "name:", "name?:", "x: boolean")
}

func TestSpecialTypes(t *testing.T) {
	type S struct {
		Time     time.Time       `json:"time"`
		TimePtr  *time.Time      `json:"timePtr"`
		Bytes    []byte          `json:"bytes"`
		Array    [4]byte         `json:"array"`
		Addr     netip.Addr      `json:"addr"` // MarshalText
		Number   json.Number     `json:"number"`
		Raw      json.RawMessage `json:"raw"`
		Any      any             `json:"any"`
		Duration time.Duration   `json:"duration"`
	}
	out, _ := generate[S](t)
	has(t, out,
		"time: string;", "timePtr: string | null;",
		"/** []byte: base64 of the bytes */", "bytes: string | null;",
		"array: number[];", "addr: string;", "number: number;", "raw: unknown;", "any: unknown;",
		"duration: number;",
	)
}

func TestCollections(t *testing.T) {
	type Key struct{ A, B int8 }
	type S struct {
		Slice   []string             `json:"slice"`
		Ptrs    []*string            `json:"ptrs"`
		Nested  [][]string           `json:"nested"`
		IntKeys map[int8]string      `json:"intKeys"`
		TextKey map[netip.Addr]int8  `json:"textKey"`
		Structs map[string]struct{}  `json:"structs"`
		Arr     [2]map[string]string `json:"arr"`
	}
	out, _ := generate[S](t)
	has(t, out,
		"slice: string[] | null;", "ptrs: (string | null)[] | null;", "nested: (string[] | null)[] | null;",
		"intKeys: { [key: string]: string } | null;", "textKey: { [key: string]: number } | null;",
		"structs: { [key: string]: { [key: string]: never } } | null;",
		"arr: ({ [key: string]: string } | null)[];",
	)

	out, _ = generate[S](t, tsgen.NonNullCollections())
	has(t, out, "slice: string[];", "ptrs: (string | null)[];", "nested: string[][];", "intKeys: { [key: string]: string };")

	type Bad struct {
		M map[Key]string `json:"m"`
	}
	srv := hotstate.New()
	hotstate.NewStore(srv, "Bad", Bad{})
	if _, _, err := tsgen.Generate(srv.Schema()); err == nil || !strings.Contains(err.Error(), "map key") {
		t.Errorf("a struct map key: %v", err)
	}
}

func TestUnsupported(t *testing.T) {
	srv := hotstate.New()
	hotstate.Handle(srv, "f", func(ctx context.Context, a struct{ C chan int }) (any, error) { return nil, nil })
	if _, _, err := tsgen.Generate(srv.Schema()); err == nil || !strings.Contains(err.Error(), "chan int") {
		t.Errorf("a channel: %v", err)
	}
}

func TestLargeIntegers(t *testing.T) {
	type ID int64
	type S struct {
		A     int     `json:"a"`
		B     int64   `json:"b"`
		C     uint    `json:"c"`
		D     uint64  `json:"d"`
		E     uintptr `json:"e"`
		F     ID      `json:"f"`
		G     []int64 `json:"g"`
		Small int32   `json:"small"`
		U32   uint32  `json:"u32"`
		Str   int64   `json:"str,string"`
		Float float64 `json:"float"`
	}
	out, warnings := generate[S](t)
	var where []string
	for _, w := range warnings {
		where = append(where, w.Where)
		if !strings.Contains(w.Message, "2^53") {
			t.Errorf("warning %v", w)
		}
	}
	want := []string{"tsgen_test.S.a", "tsgen_test.S.b", "tsgen_test.S.c", "tsgen_test.S.d", "tsgen_test.S.e", "tsgen_test.ID", "tsgen_test.S.g"}
	if !reflect.DeepEqual(where, want) {
		t.Errorf("warnings at %v, want %v", where, want)
	}
	has(t, out,
		`/** int64: may exceed 2^53, beyond which JavaScript numbers lose precision; send such values as strings (json:",string") */`,
		"f: ID;", "export type ID = number;", "small: number;", "str: string;",
		"* ID is the Go type tsgen_test.ID.",
	)
	if n := strings.Count(out, "2^53"); n != 8 { // a to g, and ID's declaration
		t.Errorf("%d comments on large integers, want 8:\n%s", n, out)
	}
}

type money struct{ cents int64 }

func (m money) MarshalJSON() ([]byte, error) { return json.Marshal(float64(m.cents) / 100) }

func TestMarshalers(t *testing.T) {
	type S struct {
		Price money  `json:"price"`
		Ptr   *money `json:"ptr"`
	}
	out, warnings := generate[S](t)
	has(t, out, "price: unknown;", "ptr: unknown;")
	if len(warnings) == 0 || !strings.Contains(warnings[0].Message, "WithType") {
		t.Errorf("warnings %v", warnings)
	}
	out, warnings = generate[S](t, tsgen.WithType(reflect.TypeFor[money](), "number"))
	has(t, out, "price: number;", "ptr: number | null;")
	if len(warnings) != 0 {
		t.Errorf("warnings %v", warnings)
	}
	type Theme string
	type C struct {
		Theme Theme `json:"theme"`
	}
	out, _ = generate[C](t, tsgen.WithType(reflect.TypeFor[Theme](), `"light" | "dark"`))
	has(t, out, `theme: "light" | "dark";`)
}

func TestNames(t *testing.T) {
	type Node struct {
		Value    string  `json:"value"`
		Children []*Node `json:"children"`
	}
	type Schema struct {
		Root Node `json:"root"`
	}
	type Page[T any] struct {
		Items []T `json:"items"`
	}
	type Status string
	srv := hotstate.New()
	hotstate.NewStore(srv, "Tree", Schema{})
	hotstate.NewStore(srv, "Pages", Page[Node]{})
	hotstate.NewStore(srv, "Status", Status(""))
	hotstate.NewStore(srv, "Anon", struct {
		A bool `json:"a"`
	}{})
	{
		type Node struct { // another Node: told apart
			N int8 `json:"n"`
		}
		hotstate.NewStore(srv, "Other", Node{})
	}
	src, _, err := tsgen.Generate(srv.Schema())
	if err != nil {
		t.Fatal(err)
	}
	out := string(src)
	has(t, out,
		// Stores in order of name: Other's Node is met first.
		"export interface Node {", "n: number;",
		"export interface Node_2 {", "children: (Node_2 | null)[] | null;",
		"export interface Schema_ {", "root: Node_2;",
		"export interface Page_Node {", "items: Node_2[] | null;",
		"export type Status = string;",
		`"Tree": Schema_;`, `"Pages": Page_Node;`, `"Status": Status;`, `"Anon": { a: boolean };`, `"Other": Node;`,
		"export type Schema = {",
	)
	if !strings.HasPrefix(out, "// Code generated ") || !strings.Contains(strings.SplitN(out, "\n", 2)[0], "DO NOT EDIT.") {
		t.Errorf("no generated-code header:\n%s", out)
	}
	src2, _, _ := tsgen.Generate(srv.Schema())
	if !bytes.Equal(src, src2) {
		t.Error("two generations differ")
	}
}

func TestSchemaType(t *testing.T) {
	type Msg struct {
		Text string `json:"text"`
	}
	srv := hotstate.New()
	hotstate.NewStore(srv, "Todos", Msg{})
	hotstate.NewFamily(srv, "Room:*", Msg{})
	hotstate.NewFamily(srv, "we`ird${x}\\:*", Msg{})
	hotstate.Handle(srv, "send", func(ctx context.Context, a Msg) (Msg, error) { return a, nil })
	hotstate.Handle(srv, "none", func(ctx context.Context, _ struct{}) (bool, error) { return true, nil })
	srv.HandleFunc("raw", func(ctx context.Context, args any) (any, error) { return nil, nil })
	hotstate.NewEvent[Msg](srv, "said")
	hotstate.NewEvent[[]string](srv, "list")
	src, _, err := tsgen.Generate(srv.Schema(), tsgen.WithSchemaName("API"))
	if err != nil {
		t.Fatal(err)
	}
	out := string(src)
	has(t, out,
		"export type API = {",
		`"Todos": Msg;`, "[name: `Room:${string}`]: Msg;", "[name: `we\\`ird\\${x}\\\\:${string}`]: Msg;",
		`"send": { args: Msg; result: Msg };`,
		`"none": { args: { [key: string]: never }; result: boolean };`,
		`"raw": { args: unknown; result: unknown };`,
		`"said": Msg;`, `"list": string[] | null;`,
	)
}

// TestGolden keeps testdata/shapes.ts, which the JS client's type check
// compiles under strict, in step with the generator: every rule at once.
func TestGolden(t *testing.T) {
	type Base struct {
		Created time.Time `json:"created"`
		Tags    []string  `json:"tags,omitempty"`
	}
	type Extra struct {
		Note string `json:"note"`
	}
	type Item struct {
		Base
		*Extra
		ID     int64             `json:"id,string"`
		Count  int               `json:"count"`
		Small  int32             `json:"small"`
		Name   *string           `json:"name"`
		Blob   []byte            `json:"blob"`
		ByKey  map[int]Item      `json:"byKey"`
		Skip   string            `json:"-"`
		Next   *Item             `json:"next,omitzero"`
		Pair   [2]float64        `json:"pair"`
		Any    any               `json:"any"`
		Odd    map[string][]*int `json:"a-b"`
		Inline struct {
			X bool `json:"x"`
		} `json:"inline"`
	}
	srv := hotstate.New()
	hotstate.NewStore(srv, "Items", []Item{})
	hotstate.NewFamily(srv, "Room:*", map[string]Item{})
	hotstate.Handle(srv, "add", func(ctx context.Context, a struct {
		Text string `json:"text"`
	}) (int64, error) {
		return 0, nil
	})
	srv.HandleFunc("raw", func(ctx context.Context, a any) (any, error) { return nil, nil })
	hotstate.NewEvent[Extra](srv, "noted")
	src, _, err := tsgen.Generate(srv.Schema())
	if err != nil {
		t.Fatal(err)
	}
	const path = "testdata/shapes.ts"
	if *update {
		if err := os.WriteFile(path, src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(src, want) {
		t.Errorf("%s is stale (go test ./tsgen -run Golden -update):\n%s", path, src)
	}
}

func TestWriteFile(t *testing.T) {
	srv := hotstate.New()
	hotstate.NewStore(srv, "N", int8(0))
	path := t.TempDir() + "/schema.ts"
	if _, err := tsgen.WriteFile(path, srv.Schema()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(b), `"N": number;`) {
		t.Fatalf("wrote %q, %v", b, err)
	}
	// Unchanged: not written again.
	old := time.Unix(1, 0)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := tsgen.WriteFile(path, srv.Schema()); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || !fi.ModTime().Equal(old) {
		t.Fatalf("rewrote an unchanged file: %v", err)
	}
}
