package wire

// The typed half of Diff: a differ compiled once per Go type, walking
// values through their memory with the field list the encoder uses.

import (
	"bytes"
	"fmt"
	"reflect"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"
)

// diffNode is the compiled differ of one type in one kind of position.
type diffNode struct {
	t reflect.Type
	// addr: compiled for an addressable position. Only types that
	// addrSensitive reports get such a variant.
	addr bool
	// flat types hold no pointers but string data, so equal bits mean
	// equal values; after a Clone most unchanged elements are bit-equal.
	flat bool
	size uintptr
	// diff emits the ops turning the value at a into the value at b.
	diff func(d *differ, a, b unsafe.Pointer) error
	// eq reports whether the values certainly encode the same; false
	// negatives only cost speed.
	eq func(d *differ, a, b unsafe.Pointer) bool
	// sensitive: values of t encode differently in addressable positions.
	sensitive bool
	// quoted is the encoder of a ",string" field; such a node compares
	// encodings, and its op values are the decoded encodings.
	quoted encFunc
}

// value returns the value at p for an op. In an addressable position a
// sensitive type is handed over as a pointer, which encodes it the same way.
func (n *diffNode) value(p unsafe.Pointer) any {
	v := reflect.NewAt(n.t, p)
	if n.addr {
		return v.Interface()
	}
	return v.Elem().Interface()
}

// encode writes the value at p as it encodes in n's position.
func (n *diffNode) encode(enc *msgpack.Encoder, p unsafe.Pointer) error {
	v := reflect.NewAt(n.t, p).Elem()
	if !n.addr && n.sensitive {
		v = reflect.ValueOf(v.Interface()) // not addressable
	}
	if n.quoted != nil {
		s := encState{enc: enc}
		return n.quoted(&s, v)
	}
	return EncodeReflect(enc, v)
}

// opValue returns the value at p for an add or replace op.
func (n *diffNode) opValue(d *differ, p unsafe.Pointer) (any, error) {
	if n.quoted == nil {
		return n.value(p), nil
	}
	if _, err := d.encodedEqual(n, p, p); err != nil {
		return nil, err
	}
	return d.decodedB()
}

func (n *diffNode) bitsEqual(a, b unsafe.Pointer) bool {
	return memEqual(a, b, n.size)
}

// differFor returns the cached differ of t for an addressable (addr) or
// non-addressable position.
func differFor(t reflect.Type, addr bool) *diffNode {
	if addr && !addrSensitive(t) {
		addr = false
	}
	k := cacheKey{t: t, facet: facetDiffer, addr: addr}
	if n, ok := cache.Load(k); ok {
		return n.(*diffNode)
	}
	// As with encoders, build privately and publish complete nodes only.
	building := map[cacheKey]*diffNode{}
	n := buildDiffer(t, addr, building)
	for bk, bn := range building {
		cache.LoadOrStore(bk, bn)
	}
	return n
}

func buildDiffer(t reflect.Type, addr bool, building map[cacheKey]*diffNode) *diffNode {
	if addr && !addrSensitive(t) {
		addr = false
	}
	k := cacheKey{t: t, facet: facetDiffer, addr: addr}
	if n, ok := cache.Load(k); ok {
		return n.(*diffNode)
	}
	if n, ok := building[k]; ok {
		return n
	}
	n := &diffNode{t: t, addr: addr, flat: isFlat(t), size: t.Size(), sensitive: addrSensitive(t)}
	building[k] = n
	if marshalerOf(t, addr) != marshalNone {
		n.leafMarshaler()
		return n
	}
	switch t.Kind() {
	case reflect.Bool:
		scalar[bool](n)
	case reflect.Int:
		scalar[int](n)
	case reflect.Int8:
		scalar[int8](n)
	case reflect.Int16:
		scalar[int16](n)
	case reflect.Int32:
		scalar[int32](n)
	case reflect.Int64:
		scalar[int64](n)
	case reflect.Uint:
		scalar[uint](n)
	case reflect.Uint8:
		scalar[uint8](n)
	case reflect.Uint16:
		scalar[uint16](n)
	case reflect.Uint32, reflect.Float32: // floats by their bits: -0 is not 0 in JSON
		scalar[uint32](n)
	case reflect.Uint64, reflect.Float64:
		scalar[uint64](n)
	case reflect.Uintptr:
		scalar[uintptr](n)
	case reflect.String:
		scalar[string](n)
	case reflect.Struct:
		n.structFields(building)
	case reflect.Array:
		n.array(buildDiffer(t.Elem(), addr, building))
	case reflect.Slice:
		if isByteSlice(t) {
			n.bytes()
		} else {
			n.slice(buildDiffer(t.Elem(), true, building))
		}
	case reflect.Map:
		n.mapType(buildDiffer(t.Elem(), false, building))
	case reflect.Pointer:
		n.pointer(buildDiffer(t.Elem(), true, building))
	case reflect.Interface:
		n.iface()
	default:
		n.diff = func(*differ, unsafe.Pointer, unsafe.Pointer) error {
			return fmt.Errorf("%w: unsupported type %s", ErrUnsupportedValue, t)
		}
		n.eq = func(*differ, unsafe.Pointer, unsafe.Pointer) bool { return false }
	}
	return n
}

// isFlat reports whether t holds no pointers other than string data.
func isFlat(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return true
	case reflect.Array:
		return isFlat(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !isFlat(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}

func scalar[T comparable](n *diffNode) {
	n.eq = func(_ *differ, a, b unsafe.Pointer) bool { return *(*T)(a) == *(*T)(b) }
	n.diff = func(d *differ, a, b unsafe.Pointer) error {
		if *(*T)(a) != *(*T)(b) {
			d.emit(OpReplace, n.value(b))
		}
		return nil
	}
}

// quotedDiffer is the differ of a ",string" field of type t. It is not
// cached: it belongs to its field.
func quotedDiffer(t reflect.Type, addr bool) *diffNode {
	n := &diffNode{t: t, addr: addr, size: t.Size(), sensitive: addrSensitive(t), quoted: newQuotedEncoder(t)}
	n.leafMarshaler()
	return n
}

// leafMarshaler handles types encoded by MarshalJSON or MarshalText: equal
// bits or equal encodings mean no change, anything else replaces the value.
func (n *diffNode) leafMarshaler() {
	n.eq = func(d *differ, a, b unsafe.Pointer) bool {
		if n.bitsEqual(a, b) {
			return true
		}
		eq, err := d.encodedEqual(n, a, b)
		return err == nil && eq
	}
	n.diff = func(d *differ, a, b unsafe.Pointer) error {
		if n.bitsEqual(a, b) {
			return nil
		}
		eq, err := d.encodedEqual(n, a, b)
		if err != nil || eq {
			return err
		}
		v := n.value(b)
		if n.quoted != nil {
			if v, err = d.decodedB(); err != nil {
				return err
			}
		}
		d.emit(OpReplace, v)
		return nil
	}
}

// diffField is a struct field as the differ walks it.
type diffField struct {
	*field
	tok  token
	node *diffNode
	// direct fields sit at offset in the struct, not behind a pointer.
	direct bool
	offset uintptr
	empty  func(unsafe.Pointer) bool
}

func (f *diffField) at(p unsafe.Pointer) unsafe.Pointer {
	if f.direct {
		return unsafe.Add(p, f.offset)
	}
	return f.locate(p)
}

// omittedAt reports whether the field at p is left out of the encoding.
func (f *diffField) omittedAt(p unsafe.Pointer) bool {
	switch {
	case p == nil:
		return true
	case f.omitZero:
		return f.omitted(reflect.NewAt(f.typ, p).Elem())
	case f.empty != nil:
		return f.empty(p)
	}
	return false
}

// emptyFunc is isEmptyValue without reflection for the common kinds, or
// nil when field f has no omitempty.
func emptyFunc(f *field) func(unsafe.Pointer) bool {
	if !f.omitEmpty {
		return nil
	}
	t := f.typ
	switch t.Kind() {
	case reflect.String:
		return func(p unsafe.Pointer) bool { return len(*(*string)(p)) == 0 }
	case reflect.Slice:
		return func(p unsafe.Pointer) bool { return (*sliceHeader)(p).len == 0 }
	case reflect.Pointer, reflect.Interface:
		// An interface is nil when its first word is.
		return func(p unsafe.Pointer) bool { return *(*unsafe.Pointer)(p) == nil }
	case reflect.Bool:
		return func(p unsafe.Pointer) bool { return !*(*bool)(p) }
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint64, reflect.Uintptr:
		if t.Size() == 8 {
			return func(p unsafe.Pointer) bool { return *(*uint64)(p) == 0 }
		}
	case reflect.Struct:
		return func(unsafe.Pointer) bool { return false }
	}
	return func(p unsafe.Pointer) bool { return isEmptyValue(reflect.NewAt(t, p).Elem()) }
}

// flatRun is a run of flat struct fields, compared in one go: equal bits
// there prove every field in mask (bit i for field i) unchanged.
type flatRun struct {
	lo, hi uintptr
	mask   uint64
}

func flatSpans(t reflect.Type, fs []diffField) []flatRun {
	if len(fs) > 64 {
		return nil
	}
	var spans []flatRun
	for i := 0; i < t.NumField(); {
		if !isFlat(t.Field(i).Type) {
			i++
			continue
		}
		lo := t.Field(i).Offset
		hi := lo
		for ; i < t.NumField() && isFlat(t.Field(i).Type); i++ {
			hi = t.Field(i).Offset + t.Field(i).Type.Size()
		}
		var mask uint64
		for j := range fs {
			if f := &fs[j]; f.direct && f.offset >= lo && f.offset+f.typ.Size() <= hi {
				mask |= 1 << j
			}
		}
		if mask != 0 && hi > lo {
			spans = append(spans, flatRun{lo, hi, mask})
		}
	}
	return spans
}

// unchanged returns the mask of fields the spans prove equal.
func unchanged(spans []flatRun, a, b unsafe.Pointer) uint64 {
	var m uint64
	for _, s := range spans {
		if memEqual(unsafe.Add(a, s.lo), unsafe.Add(b, s.lo), s.hi-s.lo) {
			m |= s.mask
		}
	}
	return m
}

func memEqual(a, b unsafe.Pointer, n uintptr) bool {
	return a == b || string(unsafe.Slice((*byte)(a), n)) == string(unsafe.Slice((*byte)(b), n))
}

func (n *diffNode) structFields(building map[cacheKey]*diffNode) {
	fields := cachedFields(n.t)
	fs := make([]diffField, len(fields))
	for i := range fields {
		f := &fields[i]
		fs[i] = diffField{field: f, tok: token{s: string(AppendPointerToken(nil, f.name)), kind: tokField}, direct: true, empty: emptyFunc(f)}
		for _, st := range f.steps {
			fs[i].offset += st.offset
			fs[i].direct = fs[i].direct && !st.deref
		}
		if f.quoted {
			fs[i].node = quotedDiffer(f.typ, n.addr || f.ptrAddr)
		} else {
			fs[i].node = buildDiffer(f.typ, n.addr || f.ptrAddr, building)
		}
	}
	spans := flatSpans(n.t, fs)
	n.eq = func(d *differ, a, b unsafe.Pointer) bool {
		if n.flat && n.bitsEqual(a, b) {
			return true
		}
		same := unchanged(spans, a, b)
		for i := range fs {
			if same&(1<<i) != 0 {
				continue
			}
			f := &fs[i]
			pa, pb := f.at(a), f.at(b)
			inA, inB := !f.omittedAt(pa), !f.omittedAt(pb)
			if inA != inB || inA && !f.node.eq(d, pa, pb) {
				return false
			}
		}
		return true
	}
	n.diff = func(d *differ, a, b unsafe.Pointer) error {
		if n.flat && n.bitsEqual(a, b) {
			return nil
		}
		same := unchanged(spans, a, b)
		for i := range fs {
			if same&(1<<i) != 0 {
				continue
			}
			f := &fs[i]
			pa, pb := f.at(a), f.at(b)
			inA, inB := !f.omittedAt(pa), !f.omittedAt(pb)
			if !inA && !inB {
				continue
			}
			mark := d.push(f.tok)
			var err error
			switch {
			case !inA:
				var v any
				if v, err = f.node.opValue(d, pb); err == nil {
					d.emit(OpAdd, v)
				}
			case !inB:
				d.emit(OpRemove, nil)
			default:
				err = f.node.diff(d, pa, pb)
			}
			d.pop(mark)
			if err != nil {
				return err
			}
		}
		return nil
	}
}

func (n *diffNode) array(elem *diffNode) {
	l, size := n.t.Len(), elem.size
	n.eq = func(d *differ, a, b unsafe.Pointer) bool {
		if n.flat && n.bitsEqual(a, b) {
			return true
		}
		for i := range l {
			if !elem.eq(d, unsafe.Add(a, uintptr(i)*size), unsafe.Add(b, uintptr(i)*size)) {
				return false
			}
		}
		return true
	}
	n.diff = func(d *differ, a, b unsafe.Pointer) error {
		if n.flat && n.bitsEqual(a, b) {
			return nil
		}
		mark := d.push(token{kind: tokIndex})
		defer d.pop(mark)
		for i := range l {
			d.path[mark].i = i
			if err := elem.diff(d, unsafe.Add(a, uintptr(i)*size), unsafe.Add(b, uintptr(i)*size)); err != nil {
				return err
			}
		}
		return nil
	}
}

// bytes handles []byte, a base64 string in JSON: a leaf.
func (n *diffNode) bytes() {
	n.eq = func(_ *differ, a, b unsafe.Pointer) bool {
		x, y := *(*[]byte)(a), *(*[]byte)(b)
		return (x == nil) == (y == nil) && bytes.Equal(x, y)
	}
	n.diff = func(d *differ, a, b unsafe.Pointer) error {
		if !n.eq(d, a, b) {
			d.emit(OpReplace, n.value(b))
		}
		return nil
	}
}

// sliceHeader is the layout of every slice value.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

func (n *diffNode) slice(elem *diffNode) {
	size := elem.size
	at := func(s *sliceHeader, i int) unsafe.Pointer { return unsafe.Add(s.data, uintptr(i)*size) }
	n.eq = func(d *differ, a, b unsafe.Pointer) bool {
		x, y := (*sliceHeader)(a), (*sliceHeader)(b)
		if (x.data == nil) != (y.data == nil) || x.len != y.len {
			return false
		}
		if x.data == y.data || x.len == 0 || elem.flat && memEqual(x.data, y.data, uintptr(x.len)*size) {
			return true
		}
		if d.enter() != nil {
			return false
		}
		for i := range x.len {
			if !elem.eq(d, at(x, i), at(y, i)) {
				return false
			}
		}
		d.depth--
		return true
	}
	n.diff = func(d *differ, a, b unsafe.Pointer) error {
		x, y := (*sliceHeader)(a), (*sliceHeader)(b)
		if (x.data == nil) != (y.data == nil) {
			d.emit(OpReplace, n.value(b))
			return nil
		}
		if x.len == y.len && (x.data == y.data || x.len == 0) {
			return nil
		}
		if err := d.enter(); err != nil {
			return err
		}
		err := d.sequence(x.len, y.len,
			func(i, j int) bool { return elem.eq(d, at(x, i), at(y, j)) },
			func(i int) error { return elem.diff(d, at(x, i), at(y, i)) },
			func(j int) any { return elem.value(at(y, j)) })
		d.depth--
		return err
	}
}

func (n *diffNode) pointer(elem *diffNode) {
	n.eq = func(d *differ, a, b unsafe.Pointer) bool {
		x, y := *(*unsafe.Pointer)(a), *(*unsafe.Pointer)(b)
		if x == y {
			return true
		}
		if x == nil || y == nil || d.enter() != nil {
			return false
		}
		eq := elem.eq(d, x, y)
		d.depth--
		return eq
	}
	n.diff = func(d *differ, a, b unsafe.Pointer) error {
		x, y := *(*unsafe.Pointer)(a), *(*unsafe.Pointer)(b)
		if x == y {
			return nil
		}
		if x == nil || y == nil {
			d.emit(OpReplace, n.value(b))
			return nil
		}
		if err := d.enter(); err != nil {
			return err
		}
		err := elem.diff(d, x, y)
		d.depth--
		return err
	}
}

func (n *diffNode) iface() {
	held := func(p unsafe.Pointer) any { return reflect.NewAt(n.t, p).Elem().Interface() }
	if n.t.NumMethod() == 0 {
		held = func(p unsafe.Pointer) any { return *(*any)(p) }
	}
	n.eq = func(d *differ, a, b unsafe.Pointer) bool { return d.equalAny(held(a), held(b)) }
	n.diff = func(d *differ, a, b unsafe.Pointer) error { return d.any(held(a), held(b)) }
}

func (n *diffNode) mapType(elem *diffNode) {
	t := n.t
	keyOf := mapKeyFunc(t)
	if keyOf == nil {
		n.diff = func(*differ, unsafe.Pointer, unsafe.Pointer) error {
			return fmt.Errorf("%w: unsupported type %s (map key)", ErrUnsupportedValue, t)
		}
		n.eq = func(*differ, unsafe.Pointer, unsafe.Pointer) bool { return false }
		return
	}
	if t == reflect.TypeFor[map[string]any]() {
		n.eq = func(d *differ, a, b unsafe.Pointer) bool {
			return d.equalAny(*(*map[string]any)(a), *(*map[string]any)(b))
		}
		n.diff = func(d *differ, a, b unsafe.Pointer) error {
			return d.genericMap(*(*map[string]any)(a), *(*map[string]any)(b))
		}
		return
	}
	n.eq = func(d *differ, a, b unsafe.Pointer) bool {
		x, y := reflect.NewAt(t, a).Elem(), reflect.NewAt(t, b).Elem()
		if x.IsNil() != y.IsNil() || x.Len() != y.Len() {
			return false
		}
		if x.UnsafePointer() == y.UnsafePointer() {
			return true
		}
		if d.enter() != nil {
			return false
		}
		defer func() { d.depth-- }()
		hx, hy := reflect.New(t.Elem()).Elem(), reflect.New(t.Elem()).Elem()
		for it := x.MapRange(); it.Next(); {
			v := y.MapIndex(it.Key())
			if !v.IsValid() {
				return false
			}
			hx.SetIterValue(it)
			hy.Set(v)
			if !elem.eq(d, hx.Addr().UnsafePointer(), hy.Addr().UnsafePointer()) {
				return false
			}
		}
		return true
	}
	n.diff = func(d *differ, a, b unsafe.Pointer) error {
		x, y := reflect.NewAt(t, a).Elem(), reflect.NewAt(t, b).Elem()
		if x.IsNil() != y.IsNil() {
			d.emit(OpReplace, n.value(b))
			return nil
		}
		if x.UnsafePointer() == y.UnsafePointer() {
			return nil
		}
		if err := d.enter(); err != nil {
			return err
		}
		// Map values are not addressable; copies give the element differ
		// addresses to work on.
		hx, hy := reflect.New(t.Elem()).Elem(), reflect.New(t.Elem()).Elem()
		var runs []keyRun
		common := 0
		for it := x.MapRange(); it.Next(); {
			k, err := keyOf(it.Key())
			if err != nil {
				return err
			}
			start := len(d.ops)
			mark := d.push(token{s: k, kind: tokKey})
			if v := y.MapIndex(it.Key()); v.IsValid() {
				common++
				hx.SetIterValue(it)
				hy.Set(v)
				err = elem.diff(d, hx.Addr().UnsafePointer(), hy.Addr().UnsafePointer())
			} else {
				d.emit(OpRemove, nil)
			}
			d.pop(mark)
			if err != nil {
				return err
			}
			if len(d.ops) > start {
				runs = append(runs, keyRun{k, start, len(d.ops)})
			}
		}
		if common < y.Len() {
			for it := y.MapRange(); it.Next(); {
				if x.MapIndex(it.Key()).IsValid() {
					continue
				}
				k, err := keyOf(it.Key())
				if err != nil {
					return err
				}
				mark := d.push(token{s: k, kind: tokKey})
				d.emit(OpAdd, it.Value().Interface())
				d.pop(mark)
				runs = append(runs, keyRun{k, len(d.ops) - 1, len(d.ops)})
			}
		}
		d.sortRuns(runs)
		d.depth--
		return nil
	}
}
