package wire

import (
	"cmp"
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unsafe"
)

// cache holds everything derived from a type: field lists, encoders,
// cloners and differs, keyed by cacheKey. It is the package's only mutable
// state; entries are published only once complete, so readers never see a
// half-built one.
var cache sync.Map

// cacheKey names one cached facet of a type. addr distinguishes differs
// compiled for addressable and non-addressable positions, which encode
// differently when a method has a pointer receiver.
type cacheKey struct {
	t     reflect.Type
	facet uint8
	addr  bool
}

const (
	facetFields uint8 = iota
	facetEncoder
	facetCloner
	facetDiffer
	facetBinder
	facetPatcher
)

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	isZeroerType      = reflect.TypeFor[interface{ IsZero() bool }]()
	numberType        = reflect.TypeFor[json.Number]()
)

// field is one member of a struct's JSON object, found the way
// encoding/json finds it.
type field struct {
	name      string
	tagged    bool
	index     []int // reflect field indexes, through embedded structs
	steps     []step
	typ       reflect.Type // the field's own type
	omitEmpty bool
	omitZero  bool
	quoted    bool // ",string"
	isZero    func(reflect.Value) bool
	// ptrAddr is true when the path goes through an embedded pointer, which
	// makes the field addressable whatever its container is.
	ptrAddr bool
}

// step is one hop of a field's path for the unsafe differ: add offset,
// then, if deref, load the pointer stored there (nil means the field is
// absent, as behind a nil embedded pointer).
type step struct {
	offset uintptr
	deref  bool
}

// locate returns the address of the field inside the struct at p, or nil
// when a nil embedded pointer hides it.
func (f *field) locate(p unsafe.Pointer) unsafe.Pointer {
	for _, s := range f.steps {
		p = unsafe.Add(p, s.offset)
		if s.deref {
			p = *(*unsafe.Pointer)(p)
			if p == nil {
				return nil
			}
		}
	}
	return p
}

// byIndex returns the field's value inside v, or an invalid Value when a nil
// embedded pointer hides it.
func (f *field) byIndex(v reflect.Value) reflect.Value {
	for _, i := range f.index {
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}
			}
			v = v.Elem()
		}
		v = v.Field(i)
	}
	return v
}

// omitted reports whether omitempty or omitzero drop the value v.
func (f *field) omitted(v reflect.Value) bool {
	if f.omitEmpty && isEmptyValue(v) {
		return true
	}
	if f.omitZero {
		if f.isZero != nil {
			return f.isZero(v)
		}
		return v.IsZero()
	}
	return false
}

// isEmptyValue is encoding/json's test for omitempty.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64,
		reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// cachedFields returns the JSON fields of struct type t in encoding order.
func cachedFields(t reflect.Type) []field {
	k := cacheKey{t: t, facet: facetFields}
	if f, ok := cache.Load(k); ok {
		return f.([]field)
	}
	f, _ := cache.LoadOrStore(k, typeFields(t))
	return f.([]field)
}

// typeFields follows encoding/json's typeFields (Go 1.26) step by step, so
// that names, embedding and conflicts resolve exactly as they do there:
// breadth-first over embedded structs, then one dominant field per name.
func typeFields(t reflect.Type) []field {
	current := []field{}
	next := []field{{typ: t}}
	var count, nextCount map[reflect.Type]int
	visited := map[reflect.Type]bool{}
	var fields []field

	for len(next) > 0 {
		current, next = next, current[:0]
		count, nextCount = nextCount, map[reflect.Type]int{}

		for _, f := range current {
			if visited[f.typ] {
				continue
			}
			visited[f.typ] = true
			for i := 0; i < f.typ.NumField(); i++ {
				sf := f.typ.Field(i)
				if sf.Anonymous {
					t := sf.Type
					if t.Kind() == reflect.Pointer {
						t = t.Elem()
					}
					if !sf.IsExported() && t.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if !isValidTag(name) {
					name = ""
				}
				index := append(slices.Clip(f.index), i)
				steps := append(slices.Clip(f.steps), step{offset: sf.Offset})
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				quoted := false
				if hasOption(opts, "string") {
					switch ft.Kind() {
					case reflect.Bool,
						reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
						reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
						reflect.Float32, reflect.Float64,
						reflect.String:
						quoted = true
					}
				}
				if name != "" || !sf.Anonymous || ft.Kind() != reflect.Struct {
					tagged := name != ""
					if name == "" {
						name = sf.Name
					}
					nf := field{
						name:      name,
						tagged:    tagged,
						index:     index,
						steps:     steps,
						typ:       sf.Type,
						omitEmpty: hasOption(opts, "omitempty"),
						omitZero:  hasOption(opts, "omitzero"),
						quoted:    quoted,
						ptrAddr:   f.ptrAddr,
					}
					if nf.omitZero {
						nf.isZero = zeroFunc(sf.Type)
					}
					fields = append(fields, nf)
					if count[f.typ] > 1 {
						// A second copy makes the conflict below drop the
						// name, as encoding/json does.
						fields = append(fields, fields[len(fields)-1])
					}
					continue
				}
				nextCount[ft]++
				if nextCount[ft] == 1 {
					if sf.Type.Kind() == reflect.Pointer {
						steps[len(steps)-1].deref = true
					}
					next = append(next, field{
						name:    ft.Name(),
						index:   index,
						steps:   steps,
						typ:     ft,
						ptrAddr: f.ptrAddr || sf.Type.Kind() == reflect.Pointer,
					})
				}
			}
		}
	}

	slices.SortFunc(fields, func(a, b field) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if c := cmp.Compare(len(a.index), len(b.index)); c != 0 {
			return c
		}
		if a.tagged != b.tagged {
			if a.tagged {
				return -1
			}
			return +1
		}
		return slices.Compare(a.index, b.index)
	})
	out := fields[:0]
	for advance, i := 0, 0; i < len(fields); i += advance {
		name := fields[i].name
		for advance = 1; i+advance < len(fields); advance++ {
			if fields[i+advance].name != name {
				break
			}
		}
		if advance == 1 {
			out = append(out, fields[i])
			continue
		}
		// Sorted by depth then tag: the first dominates unless the second
		// ties with it, which is a conflict that drops the name.
		group := fields[i : i+advance]
		if len(group[0].index) == len(group[1].index) && group[0].tagged == group[1].tagged {
			continue
		}
		out = append(out, group[0])
	}
	fields = slices.Clone(out)
	slices.SortFunc(fields, func(a, b field) int {
		return slices.Compare(a.index, b.index)
	})
	return fields
}

// zeroFunc is encoding/json's omitzero test for a type with an IsZero
// method, or nil when reflect.Value.IsZero decides.
func zeroFunc(t reflect.Type) func(reflect.Value) bool {
	type isZeroer interface{ IsZero() bool }
	switch {
	case t.Kind() == reflect.Interface && t.Implements(isZeroerType):
		return func(v reflect.Value) bool {
			return v.IsNil() ||
				(v.Elem().Kind() == reflect.Pointer && v.Elem().IsNil()) ||
				v.Interface().(isZeroer).IsZero()
		}
	case t.Kind() == reflect.Pointer && t.Implements(isZeroerType):
		return func(v reflect.Value) bool {
			return v.IsNil() || v.Interface().(isZeroer).IsZero()
		}
	case t.Implements(isZeroerType):
		return func(v reflect.Value) bool {
			return v.Interface().(isZeroer).IsZero()
		}
	case reflect.PointerTo(t).Implements(isZeroerType):
		return func(v reflect.Value) bool {
			if !v.CanAddr() {
				v2 := reflect.New(v.Type()).Elem()
				v2.Set(v)
				v = v2
			}
			return v.Addr().Interface().(isZeroer).IsZero()
		}
	}
	return nil
}

func hasOption(opts, name string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == name {
			return true
		}
	}
	return false
}

// isValidTag is encoding/json's rule for a usable tag name.
func isValidTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// marshalKind tells which marshaling method encoding/json uses for a value
// of type t in an addressable (addr) or non-addressable position.
type marshalKind uint8

const (
	marshalNone marshalKind = iota
	marshalJSON
	marshalJSONAddr
	marshalText
	marshalTextAddr
)

func marshalerOf(t reflect.Type, addr bool) marshalKind {
	notPtr := t.Kind() != reflect.Pointer
	switch {
	case notPtr && addr && reflect.PointerTo(t).Implements(marshalerType):
		return marshalJSONAddr
	case t.Implements(marshalerType):
		return marshalJSON
	case notPtr && addr && reflect.PointerTo(t).Implements(textMarshalerType):
		return marshalTextAddr
	case t.Implements(textMarshalerType):
		return marshalText
	}
	return marshalNone
}

// addrSensitive reports whether values of t encode differently in
// addressable and non-addressable positions, because t or a part of it
// reached without indirection has a pointer-receiver marshaler.
func addrSensitive(t reflect.Type) bool {
	return sensitive(t, map[reflect.Type]bool{})
}

func sensitive(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false
	}
	seen[t] = true
	if marshalerOf(t, true) != marshalerOf(t, false) {
		return true
	}
	if marshalerOf(t, false) != marshalNone {
		return false
	}
	switch t.Kind() {
	case reflect.Array:
		return sensitive(t.Elem(), seen)
	case reflect.Struct:
		for _, f := range cachedFields(t) {
			if !f.ptrAddr && sensitive(f.typ, seen) {
				return true
			}
		}
	}
	return false
}
