package wire

import (
	"encoding"
	"encoding/binary"
	"encoding/json"
	"math"
	"reflect"
	"unicode/utf8"
)

// Binding decodes MessagePack straight into a Go value, skipping the generic
// tree and the encoding/json round trip that DecodeValue otherwise takes.
// It covers the common shapes of function arguments (structs, slices and
// maps of strings, numbers and bools) and gives up, so the caller falls back
// to the exact path, wherever encoding/json could decide differently: a
// float for an integer, an integer out of range, a non-ASCII or repeated
// field key, invalid UTF-8, NaN, bin, an extension anywhere in the value, a
// type with its own UnmarshalJSON or UnmarshalText. Whatever it accepts
// therefore decodes exactly as the fallback would. It has no errors of its
// own: a value it refuses is the fallback's to reject, so DecodeArgs tells
// a caller about every failure in one way, whichever path was tried first.

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// binder decodes the value at c into v, which is settable and zero. It
// reports false to give up.
type binder func(c *cursor, v reflect.Value) bool

// bind decodes raw into the zero value v points to, or reports false and
// leaves it zero.
func bind(raw []byte, v any) bool {
	rv := reflect.ValueOf(v)
	if len(raw) == 0 || rv.Kind() != reflect.Pointer || rv.IsNil() {
		return false
	}
	e := rv.Elem()
	b := binderFor(e.Type())
	if b == nil || !e.IsZero() || CheckDepth(raw, MaxStateDepth) != nil {
		return false
	}
	c := cursor{b: raw}
	if b(&c, e) && len(c.b) == 0 {
		return true
	}
	e.SetZero()
	return false
}

// binderFor returns the binder of t, or nil when no value of t can be bound.
func binderFor(t reflect.Type) binder {
	k := cacheKey{t: t, facet: facetBinder}
	if b, ok := cache.Load(k); ok {
		return b.(binder)
	}
	b, _ := cache.LoadOrStore(k, newBinder(t, map[reflect.Type]*binder{}))
	return b.(binder)
}

// newBinder compiles t's binder; building holds the types being compiled,
// so a recursive type refers to itself through its slot.
func newBinder(t reflect.Type, building map[reflect.Type]*binder) binder {
	if slot, ok := building[t]; ok {
		return func(c *cursor, v reflect.Value) bool { return (*slot)(c, v) }
	}
	slot := new(binder)
	building[t] = slot
	b := compileBinder(t, building)
	*slot = b
	if b == nil {
		*slot = func(*cursor, reflect.Value) bool { return false }
	}
	return b
}

func compileBinder(t reflect.Type, building map[reflect.Type]*binder) binder {
	if t.Implements(unmarshalerType) || t.Implements(textUnmarshalerType) ||
		reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return bindBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return bindInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return bindUint
	case reflect.Float64:
		return bindFloat
	case reflect.String:
		return bindString
	case reflect.Pointer:
		return pointerBinder(t, newBinder(t.Elem(), building))
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 { // []byte is base64 text in JSON
			return nil
		}
		return sliceBinder(t, newBinder(t.Elem(), building))
	case reflect.Map:
		k := t.Key()
		if k.Kind() != reflect.String || reflect.PointerTo(k).Implements(textUnmarshalerType) {
			return nil
		}
		return mapBinder(t, newBinder(t.Elem(), building))
	case reflect.Struct:
		return structBinder(t, building)
	}
	return nil
}

func bindBool(c *cursor, v reflect.Value) bool {
	if c.null() {
		return true
	}
	switch c.head() {
	case 0xc2:
		c.b = c.b[1:]
		return true
	case 0xc3:
		c.b = c.b[1:]
		v.SetBool(true)
		return true
	}
	return false
}

func bindInt(c *cursor, v reflect.Value) bool {
	if c.null() {
		return true
	}
	n, big, ok := c.integer()
	if !ok || big || v.OverflowInt(n) {
		return false
	}
	v.SetInt(n)
	return true
}

func bindUint(c *cursor, v reflect.Value) bool {
	if c.null() {
		return true
	}
	n, big, ok := c.integer()
	if !ok || (!big && n < 0) || v.OverflowUint(uint64(n)) {
		return false
	}
	v.SetUint(uint64(n))
	return true
}

func bindFloat(c *cursor, v reflect.Value) bool {
	if c.null() {
		return true
	}
	if f, ok := c.float(); ok {
		v.SetFloat(f)
		return true
	}
	n, big, ok := c.integer()
	switch {
	case !ok:
		return false
	case big:
		v.SetFloat(float64(uint64(n)))
	default:
		v.SetFloat(float64(n))
	}
	return true
}

func bindString(c *cursor, v reflect.Value) bool {
	if c.null() {
		return true
	}
	s, ok := c.str()
	if !ok || !utf8.Valid(s) {
		return false
	}
	v.SetString(string(s))
	return true
}

func pointerBinder(t reflect.Type, elem binder) binder {
	et := t.Elem()
	return func(c *cursor, v reflect.Value) bool {
		if c.null() {
			return true
		}
		p := reflect.New(et)
		if !elem(c, p.Elem()) {
			return false
		}
		v.Set(p)
		return true
	}
}

func sliceBinder(t reflect.Type, elem binder) binder {
	return func(c *cursor, v reflect.Value) bool {
		if c.null() {
			return true
		}
		n, ok := c.arrayLen()
		if !ok {
			return false
		}
		s := reflect.MakeSlice(t, n, n)
		for i := range n {
			if !elem(c, s.Index(i)) {
				return false
			}
		}
		v.Set(s)
		return true
	}
}

func mapBinder(t reflect.Type, elem binder) binder {
	kt, et := t.Key(), t.Elem()
	plain := kt == reflect.TypeFor[string]()
	return func(c *cursor, v reflect.Value) bool {
		if c.null() {
			return true
		}
		n, ok := c.mapLen()
		if !ok {
			return false
		}
		m := reflect.MakeMapWithSize(t, n)
		for range n {
			k, ok := c.str()
			if !ok || !utf8.Valid(k) {
				return false
			}
			e := reflect.New(et).Elem()
			if !elem(c, e) {
				return false
			}
			kv := reflect.ValueOf(string(k))
			if !plain {
				kv = kv.Convert(kt)
			}
			m.SetMapIndex(kv, e)
		}
		v.Set(m)
		return true
	}
}

// boundField is a struct field as a binder sees it.
type boundField struct {
	index []int
	bind  binder
}

// structBinder matches keys to fields as encoding/json does: the exact name
// first, then the first field whose name equals the key ignoring case. It
// gives up on a type whose fields it cannot all bind, on a field reached
// through an embedded pointer or marked ",string", on non-ASCII names and
// keys (Unicode case folding is left to the fallback) and on a key that
// lands on a field already set, since the fallback would see such keys in
// another order.
func structBinder(t reflect.Type, building map[reflect.Type]*binder) binder {
	fields := cachedFields(t)
	if len(fields) > 64 {
		return nil
	}
	bound := make([]boundField, len(fields))
	exact := make(map[string]int, len(fields))
	folded := make(map[string]int, len(fields))
	for i, f := range fields {
		if f.quoted || f.ptrAddr || !isASCII(f.name) {
			return nil
		}
		b := newBinder(f.typ, building)
		if b == nil {
			return nil
		}
		bound[i] = boundField{index: f.index, bind: b}
		exact[f.name] = i
		if _, ok := folded[lowerASCII(f.name)]; !ok {
			folded[lowerASCII(f.name)] = i
		}
	}
	return func(c *cursor, v reflect.Value) bool {
		if c.null() {
			return true
		}
		n, ok := c.mapLen()
		if !ok {
			return false
		}
		var seen uint64
		for range n {
			k, ok := c.str()
			if !ok {
				return false
			}
			i, found := exact[string(k)]
			if !found {
				if !isASCII(string(k)) {
					return false
				}
				i, found = folded[lowerASCII(string(k))]
			}
			if !found {
				if !c.skipPlain() {
					return false
				}
				continue
			}
			if seen&(1<<i) != 0 {
				return false
			}
			seen |= 1 << i
			if !bound[i].bind(c, v.FieldByIndex(bound[i].index)) {
				return false
			}
		}
		return true
	}
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func lowerASCII(s string) string {
	for i := range len(s) {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// cursor reads MessagePack values from the front of b, which has passed
// CheckDepth. A read reports false when the next value is not of the kind
// asked for, and the binding gives up.
type cursor struct{ b []byte }

func (c *cursor) head() byte {
	if len(c.b) == 0 {
		return 0xc1 // never used by MessagePack
	}
	return c.b[0]
}

func (c *cursor) null() bool {
	if c.head() == 0xc0 {
		c.b = c.b[1:]
		return true
	}
	return false
}

// uintN reads the head byte and the n-byte big-endian number after it.
func (c *cursor) uintN(n int) (uint64, bool) {
	if len(c.b) < 1+n {
		return 0, false
	}
	var u uint64
	switch n {
	case 1:
		u = uint64(c.b[1])
	case 2:
		u = uint64(binary.BigEndian.Uint16(c.b[1:]))
	case 4:
		u = uint64(binary.BigEndian.Uint32(c.b[1:]))
	case 8:
		u = binary.BigEndian.Uint64(c.b[1:])
	}
	c.b = c.b[1+n:]
	return u, true
}

// integer reads an integer; big means it is above math.MaxInt64 and n holds
// its bits.
func (c *cursor) integer() (n int64, big, ok bool) {
	switch h := c.head(); {
	case h <= 0x7f: // positive fixint
		c.b = c.b[1:]
		return int64(h), false, true
	case h >= 0xe0: // negative fixint
		c.b = c.b[1:]
		return int64(int8(h)), false, true
	case h >= 0xcc && h <= 0xcf: // uint 8, 16, 32, 64
		u, ok := c.uintN(1 << (h - 0xcc))
		return int64(u), u > math.MaxInt64, ok
	case h >= 0xd0 && h <= 0xd3: // int 8, 16, 32, 64
		w := 1 << (h - 0xd0)
		u, ok := c.uintN(w)
		shift := 64 - 8*w
		return int64(u<<shift) >> shift, false, ok
	}
	return 0, false, false
}

// float reads a finite float; NaN and infinities have no JSON form.
func (c *cursor) float() (float64, bool) {
	var f float64
	switch c.head() {
	case 0xca:
		u, ok := c.uintN(4)
		if !ok {
			return 0, false
		}
		f = float64(math.Float32frombits(uint32(u)))
	case 0xcb:
		u, ok := c.uintN(8)
		if !ok {
			return 0, false
		}
		f = math.Float64frombits(u)
	default:
		return 0, false
	}
	return f, !math.IsNaN(f) && !math.IsInf(f, 0)
}

func (c *cursor) str() ([]byte, bool) {
	var n uint64
	switch h := c.head(); {
	case h&0xe0 == 0xa0: // fixstr
		n = uint64(h & 0x1f)
		c.b = c.b[1:]
	case h >= 0xd9 && h <= 0xdb: // str 8, 16, 32
		var ok bool
		if n, ok = c.uintN(1 << (h - 0xd9)); !ok {
			return nil, false
		}
	default:
		return nil, false
	}
	if n > uint64(len(c.b)) {
		return nil, false
	}
	s := c.b[:n]
	c.b = c.b[n:]
	return s, true
}

func (c *cursor) arrayLen() (int, bool) { return c.count(0x90, 0xdc) }

func (c *cursor) mapLen() (int, bool) { return c.count(0x80, 0xde) }

// count reads the head of an array or a map: fix is its fix form's high
// nibble, h16 the head of its 16-bit form (the 32-bit one follows).
func (c *cursor) count(fix, h16 byte) (int, bool) {
	switch h := c.head(); {
	case h&0xf0 == fix:
		c.b = c.b[1:]
		return int(h & 0x0f), true
	case h == h16 || h == h16+1:
		u, ok := c.uintN(2 << (h - h16))
		return int(u), ok && u <= uint64(len(c.b))
	}
	return 0, false
}

// skipPlain skips one value the fallback would decode without error: no
// extension, no NaN or infinity, string keys only.
func (c *cursor) skipPlain() bool {
	switch h := c.head(); {
	case h == 0xc0 || h == 0xc2 || h == 0xc3:
		c.b = c.b[1:]
		return true
	case h >= 0xc4 && h <= 0xc6: // bin 8, 16, 32
		u, ok := c.uintN(1 << (h - 0xc4))
		if !ok || u > uint64(len(c.b)) {
			return false
		}
		c.b = c.b[u:]
		return true
	case h == 0xca || h == 0xcb:
		_, ok := c.float()
		return ok
	case h&0xe0 == 0xa0 || (h >= 0xd9 && h <= 0xdb):
		_, ok := c.str()
		return ok
	case h&0xf0 == 0x90 || h == 0xdc || h == 0xdd:
		n, ok := c.arrayLen()
		for i := 0; ok && i < n; i++ {
			ok = c.skipPlain()
		}
		return ok
	case h&0xf0 == 0x80 || h == 0xde || h == 0xdf:
		n, ok := c.mapLen()
		for i := 0; ok && i < n; i++ {
			_, ok = c.str()
			ok = ok && c.skipPlain()
		}
		return ok
	}
	_, _, ok := c.integer()
	return ok
}
