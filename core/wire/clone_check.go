package wire

// Unexported fields: Clone cannot see into them the way encoding/json
// cannot, so a type that hides references there is copied through its own
// marshaling methods, or refused.

import (
	"encoding"
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"time"
	"unsafe"
)

// CheckClone reports why Clone cannot deep-copy values of type t, or nil
// when it can. Clone refuses a type with an unexported field that holds
// references (a map, slice, pointer, interface, channel or function, at any
// depth inside the field) unless a type around that field implements
// json.Marshaler with *T implementing json.Unmarshaler (or the
// encoding.TextMarshaler pair, when MarshalText is what encodes it): such a
// type is copied through its JSON or text form instead. time.Time and the
// math/big numbers are known to copy safely. The error names the type, the
// path to the field and the ways to fix it. Interfaces are checked only
// when Clone meets their dynamic values. The answer is computed once per
// type and cached with Clone's copier.
func CheckClone(t reflect.Type) error {
	return clonerFor(t).err
}

var (
	timeType     = reflect.TypeFor[time.Time]()
	bigIntType   = reflect.TypeFor[big.Int]()
	bigFloatType = reflect.TypeFor[big.Float]()
	bigRatType   = reflect.TypeFor[big.Rat]()
)

// knownCloner returns the copier of a standard type that hides references
// but is known to copy safely another way, or nil.
func knownCloner(t reflect.Type) func(p unsafe.Pointer) {
	// The numbers' own copy methods are exact where their text is not
	// (a Float's precision and rounding mode), and much faster. Assigning
	// the fresh value over the old one leaves a single owner of its words.
	switch t {
	case bigIntType:
		return func(p unsafe.Pointer) { x := (*big.Int)(p); *x = *new(big.Int).Set(x) }
	case bigFloatType:
		return func(p unsafe.Pointer) { x := (*big.Float)(p); *x = *new(big.Float).Copy(x) }
	case bigRatType:
		return func(p unsafe.Pointer) { x := (*big.Rat)(p); *x = *new(big.Rat).Set(x) }
	}
	return nil
}

// holdsRefs reports whether a copy of a t by assignment shares memory that
// could later change: anything a pointer reaches except string data and
// the immutable *Location of a time.Time.
func holdsRefs(t reflect.Type) bool {
	if t == timeType {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return false
	case reflect.Array:
		return t.Len() > 0 && holdsRefs(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if holdsRefs(t.Field(i).Type) {
				return true
			}
		}
		return false
	}
	return true
}

// remarshalOf returns the marshaling method that copies a t through its
// encoding: the one the encoder uses for an addressable t, provided *t has
// the matching unmarshaling method, so that the copy encodes as the
// original did. marshalNone means there is none.
func remarshalOf(t reflect.Type) marshalKind {
	if k := t.Kind(); k == reflect.Pointer || k == reflect.Interface {
		return marshalNone
	}
	pt := reflect.PointerTo(t)
	switch m := marshalerOf(t, true); m {
	case marshalJSON, marshalJSONAddr:
		if pt.Implements(unmarshalerType) {
			return m
		}
	case marshalText, marshalTextAddr:
		if pt.Implements(textUnmarshalerType) {
			return m
		}
	}
	return marshalNone
}

// remarshalCloner copies the value at p by marshaling it and unmarshaling
// the result into a zero value. An error leaves no copy to return, and
// returning the original would share it, so it panics.
func remarshalCloner(t reflect.Type, m marshalKind) func(p unsafe.Pointer) {
	return func(p unsafe.Pointer) {
		old, fresh := reflect.NewAt(t, p), reflect.New(t)
		if err := remarshal(old, fresh, m); err != nil {
			panic(fmt.Errorf("hotstate: clone %s: %w", t, err))
		}
		old.Elem().Set(fresh.Elem())
	}
}

func remarshal(from, to reflect.Value, m marshalKind) error {
	if m == marshalJSON || m == marshalJSONAddr {
		mj, _ := reflect.TypeAssert[json.Marshaler](from)
		b, err := mj.MarshalJSON()
		if err != nil {
			return fmt.Errorf("MarshalJSON: %w", err)
		}
		uj, _ := reflect.TypeAssert[json.Unmarshaler](to)
		if err := uj.UnmarshalJSON(b); err != nil {
			return fmt.Errorf("UnmarshalJSON: %w", err)
		}
		return nil
	}
	mt, _ := reflect.TypeAssert[encoding.TextMarshaler](from)
	b, err := mt.MarshalText()
	if err != nil {
		return fmt.Errorf("MarshalText: %w", err)
	}
	ut, _ := reflect.TypeAssert[encoding.TextUnmarshaler](to)
	if err := ut.UnmarshalText(b); err != nil {
		return fmt.Errorf("UnmarshalText: %w", err)
	}
	return nil
}

// hiddenField is an unexported field that would make a copy share memory.
type hiddenField struct {
	path  []string     // from the cloned type to the field, outermost last
	owner reflect.Type // the struct that declares it
	typ   reflect.Type
}

// findHidden looks, in what Clone copies of t, for an unexported field that
// holds references and that no type around it copies through its encoding.
// Types already seen are skipped: whatever lies behind them is found, if at
// all, where they were first met, so recursive types end.
func findHidden(t reflect.Type, seen map[reflect.Type]bool, root bool) *hiddenField {
	if seen[t] || t == timeType || knownCloner(t) != nil {
		return nil
	}
	seen[t] = true
	// A type copied through its encoding hides nothing, whatever its
	// insides; the cloned type itself is asked whether it needs to be.
	if !root && remarshalOf(t) != marshalNone {
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return findHidden(t.Elem(), seen, false)
	case reflect.Array, reflect.Slice, reflect.Map:
		if t.Kind() == reflect.Array && t.Len() == 0 {
			return nil
		}
		if h := findHidden(t.Elem(), seen, false); h != nil {
			h.path = append(h.path, "[]")
			return h
		}
	case reflect.Struct:
		for i := range t.NumField() {
			sf := t.Field(i)
			if !clonesDeep(sf) {
				if holdsRefs(sf.Type) {
					return &hiddenField{path: []string{"." + sf.Name}, owner: t, typ: sf.Type}
				}
				continue
			}
			if h := findHidden(sf.Type, seen, false); h != nil {
				h.path = append(h.path, "."+sf.Name)
				return h
			}
		}
	}
	return nil
}

// cloneError is CheckClone's answer for a type that hides references.
type cloneError struct {
	t reflect.Type
	h *hiddenField
}

func (e *cloneError) Error() string {
	var path strings.Builder
	for i := len(e.h.path) - 1; i >= 0; i-- {
		path.WriteString(e.h.path[i])
	}
	fix := fmt.Sprintf("json.Marshaler on %s and json.Unmarshaler on *%[1]s", e.h.owner)
	if e.h.owner.Name() == "" {
		fix = "json.Marshaler and json.Unmarshaler (pointer receiver) on a named type around it"
	}
	return fmt.Sprintf("cannot clone %s: its field %s (%s, in %s) is unexported and holds references that a copy would share; "+
		"export the field, or implement %s", e.t, strings.TrimPrefix(path.String(), "."), e.h.typ, e.h.owner, fix)
}
