package wire

import (
	"reflect"
)

// Clone returns a deep copy of v that shares no mutable memory with it:
// maps, slices, pointers and interfaces are copied all the way down.
// Strings, and values of struct types with unexported fields (time.Time,
// sync types, ...), are copied by value, as are channels and functions.
// Pointer cycles are not supported; shared pointers become separate copies.
func Clone[T any](v T) T {
	c := clonerFor(reflect.TypeFor[T]())
	if c.shallow {
		return v
	}
	c.deepen(reflect.ValueOf(&v).Elem())
	return v
}

// cloner is the cached copier of one type.
type cloner struct {
	// shallow types need nothing beyond assignment: they hold no maps,
	// slices, pointers or interfaces that a deep copy would follow.
	shallow bool
	// deepen replaces, in the addressable value v (a fresh assignment
	// copy), every reference it shares with the original by a copy.
	deepen func(v reflect.Value)
}

func clonerFor(t reflect.Type) *cloner {
	k := cacheKey{t: t, facet: facetCloner}
	if c, ok := cache.Load(k); ok {
		return c.(*cloner)
	}
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
	c := &cloner{}
	building[t] = c
	c.shallow = isShallow(t)
	if c.shallow {
		return c
	}
	switch t.Kind() {
	case reflect.Pointer:
		elem := buildCloner(t.Elem(), building)
		c.deepen = func(v reflect.Value) {
			if v.IsNil() {
				return
			}
			p := reflect.New(t.Elem())
			p.Elem().Set(v.Elem())
			if !elem.shallow {
				elem.deepen(p.Elem())
			}
			v.Set(p)
		}
	case reflect.Slice:
		elem := buildCloner(t.Elem(), building)
		c.deepen = func(v reflect.Value) {
			if v.IsNil() {
				return
			}
			n := v.Len()
			s := reflect.MakeSlice(t, n, n)
			reflect.Copy(s, v)
			if !elem.shallow {
				for i := range n {
					elem.deepen(s.Index(i))
				}
			}
			v.Set(s)
		}
	case reflect.Array:
		elem := buildCloner(t.Elem(), building)
		c.deepen = func(v reflect.Value) {
			for i := range v.Len() {
				elem.deepen(v.Index(i))
			}
		}
	case reflect.Struct:
		var idx []int
		var fs []*cloner
		for i := range t.NumField() {
			if ft := t.Field(i).Type; !isShallow(ft) {
				idx = append(idx, i)
				fs = append(fs, buildCloner(ft, building))
			}
		}
		c.deepen = func(v reflect.Value) {
			for j, i := range idx {
				fs[j].deepen(v.Field(i))
			}
		}
	case reflect.Map:
		elem := buildCloner(t.Elem(), building)
		c.deepen = func(v reflect.Value) {
			if v.IsNil() {
				return
			}
			m := reflect.MakeMapWithSize(t, v.Len())
			h := reflect.New(t.Elem()).Elem()
			for it := v.MapRange(); it.Next(); {
				h.SetIterValue(it)
				if !elem.shallow {
					elem.deepen(h)
				}
				m.SetMapIndex(it.Key(), h)
			}
			v.Set(m)
		}
	case reflect.Interface:
		c.deepen = func(v reflect.Value) {
			if !v.IsNil() {
				v.Set(reflect.ValueOf(cloneAny(v.Interface())))
			}
		}
	}
	return c
}

// isShallow reports whether assignment is all Clone does for a t: it holds
// no maps, slices, pointers or interfaces, or it is a struct with
// unexported fields, which Clone copies by value because reflection cannot
// set them.
func isShallow(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Map, reflect.Slice, reflect.Pointer, reflect.Interface:
		return false
	case reflect.Array:
		return t.Len() == 0 || isShallow(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !t.Field(i).IsExported() {
				return true
			}
		}
		for i := range t.NumField() {
			if !isShallow(t.Field(i).Type) {
				return false
			}
		}
	}
	return true
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
	v := reflect.New(t).Elem()
	v.Set(reflect.ValueOf(x))
	c.deepen(v)
	return v.Interface()
}
