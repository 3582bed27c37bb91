package wire

import (
	"math"
	"reflect"
	"unicode/utf8"
)

// patchNode is the compiled walker of one type in one kind of position,
// addressable (addr) or not, which decides how the type encodes there.
type patchNode struct {
	t         reflect.Type
	addr      bool
	sensitive bool // encodes differently when addressable
	kind      uint8
	// scalar leaves take op values of matching Go types without going
	// through encoding/json.
	scalar  bool
	elem    *patchNode
	keyType reflect.Type // of maps whose key type is not string itself
	fields  map[string]*patchField
}

const (
	kindLeaf uint8 = iota // walked into only the reference's way
	kindStruct
	kindPointer
	kindSlice
	kindArray
	kindMap
)

type patchField struct {
	*field
	node  *patchNode // nil for ",string" fields, decoded only with their struct
	omits bool
}

// patcherFor returns the cached walker of t for an addressable (addr) or
// non-addressable position.
func patcherFor(t reflect.Type, addr bool) *patchNode {
	if addr && !addrSensitive(t) {
		addr = false
	}
	if n, ok := cache.Load(cacheKey{t: t, facet: facetPatcher, addr: addr}); ok {
		return n.(*patchNode)
	}
	// As with differs, build privately and publish complete nodes only.
	building := map[cacheKey]*patchNode{}
	n := buildPatcher(t, addr, building)
	for bk, bn := range building {
		cache.LoadOrStore(bk, bn)
	}
	return n
}

func buildPatcher(t reflect.Type, addr bool, building map[cacheKey]*patchNode) *patchNode {
	if addr && !addrSensitive(t) {
		addr = false
	}
	k := cacheKey{t: t, facet: facetPatcher, addr: addr}
	if n, ok := cache.Load(k); ok {
		return n.(*patchNode)
	}
	if n, ok := building[k]; ok {
		return n
	}
	n := &patchNode{t: t, addr: addr, sensitive: addrSensitive(t)}
	building[k] = n
	if marshalerOf(t, addr) != marshalNone || decodesItself(t) {
		return n
	}
	switch t.Kind() {
	case reflect.Bool, reflect.String, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n.scalar = t != numberType
	case reflect.Struct:
		n.kind = kindStruct
		fields := cachedFields(t)
		n.fields = make(map[string]*patchField, len(fields))
		for i := range fields {
			f := &fields[i]
			pf := &patchField{field: f, omits: f.omitEmpty || f.omitZero}
			if !f.quoted {
				pf.node = buildPatcher(f.typ, addr || f.ptrAddr, building)
			}
			n.fields[f.name] = pf
		}
	case reflect.Pointer:
		n.kind = kindPointer
		n.elem = buildPatcher(t.Elem(), true, building)
	case reflect.Slice:
		if t.Elem().Kind() != reflect.Uint8 { // else base64 text
			n.kind = kindSlice
			n.elem = buildPatcher(t.Elem(), true, building)
		}
	case reflect.Array:
		n.kind = kindArray
		n.elem = buildPatcher(t.Elem(), addr, building)
	case reflect.Map:
		// encoding/json decodes keys through UnmarshalText when they have
		// it, even string ones.
		if kt := t.Key(); kt.Kind() == reflect.String && !reflect.PointerTo(kt).Implements(textUnmarshalerType) {
			n.kind = kindMap
			n.elem = buildPatcher(t.Elem(), false, building)
			if kt != reflect.TypeFor[string]() {
				n.keyType = kt
			}
		}
	}
	return n
}

// decodesItself reports whether encoding/json decodes a t through its
// methods.
func decodesItself(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return p.Implements(unmarshalerType) || p.Implements(textUnmarshalerType)
}

func (n *patchNode) key(tok string) reflect.Value {
	k := reflect.ValueOf(tok)
	if n.keyType != nil {
		k = k.Convert(n.keyType)
	}
	return k
}

// decode sets x, a zero value of n's type, to v decoded with
// encoding/json's rules.
func (n *patchNode) decode(x reflect.Value, v any, check bool) (bool, error) {
	if n.scalar && setScalar(x, v) {
		return true, nil
	}
	if err := FromTree(v, x.Addr().Interface()); err != nil {
		return false, &decodeFailure{err}
	}
	if !check {
		return false, nil
	}
	enc, err := n.tree(x)
	return err == nil && jsonEqual(enc, v), nil
}

// tree returns the generic tree of v as it encodes in n's position.
func (n *patchNode) tree(v reflect.Value) (any, error) {
	w := writers.Get().(*writer)
	defer writers.Put(w)
	w.buf.Reset()
	var err error
	if n.sensitive && !n.addr {
		err = EncodeValue(w.enc, v.Interface()) // not addressable
	} else {
		err = EncodeReflect(w.enc, v)
	}
	if err != nil {
		return nil, err
	}
	return DecodeAny(w.buf.Bytes())
}

// setScalar stores v in x, of a kind n.scalar accepts, when encoding/json
// would decode v's JSON into x as exactly that value and encode x back as
// v's JSON. It reports false, changing nothing, for anything else.
func setScalar(x reflect.Value, v any) bool {
	switch x.Kind() {
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			return false
		}
		x.SetBool(b)
	case reflect.String:
		s, ok := v.(string)
		if !ok || !utf8.ValidString(s) {
			return false
		}
		x.SetString(s)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var i int64
		switch n := v.(type) {
		case int64:
			i = n
		case int:
			i = int64(n)
		default:
			return false
		}
		if x.OverflowInt(i) {
			return false
		}
		x.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		var u uint64
		switch n := v.(type) {
		case int64:
			if n < 0 {
				return false
			}
			u = uint64(n)
		case uint64:
			u = n
		default:
			return false
		}
		if x.OverflowUint(u) {
			return false
		}
		x.SetUint(u)
	case reflect.Float64:
		switch n := v.(type) {
		case float64:
			if math.IsNaN(n) || math.IsInf(n, 0) {
				return false
			}
			x.SetFloat(n)
		case int64:
			if n < -1<<53 || n > 1<<53 { // beyond, the float's JSON has other digits
				return false
			}
			x.SetFloat(float64(n))
		default:
			return false
		}
	default:
		return false
	}
	return true
}

// jsonEqual reports whether a, a generic tree of an encoding, and b, an op
// value, are the same JSON document. It may say false for equal ones (b
// holding Go values other than a generic tree's), never true for
// different ones.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || y == nil || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			if yv, ok := y[k]; !ok || !jsonEqual(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || y == nil || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return sameNumber(a, b)
}

// sameNumber reports whether two numbers of generic trees have the same
// JSON text, and so decode the same into anything.
func sameNumber(a, b any) bool {
	if x, ok := a.(float64); ok {
		if y, ok := b.(float64); ok {
			return math.Float64bits(x) == math.Float64bits(y) // -0 is not 0
		}
	}
	if x, ok := a.(uint64); ok && x > math.MaxInt64 {
		y, ok := b.(uint64)
		return ok && x == y
	}
	x, ok1 := jsonInteger(a)
	y, ok2 := jsonInteger(b)
	return ok1 && ok2 && x == y
}

// jsonInteger returns n when its JSON text is that of an int64.
func jsonInteger(n any) (int64, bool) {
	switch n := n.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case uint64:
		return int64(n), n <= math.MaxInt64
	case float64:
		// Up to 2^53 a whole float is written with exactly its digits.
		if n == math.Trunc(n) && math.Abs(n) <= 1<<53 && !(n == 0 && math.Signbit(n)) {
			return int64(n), true
		}
	}
	return 0, false
}
