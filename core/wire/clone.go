package wire

import (
	"fmt"
	"reflect"
	"unsafe"
)

// Clone returns a deep copy of v that shares no mutable memory with it:
// maps, slices, pointers and interfaces are copied all the way down.
// Strings, channels and functions are copied by value; embedded structs are
// copied deeply even when unexported, because encoding/json reads their
// fields. Other unexported fields are copied by value, which is safe only
// when they hold no references: a type that hides references there is
// copied through its MarshalJSON and UnmarshalJSON (or MarshalText and
// UnmarshalText) methods, time.Time and the math/big numbers are copied
// safely, and anything else makes Clone panic with the error CheckClone
// returns, rather than hand back a copy that shares memory. Callers check
// their static type with CheckClone up front; the dynamic values of
// interfaces can only be checked here. Pointer cycles are not supported,
// and two pointers to one value become two copies.
func Clone[T any](v T) T {
	c := clonerFor(reflect.TypeFor[T]())
	if !c.shallow {
		c.deepen(unsafe.Pointer(&v))
	}
	return v
}

// cloner is the cached copier of one type.
type cloner struct {
	// shallow types need nothing beyond assignment: they hold no
	// references at all.
	shallow bool
	// deepen replaces, in the value at p (a fresh assignment copy), every
	// reference it shares with the original by a copy. For a type that
	// cannot be copied (err), it panics.
	deepen func(p unsafe.Pointer)
	// err is CheckClone's answer: why the type cannot be copied.
	err error
	// fields of a struct that deepen copies.
	fields []deepField
}

type deepField struct {
	offset uintptr
	c      *cloner
	// batch says how a slice field can be copied without reflection,
	// which lets a slice of such structs copy all of them in one block.
	batch sliceCopy
}

// sliceCopy is a way to copy the elements of a slice with plain Go code.
type sliceCopy struct {
	kind uint8 // copyNone, copyStrings or copyBytes
	size uintptr
}

const (
	copyNone uint8 = iota
	copyStrings
	copyBytes // elements without pointers, copied as memory
)

func sliceCopyOf(t reflect.Type) sliceCopy {
	et := t.Elem()
	switch {
	case et.Kind() == reflect.String:
		return sliceCopy{copyStrings, et.Size()}
	case !hasPointers(et):
		return sliceCopy{copyBytes, et.Size()}
	}
	return sliceCopy{}
}

func clonerFor(t reflect.Type) *cloner {
	k := cacheKey{t: t, facet: facetCloner}
	if c, ok := cache.Load(k); ok {
		return c.(*cloner)
	}
	// As with encoders, build privately and publish complete entries only.
	building := map[reflect.Type]*cloner{}
	c := buildCloner(t, building)
	for bt, bc := range building {
		cache.LoadOrStore(cacheKey{t: bt, facet: facetCloner}, bc)
	}
	return c
}

func buildCloner(t reflect.Type, building map[reflect.Type]*cloner) *cloner {
	if c, ok := cache.Load(cacheKey{t: t, facet: facetCloner}); ok {
		return c.(*cloner)
	}
	if c, ok := building[t]; ok {
		return c
	}
	c := &cloner{shallow: isShallow(t)}
	building[t] = c
	if c.shallow {
		return c
	}
	if c.deepen = knownCloner(t); c.deepen != nil {
		return c
	}
	if h := findHidden(t, map[reflect.Type]bool{}, true); h != nil {
		if m := remarshalOf(t); m != marshalNone {
			c.deepen = remarshalCloner(t, m)
			return c
		}
		c.err = &cloneError{t: t, h: h}
		// Reached only by cloning this very type, maybe from inside an
		// interface: the types around it have an err of their own.
		perr := fmt.Errorf("hotstate: %w", c.err)
		c.deepen = func(unsafe.Pointer) { panic(perr) }
		return c
	}
	switch t.Kind() {
	case reflect.Pointer:
		c.deepen = pointerCloner(t, buildCloner(t.Elem(), building))
	case reflect.Slice:
		c.deepen = sliceCloner(t, buildCloner(t.Elem(), building))
	case reflect.Array:
		elem, size := buildCloner(t.Elem(), building), t.Elem().Size()
		c.deepen = func(p unsafe.Pointer) {
			for i := range t.Len() {
				elem.deepen(unsafe.Add(p, uintptr(i)*size))
			}
		}
	case reflect.Struct:
		for i := range t.NumField() {
			sf := t.Field(i)
			if !clonesDeep(sf) || isShallow(sf.Type) {
				continue
			}
			f := deepField{offset: sf.Offset, c: buildCloner(sf.Type, building)}
			if sf.Type.Kind() == reflect.Slice {
				f.batch = sliceCopyOf(sf.Type)
			}
			c.fields = append(c.fields, f)
		}
		c.deepen = func(p unsafe.Pointer) {
			for _, f := range c.fields {
				f.c.deepen(unsafe.Add(p, f.offset))
			}
		}
	case reflect.Map:
		c.deepen = mapCloner(t, buildCloner(t.Elem(), building))
	case reflect.Interface:
		if t.NumMethod() == 0 {
			c.deepen = func(p unsafe.Pointer) { *(*any)(p) = cloneAny(*(*any)(p)) }
		} else {
			c.deepen = func(p unsafe.Pointer) {
				if v := reflect.NewAt(t, p).Elem(); !v.IsNil() {
					v.Set(reflect.ValueOf(cloneAny(v.Interface())))
				}
			}
		}
	}
	return c
}

func pointerCloner(t reflect.Type, elem *cloner) func(unsafe.Pointer) {
	et := t.Elem()
	return func(p unsafe.Pointer) {
		old := *(*unsafe.Pointer)(p)
		if old == nil {
			return
		}
		v := reflect.New(et)
		v.Elem().Set(reflect.NewAt(et, old).Elem())
		np := v.UnsafePointer()
		if !elem.shallow {
			elem.deepen(np)
		}
		*(*unsafe.Pointer)(p) = np
	}
}

// sliceCloner copies slices of strings and of pointer-free elements with
// plain Go copies, the rest with reflection.
func sliceCloner(t reflect.Type, elem *cloner) func(unsafe.Pointer) {
	if sc := sliceCopyOf(t); sc.kind != copyNone {
		return func(p unsafe.Pointer) {
			if n := (*sliceHeader)(p).len; n > 0 {
				sc.copyTo(sc.alloc(n), p)
			} else {
				emptySlice(p)
			}
		}
	}
	size := t.Elem().Size()
	return func(p unsafe.Pointer) {
		h := (*sliceHeader)(p)
		if h.len == 0 {
			emptySlice(p)
			return
		}
		// Grow on the emptied slice allocates just the array (MakeSlice
		// would allocate a slice header too); the old header, saved
		// aside, is the source of one typed copy.
		old := *h
		v := reflect.NewAt(t, p).Elem()
		v.SetZero()
		v.Grow(old.len)
		v.SetLen(old.len)
		reflect.Copy(v, reflect.NewAt(t, unsafe.Pointer(&old)).Elem())
		if !elem.shallow {
			elem.deepenAll(h.data, h.len, size)
		}
	}
}

// alloc returns room for n elements.
func (sc sliceCopy) alloc(n int) unsafe.Pointer {
	if sc.kind == copyStrings {
		return unsafe.Pointer(unsafe.SliceData(make([]string, n)))
	}
	// Words keep the block aligned for any element type.
	return unsafe.Pointer(unsafe.SliceData(make([]uint64, (uintptr(n)*sc.size+7)/8)))
}

// copyTo copies the elements of the slice at p to dst and points the slice
// there, with cap equal to len so that an append cannot run into
// whatever follows in dst.
func (sc sliceCopy) copyTo(dst, p unsafe.Pointer) {
	h := (*sliceHeader)(p)
	if sc.kind == copyStrings {
		d := unsafe.Slice((*string)(dst), h.len)
		copy(d, unsafe.Slice((*string)(h.data), h.len))
		*(*[]string)(p) = d
		return
	}
	n := uintptr(h.len) * sc.size
	copy(unsafe.Slice((*byte)(dst), n), unsafe.Slice((*byte)(h.data), n))
	h.data, h.cap = dst, h.len
}

// deepenAll deepens the n values of c's type that start at data. The
// slices of strings or plain numbers inside structs, such as the tags of
// many items, get one block per field for all elements: one allocation
// instead of n, at the price of the block living as long as any of them.
func (c *cloner) deepenAll(data unsafe.Pointer, n int, size uintptr) {
	batched := false
	for _, f := range c.fields {
		if f.batch.kind == copyNone {
			continue
		}
		batched = true
		total := 0
		for i := range n {
			total += (*sliceHeader)(unsafe.Add(data, uintptr(i)*size+f.offset)).len
		}
		var block unsafe.Pointer
		if total > 0 {
			block = f.batch.alloc(total)
		}
		at := 0 // an index, not a pointer: a pointer past the block is invalid
		for i := range n {
			p := unsafe.Add(data, uintptr(i)*size+f.offset)
			l := (*sliceHeader)(p).len
			if l == 0 {
				emptySlice(p)
				continue
			}
			f.batch.copyTo(unsafe.Add(block, uintptr(at)*f.batch.size), p)
			at += l
		}
	}
	if !batched {
		for i := range n {
			c.deepen(unsafe.Add(data, uintptr(i)*size))
		}
		return
	}
	for i := range n {
		p := unsafe.Add(data, uintptr(i)*size)
		for _, f := range c.fields {
			if f.batch.kind == copyNone {
				f.c.deepen(unsafe.Add(p, f.offset))
			}
		}
	}
}

// emptySlice leaves a nil slice nil and makes an empty one unable to reach
// the original's array through append.
func emptySlice(p unsafe.Pointer) {
	(*sliceHeader)(p).cap = 0
}

func mapCloner(t reflect.Type, elem *cloner) func(unsafe.Pointer) {
	return func(p unsafe.Pointer) {
		v := reflect.NewAt(t, p).Elem()
		if v.IsNil() {
			return
		}
		m := reflect.MakeMapWithSize(t, v.Len())
		h := reflect.New(t.Elem()).Elem()
		hp := h.Addr().UnsafePointer()
		for it := v.MapRange(); it.Next(); {
			h.SetIterValue(it)
			if !elem.shallow {
				elem.deepen(hp)
			}
			m.SetMapIndex(it.Key(), h)
		}
		v.Set(m)
	}
}

// hasPointers reports whether values of t hold any pointer, string data
// included.
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	}
	return true
}

// isShallow reports whether assignment is all Clone does for a t: no maps,
// slices, pointers or interfaces inside, nor any other reference in the
// fields that clonesDeep leaves alone.
func isShallow(t reflect.Type) bool {
	if t == timeType {
		return true
	}
	switch t.Kind() {
	case reflect.Map, reflect.Slice, reflect.Pointer, reflect.Interface:
		return false
	case reflect.Array:
		return t.Len() == 0 || isShallow(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			sf := t.Field(i)
			if clonesDeep(sf) && !isShallow(sf.Type) || !clonesDeep(sf) && holdsRefs(sf.Type) {
				return false
			}
		}
	}
	return true
}

// clonesDeep reports whether Clone copies a struct field deeply: exported
// fields, and embedded structs (or pointers to them) whose fields
// encoding/json flattens into the value.
func clonesDeep(sf reflect.StructField) bool {
	if sf.IsExported() {
		return true
	}
	t := sf.Type
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return sf.Anonymous && t.Kind() == reflect.Struct
}

// cloneAny deep-copies a value held in an interface; generic trees skip
// reflection. The value inside an interface cannot be changed in place, so
// a shallow one is returned as it is.
func cloneAny(x any) any {
	switch x := x.(type) {
	case nil, string, bool, float64, int64, uint64, int:
		return x
	case map[string]any:
		if x == nil {
			return x
		}
		m := make(map[string]any, len(x))
		for k, v := range x {
			m[k] = cloneAny(v)
		}
		return m
	case []any:
		if x == nil {
			return x
		}
		s := make([]any, len(x))
		for i, v := range x {
			s[i] = cloneAny(v)
		}
		return s
	}
	t := reflect.TypeOf(x)
	c := clonerFor(t)
	if c.shallow {
		return x
	}
	v := reflect.New(t)
	v.Elem().Set(reflect.ValueOf(x))
	c.deepen(v.UnsafePointer())
	return v.Elem().Interface()
}
