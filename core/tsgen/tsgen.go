// Package tsgen writes TypeScript types for the stores, functions and events
// of a hotstate server, from the Go types its registry knows
// (Server.Schema), for the typed JavaScript client:
//
//	import Hotstate from "hotstate/client";
//	import type { Schema } from "./schema.js";
//
//	const client = Hotstate<Schema>(url);
//	client.subscribe("Todos", (t) => t.items); // t is Todos
//	await client.call("todos.add", { text }); // args checked, result typed
//
// A Go server cannot be inferred from TypeScript, so it is generated, the
// way a program writes its own: run it with a flag that writes the module
// and exits (see WriteFile), from a go:generate line, and let a test
// compare the file with a fresh generation so a stale one fails CI.
//
// The types follow the shapes the wire carries, which are encoding/json's:
//
//   - A struct's fields are named by their json tags ('-' drops one),
//     promoted from embedded structs and settled on conflicts exactly as
//     the encoder does (wire.Fields); omitempty and omitzero make a field
//     optional, as does promotion through an embedded pointer.
//   - The ",string" option makes a bool, number or string field a string.
//   - bool is boolean; every integer and float kind is number; string is
//     string; an interface (any) is unknown.
//   - int, int64, uint, uint64 and uintptr (time.Duration too) may exceed
//     2^53, beyond which JavaScript numbers are not exact: each gets a
//     comment in the output and a Warning (send such values as strings
//     with ",string").
//   - A pointer is T | null. A slice is T[] | null and a map is
//     { [key: string]: V } | null, since nil ones are sent as null, unless
//     NonNullCollections says the application never leaves them nil; an
//     omitempty or omitzero field is optional instead, never null.
//     Arrays are T[].
//   - []byte is a base64 string (or null); time.Time, and any type with a
//     MarshalText method, is a string; json.Number is number; a type with
//     its own MarshalJSON is unknown (with a Warning) unless WithType names
//     its TypeScript type.
//   - Every named Go type becomes an exported declaration by its name: an
//     interface for a struct, a type alias otherwise. Two types of one
//     name in different packages are told apart by their package's name.
//   - Families become template-literal names: "Room:*" is `Room:${string}`.
//
// The module ends with the type Schema: stores by name (families by
// template), functions by name with their args and result, events by
// name with their data. Functions registered with HandleFunc have unknown
// args and result; events sent with Server.Emit and never declared with
// NewEvent are not in it.
package tsgen

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// Option configures Generate.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	types    map[reflect.Type]string
	nonNull  bool
	typeName string
}

// WithType writes the Go type t as the TypeScript type expression ts
// wherever it appears, instead of what the rules would make of it: for a
// type with its own MarshalJSON (a decimal sent as "1.50": "string"), or
// to narrow one (an enum-like string: `"light" | "dark"`).
func WithType(t reflect.Type, ts string) Option {
	return optionFunc(func(c *config) {
		if c.types == nil {
			c.types = map[reflect.Type]string{}
		}
		c.types[t] = ts
	})
}

// NonNullCollections types slices and maps without "| null": the
// application promises that the values it sends never hold a nil one, as
// when the defaults and OnCreate hooks make every slice and Update only
// appends. encoding/json, and so the wire, send a nil slice or map as
// null.
func NonNullCollections() Option {
	return optionFunc(func(c *config) { c.nonNull = true })
}

// WithSchemaName names the final schema type; the default is "Schema".
func WithSchemaName(name string) Option {
	return optionFunc(func(c *config) { c.typeName = name })
}

// Warning is something about the generated types a reader should know: an
// integer that may lose precision in JavaScript, or a type written as
// unknown.
type Warning struct {
	// Where is the Go type and field, or the store, function or event, it
	// was found at, such as "app.Todo.id".
	Where   string
	Message string
}

// String returns where the warning was found and its message.
func (w Warning) String() string { return w.Where + ": " + w.Message }

// Generate returns a TypeScript module declaring the types of sc, and the
// warnings found on the way. It fails for a type the wire cannot carry
// (channels, functions, complex numbers, maps with other keys than
// strings, integers or TextMarshalers).
func Generate(sc hotstate.Schema, opts ...Option) ([]byte, []Warning, error) {
	c := config{typeName: "Schema"}
	for _, o := range opts {
		o.apply(&c)
	}
	g := &gen{cfg: c, named: map[reflect.Type]*decl{}, warned: map[string]bool{}}
	return g.module(sc)
}

// WriteFile generates the module for sc and writes it to path, or to
// standard output for "-". It leaves an unchanged file untouched, so
// watchers do not rebuild for nothing. Applications call it from a flag:
//
//	//go:generate go run . -gen-ts web/schema.ts
//
//	if *genTS != "" {
//		warnings, err := tsgen.WriteFile(*genTS, srv.Schema())
//		...
//	}
func WriteFile(path string, sc hotstate.Schema, opts ...Option) ([]Warning, error) {
	src, warnings, err := Generate(sc, opts...)
	if err != nil {
		return warnings, err
	}
	if path == "-" {
		_, err = os.Stdout.Write(src)
		return warnings, err
	}
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, src) {
		return warnings, nil
	}
	return warnings, os.WriteFile(path, src, 0o644)
}

// decl is a named Go type's declaration in the module.
type decl struct {
	t     reflect.Type
	name  string // the TypeScript name, settled once every type is known
	body  string
	notes notes // for a type alias, what its uses note too
}

type gen struct {
	cfg    config
	named  map[reflect.Type]*decl
	order  []*decl
	warns  []Warning
	warned map[string]bool
	err    error
}

var (
	timeType          = reflect.TypeFor[time.Time]()
	durationType      = reflect.TypeFor[time.Duration]()
	numberType        = reflect.TypeFor[json.Number]()
	rawMessageType    = reflect.TypeFor[json.RawMessage]()
	bigIntType        = reflect.TypeFor[big.Int]()
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// bigIntNote is the comment on every integer that may exceed 2^53.
const bigIntNote = "may exceed 2^53, beyond which JavaScript numbers lose precision; send such values as strings (json:\",string\")"

func (g *gen) warn(where, msg string) {
	k := where + "\x00" + msg
	if g.warned[k] {
		return
	}
	g.warned[k] = true
	g.warns = append(g.warns, Warning{Where: where, Message: msg})
}

func (g *gen) fail(where string, format string, args ...any) {
	if g.err == nil {
		g.err = fmt.Errorf("tsgen: %s: "+format, append([]any{where}, args...)...)
	}
}

// notes collects the comments a member's type calls for.
type notes []string

func (n *notes) add(s string) {
	if !slices.Contains(*n, s) {
		*n = append(*n, s)
	}
}

func (g *gen) module(sc hotstate.Schema) ([]byte, []Warning, error) {
	type member struct {
		key, ts string
		notes   notes
	}
	var stores, funcs, events []member
	for _, s := range sc.Stores {
		var n notes
		ts := "unknown"
		if s.State != nil {
			ts = g.typ(s.State, "store "+s.Name, &n)
		}
		key := quote(s.Name)
		if s.Family {
			key = "[name: `" + templateEscape(s.Prefix) + "${string}`]"
		}
		stores = append(stores, member{key, ts, n})
	}
	for _, f := range sc.Functions {
		var n notes
		args, result := "unknown", "unknown"
		if f.Args != nil {
			args = g.typ(f.Args, "function "+f.Name+" args", &n)
		}
		if f.Result != nil {
			result = g.typ(f.Result, "function "+f.Name+" result", &n)
		}
		funcs = append(funcs, member{quote(f.Name), "{ args: " + args + "; result: " + result + " }", n})
	}
	for _, e := range sc.Events {
		var n notes
		ts := "unknown"
		if e.Data != nil {
			ts = g.typ(e.Data, "event "+e.Name, &n)
		}
		events = append(events, member{quote(e.Name), ts, n})
	}
	if g.err != nil {
		return nil, g.warns, g.err
	}
	g.nameDecls()

	var b strings.Builder
	b.WriteString("// Code generated by hotstate/core/tsgen from the server's stores, functions and events. DO NOT EDIT.\n\n")
	decls := slices.Clone(g.order)
	slices.SortFunc(decls, func(a, b *decl) int { return strings.Compare(a.name, b.name) })
	for _, d := range decls {
		if d.t.Kind() != reflect.Struct && len(d.notes) > 0 {
			fmt.Fprintf(&b, "/**\n * %s is the Go type %s.\n", d.name, goName(d.t))
			for _, s := range d.notes {
				fmt.Fprintf(&b, " * %s\n", s)
			}
			b.WriteString(" */\n")
		} else {
			fmt.Fprintf(&b, "/** %s is the Go type %s. */\n", d.name, goName(d.t))
		}
		body := g.resolve(d.body)
		if d.t.Kind() == reflect.Struct && strings.HasPrefix(body, "{") {
			fmt.Fprintf(&b, "export interface %s %s\n\n", d.name, body)
		} else {
			fmt.Fprintf(&b, "export type %s = %s;\n\n", d.name, body)
		}
	}
	section := func(name, doc string, ms []member) {
		fmt.Fprintf(&b, "  /** %s */\n  %s: {\n", doc, name)
		for _, m := range ms {
			for _, n := range m.notes {
				fmt.Fprintf(&b, "    /** %s */\n", n)
			}
			fmt.Fprintf(&b, "    %s: %s;\n", m.key, indent(g.resolve(m.ts), "    "))
		}
		b.WriteString("  };\n")
	}
	fmt.Fprintf(&b, "/**\n * %s is every store, function and event of the server, for the typed\n * client: Hotstate<%s>(url).\n */\n", g.cfg.typeName, g.cfg.typeName)
	fmt.Fprintf(&b, "export type %s = {\n", g.cfg.typeName)
	section("stores", "stores maps each store's name, or each family's names, to its state.", stores)
	section("functions", "functions maps each function's name to its arguments and result.", funcs)
	section("events", "events maps each declared event's name to its data.", events)
	b.WriteString("};\n")
	return []byte(b.String()), g.warns, nil
}

// Named types are written as placeholders while the module is built, and
// resolved once every type's name is settled.
const refMark = "\x00"

func (g *gen) resolve(s string) string {
	for strings.Contains(s, refMark) {
		i := strings.Index(s, refMark)
		j := strings.Index(s[i+1:], refMark) + i + 1
		idx, _ := strconv.Atoi(s[i+1 : j])
		s = s[:i] + g.order[idx].name + s[j+1:]
	}
	return s
}

// typ returns the TypeScript type of t, declaring the named types it uses.
func (g *gen) typ(t reflect.Type, where string, n *notes) string {
	if ts, ok := g.cfg.types[t]; ok {
		return ts
	}
	switch t {
	case timeType:
		return "string"
	case numberType:
		return "number"
	case rawMessageType:
		return "unknown"
	case bigIntType:
		n.add("big.Int: " + bigIntNote)
		g.warn(where, "big.Int: "+bigIntNote)
		return "number"
	case durationType:
		n.add("time.Duration (nanoseconds): " + bigIntNote)
		g.warn(where, "time.Duration: "+bigIntNote)
		return "number"
	}
	if t.Kind() == reflect.Pointer {
		inner := g.typ(t.Elem(), where, n)
		if inner == "unknown" || strings.HasSuffix(inner, " | null") {
			return inner
		}
		return inner + " | null"
	}
	if implements(t, marshalerType) {
		g.warn(where, fmt.Sprintf("%s has its own MarshalJSON: typed unknown; name its type with tsgen.WithType", t))
		n.add(t.String() + " has its own MarshalJSON")
		return "unknown"
	}
	if implements(t, textMarshalerType) {
		return "string"
	}
	if t.PkgPath() != "" && t.Name() != "" && t.Kind() != reflect.Interface {
		return g.declare(t, n)
	}
	return g.shape(t, where, n)
}

// implements reports whether t or *t has the method set of iface; the
// encoder uses a pointer method where the value is addressable, which a
// state's nested values mostly are.
func implements(t, iface reflect.Type) bool {
	return t.Implements(iface) || (t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(iface))
}

// declare returns a reference to the declaration of the named type t.
func (g *gen) declare(t reflect.Type, n *notes) string {
	d, ok := g.named[t]
	if !ok {
		d = &decl{t: t}
		g.named[t] = d
		g.order = append(g.order, d)
		d.body = g.shape(t, goName(t), &d.notes)
	}
	if t.Kind() != reflect.Struct {
		for _, s := range d.notes {
			n.add(s)
		}
	}
	return refMark + fmt.Sprint(slices.Index(g.order, d)) + refMark
}

// shape is the TypeScript of t's kind, ignoring its name.
func (g *gen) shape(t reflect.Type, where string, n *notes) string {
	switch k := t.Kind(); k {
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint64, reflect.Uintptr:
		n.add(k.String() + ": " + bigIntNote)
		g.warn(where, k.String()+": "+bigIntNote)
		return "number"
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Float32, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Interface:
		return "unknown"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !implements(t.Elem(), marshalerType) && !implements(t.Elem(), textMarshalerType) {
			n.add("[]byte: base64 of the bytes")
			return "string" + g.null()
		}
		return g.array(g.typ(t.Elem(), where, n)) + g.null()
	case reflect.Array:
		return g.array(g.typ(t.Elem(), where, n))
	case reflect.Map:
		kt := t.Key()
		switch {
		case kt.Kind() == reflect.String, implements(kt, textMarshalerType):
		case kt.Kind() >= reflect.Int && kt.Kind() <= reflect.Uintptr:
		default:
			g.fail(where, "map key type %s cannot cross the wire", kt)
			return "never"
		}
		return "{ [key: string]: " + g.typ(t.Elem(), where, n) + " }" + g.null()
	case reflect.Struct:
		return g.object(t, where, t.Name() == "")
	}
	g.fail(where, "type %s cannot cross the wire", t)
	return "never"
}

func (g *gen) null() string {
	if g.cfg.nonNull {
		return ""
	}
	return " | null"
}

func (g *gen) array(elem string) string {
	if isUnion(elem) {
		return "(" + elem + ")[]"
	}
	return elem + "[]"
}

// isUnion reports whether the type expression ts is a union at its top
// level, which needs parentheses before [].
func isUnion(ts string) bool {
	depth := 0
	for i := 0; i < len(ts); i++ {
		switch ts[i] {
		case '{', '(', '[', '<':
			depth++
		case '}', ')', ']', '>':
			depth--
		case '|':
			if depth == 0 {
				return true
			}
		}
	}
	return false
}

// object is the TypeScript of a struct's JSON object: an interface body, or
// for an anonymous struct a one-line object type when none of its members
// needs a comment.
func (g *gen) object(t reflect.Type, where string, inline bool) string {
	fields := wire.Fields(t)
	if len(fields) == 0 {
		return "{ [key: string]: never }"
	}
	var b strings.Builder
	b.WriteString("{\n")
	var line []string
	for _, f := range fields {
		var n notes
		at := where + "." + f.Name
		var ts string
		if f.Quoted {
			ts = "string"
			if f.Type.Kind() == reflect.Pointer {
				ts += " | null"
			}
		} else {
			ts = g.typ(f.Type, at, &n)
		}
		optional := f.Indirect
		if (f.OmitEmpty && emptyable(f.Type.Kind())) || f.OmitZero {
			optional = true
			// nil is empty and zero: what is sent is never null, unless an
			// IsZero method decides.
			if f.OmitEmpty || !implements(f.Type, reflect.TypeFor[interface{ IsZero() bool }]()) {
				ts = strings.TrimSuffix(ts, " | null")
			}
		}
		if len(n) > 0 || strings.Contains(ts, "\n") {
			inline = false
		}
		for _, s := range n {
			fmt.Fprintf(&b, "  /** %s */\n", s)
		}
		q := ""
		if optional {
			q = "?"
		}
		fmt.Fprintf(&b, "  %s%s: %s;\n", propName(f.Name), q, indent(ts, "  "))
		line = append(line, propName(f.Name)+q+": "+ts)
	}
	if inline {
		return "{ " + strings.Join(line, "; ") + " }"
	}
	b.WriteString("}")
	return b.String()
}

// indent indents every line of a multi-line type but the first.
func indent(ts, by string) string {
	return strings.ReplaceAll(ts, "\n", "\n"+by)
}

// emptyable are the kinds omitempty can leave out (encoding/json's
// isEmptyValue); a struct is never empty.
func emptyable(k reflect.Kind) bool {
	return k != reflect.Struct
}

// nameDecls gives every declaration its TypeScript name: the Go name, or
// the package's name and the Go name where two packages share one, kept
// clear of TypeScript's reserved names and of the schema's.
func (g *gen) nameDecls() {
	byName := map[string][]*decl{}
	for _, d := range g.order {
		base := tsIdent(d.t.Name())
		byName[base] = append(byName[base], d)
	}
	taken := map[string]bool{g.cfg.typeName: true}
	for _, r := range reserved {
		taken[r] = true
	}
	bases := make([]string, 0, len(byName))
	for b := range byName {
		bases = append(bases, b)
	}
	slices.Sort(bases)
	for _, base := range bases {
		ds := byName[base]
		slices.SortStableFunc(ds, func(a, b *decl) int { return strings.Compare(a.t.PkgPath(), b.t.PkgPath()) })
		for i, d := range ds {
			name := base
			switch {
			case i == 0:
			case d.t.PkgPath() != ds[0].t.PkgPath():
				name = tsIdent(pkgName(d.t)) + "_" + base
			default: // types declared inside functions share a package and a name
				name = fmt.Sprintf("%s_%d", base, i+1)
			}
			for taken[name] {
				name += "_"
			}
			taken[name] = true
			d.name = name
		}
	}
}

// reserved are names a declaration cannot take: TypeScript's own types and
// keywords that may not name a type.
var reserved = [...]string{
	"any", "bigint", "boolean", "never", "null", "number", "object", "string",
	"symbol", "undefined", "unknown", "void", "this", "type", "interface",
	"Array", "Date", "Error", "Map", "Object", "Promise", "Record", "Set", "String", "Number", "Boolean",
}

func pkgName(t reflect.Type) string {
	p := t.PkgPath()
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i+1:]
	}
	return p
}

// goName is the Go type's qualified name, as in app.Todo.
func goName(t reflect.Type) string {
	return pkgName(t) + "." + cleanName(t.Name())
}

// cleanName drops the import paths from the type arguments of a generic
// type's name, and the "·N" that marks types declared inside functions.
func cleanName(s string) string {
	return pathPart.ReplaceAllString(localMark.ReplaceAllString(s, ""), "")
}

var (
	pathPart  = regexp.MustCompile(`[^\[\],]*/`)
	localMark = regexp.MustCompile(`·[0-9]+`)
)

// tsIdent turns a Go type name, an instantiated generic one included
// (Page[example.com/app.Todo]), into an identifier (Page_Todo).
func tsIdent(s string) string {
	var b strings.Builder
	base, args, generic := strings.Cut(cleanName(s), "[")
	b.WriteString(base)
	if generic {
		for _, a := range strings.Split(strings.TrimSuffix(args, "]"), ",") {
			if i := strings.LastIndexAny(a, "./"); i >= 0 {
				a = a[i+1:]
			}
			b.WriteString("_" + a)
		}
	}
	out := []rune{}
	for _, r := range b.String() {
		if r == '_' || r == '$' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			out = append(out, r)
		} else {
			out = append(out, '_')
		}
	}
	if len(out) == 0 || out[0] >= '0' && out[0] <= '9' {
		out = append([]rune{'_'}, out...)
	}
	return string(out)
}

// propName writes an object key as an identifier when it is one.
func propName(s string) string {
	if isIdent(s) {
		return s
	}
	return quote(s)
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r == '$' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		case i > 0 && r >= '0' && r <= '9':
		default:
			return false
		}
	}
	return true
}

// quote writes s as a TypeScript string literal.
func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// templateEscape escapes s for the inside of a template literal type.
func templateEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "`", "\\`", "${", "\\${")
	return r.Replace(s)
}
