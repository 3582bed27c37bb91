package wire

// ApplyTo is Apply for a typed value: it walks each op's path through the
// value's memory with a walker compiled once per type, and decodes only
// the op values into the places they land in.

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// ApplyTo applies ops to *dst in place, with the outcome of encoding *dst
// to a generic tree (ToTree), applying the ops to it with Apply and
// decoding the result into a fresh T with encoding/json's rules
// (FromTree), at a cost that grows with the change rather than with the
// state. Paths are followed down struct fields by their exact json names,
// pointers, slices, arrays and maps with string keys, and an op's value is
// decoded into the type of the place it lands in. A path leading into
// anything else (a type with its own marshaling or unmarshaling methods,
// such as time.Time; an interface; a map with other keys; a ",string"
// field; a name that is no field's exact json name; a field promoted from
// a nil embedded pointer) is applied the reference's way to that part
// alone: encoded, patched with Apply and decoded back into its place. So
// are all remaining ops, at the smallest part holding their targets, once
// an op leaves the tree in a shape the Go value does not mirror (a member
// the type has no field for, a removed field, an array longer than the Go
// array, a value that does not decode but may yet be overwritten).
//
// Parts of *dst no op reaches are not touched, where the reference passes
// them through an encoding and a decoding. The outcomes differ only for
// state this round trip changes (fields encoding/json does not see, an
// interface holding a typed value or integers, a time's monotonic reading
// or location, strings that are not valid UTF-8, empty collections in
// omitempty fields, pointers shared by two parts) or does not survive
// (values encoding or decoding fails on, where the reference fails). A
// state decoded from the wire holds none of these.
//
// As *dst changes in place, values sharing memory with it (a shallow copy,
// a slice taken from it) may see the change: Clone first to keep the old
// state. An error wraps ErrBadPatch and leaves *dst as it was: a single op
// is checked before anything changes, a longer list undoes what it did.
func ApplyTo[T any](dst *T, ops []Op) error {
	if dst == nil {
		return errors.New("hotstate: ApplyTo into a nil pointer")
	}
	return applyTyped(reflect.ValueOf(dst).Elem(), ops)
}

func applyTyped(root reflect.Value, ops []Op) error {
	a := typedApplier{log: len(ops) > 1}
	n := patcherFor(root.Type(), false)
	for k := range ops {
		op := &ops[k]
		last := k == len(ops)-1
		mark := len(a.undo)
		clean, err := a.apply(root, n, op, !last)
		var late *decodeFailure
		switch {
		case err == nil && (clean || last):
			continue
		case err == nil || !last && errors.As(err, &late):
			// The reference decodes once, after the last op, so a value
			// that does not fit may yet be overwritten; and a tree the Go
			// value does not mirror may be walked by the ops that follow.
			a.rollback(mark)
			if err := a.rest(root, n, ops, k); err != nil {
				a.rollback(0)
				return err
			}
			return nil
		}
		a.rollback(0)
		return fmt.Errorf("%w: op %d (%s %q): %w", ErrBadPatch, k, op.Op, op.Path, err)
	}
	return nil
}

// decodeFailure is an op value that does not decode into its place.
type decodeFailure struct{ err error }

func (e *decodeFailure) Error() string { return e.err.Error() }
func (e *decodeFailure) Unwrap() error { return e.err }

// typedApplier applies ops to one value. Every method that reports clean
// says whether the encoding of what it changed equals the reference's tree
// there, which the ops after it rely on; it is only worked out when check
// is set, that is when more ops follow.
type typedApplier struct {
	// log is set for lists of more than one op, which record in undo how
	// to take their changes back.
	log  bool
	undo []undoStep
}

type undoStep struct {
	kind uint8
	i    int
	loc  reflect.Value // the place changed, or the map
	key  reflect.Value
	old  reflect.Value // invalid for a map key that was missing
}

const (
	undoSet uint8 = iota
	undoMap
	undoInsert
	undoRemove
)

func (a *typedApplier) apply(root reflect.Value, n *patchNode, op *Op, check bool) (bool, error) {
	if op.Op > OpReplace {
		return false, fmt.Errorf("unknown op code %d", op.Op)
	}
	if op.Path == "" {
		if op.Op == OpRemove {
			return false, errRemoveRoot
		}
		return a.store(root, n, op.Value, check)
	}
	return a.at(root, n, op.Path, op, check)
}

// at applies op at path below v, a place holding n's type. It fails where
// Apply would fail on the tree of v.
func (a *typedApplier) at(v reflect.Value, n *patchNode, path string, op *Op, check bool) (bool, error) {
	for n.kind == kindPointer {
		if v.IsNil() {
			return false, errNotContainer // null in the tree
		}
		v, n = v.Elem(), n.elem
	}
	tok, rest, err := nextToken(path)
	if err != nil {
		return false, err
	}
	switch n.kind {
	case kindStruct:
		f := n.fields[tok]
		if f == nil || f.quoted {
			// A ",string" field decodes differently on its own, and a
			// name that is no field's exact name may yet match one.
			return a.generic(v, n, path, op, check)
		}
		fv := f.byIndex(v)
		if !fv.IsValid() { // behind a nil embedded pointer
			if rest == "" && op.Op == OpAdd {
				// Decoding makes the embedded struct (or fails, for an
				// unexported one).
				return a.generic(v, n, path, op, check)
			}
			return false, errMissingKey
		}
		if f.ptrAddr && rest == "" && op.Op == OpRemove {
			// Without its last member, decoding leaves the embedded
			// pointer nil.
			return a.generic(v, n, path, op, check)
		}
		present := !f.omitted(fv)
		if rest == "" {
			return a.field(fv, f, present, op, check)
		}
		if !present {
			return false, errMissingKey
		}
		clean, err := a.at(fv, f.node, rest, op, check)
		// A field the op emptied drops out of the encoding; the
		// reference's tree keeps it.
		return clean && !(f.omits && f.omitted(fv)), err
	case kindSlice, kindArray:
		if n.kind == kindSlice && v.IsNil() {
			return false, errNotContainer
		}
		if rest == "" {
			if n.kind == kindArray && op.Op != OpReplace {
				// The tree's array grows or shrinks; decoding cuts it to
				// the Go array's length or zero-fills it.
				return a.generic(v, n, path, op, check)
			}
			return a.element(v, n, tok, op, check)
		}
		i := arrayIndex(tok, v.Len()-1)
		if i < 0 {
			return false, errBadIndex
		}
		return a.at(v.Index(i), n.elem, rest, op, check)
	case kindMap:
		if v.IsNil() {
			return false, errNotContainer
		}
		if !utf8.ValidString(tok) {
			// The key reaches the decoder with its bad bytes replaced.
			return a.generic(v, n, path, op, check)
		}
		key := n.key(tok)
		if rest == "" {
			return a.member(v, n, key, op, check)
		}
		cur := v.MapIndex(key)
		if !cur.IsValid() {
			return false, errMissingKey
		}
		// Map values cannot be changed in place: change a copy and put
		// it back.
		tmp := reflect.New(n.elem.t).Elem()
		tmp.Set(cur)
		clean, err := a.at(tmp, n.elem, rest, op, check)
		if err != nil {
			return false, err
		}
		a.mapSet(v, key, tmp)
		return clean, nil
	}
	return a.generic(v, n, path, op, check)
}

// field applies op to the struct field fv, which the encoding holds when
// present.
func (a *typedApplier) field(fv reflect.Value, f *patchField, present bool, op *Op, check bool) (bool, error) {
	if op.Op != OpAdd && !present {
		return false, errMissingKey
	}
	if op.Op == OpRemove {
		// Decoding into a fresh value leaves a missing member zero.
		a.save(fv)
		fv.SetZero()
		return f.omits && f.omitted(fv), nil
	}
	clean, err := a.store(fv, f.node, op.Value, check)
	return clean && !(f.omits && f.omitted(fv)), err
}

// element applies op to the element tok of the slice or array v; arrays
// only take replace.
func (a *typedApplier) element(v reflect.Value, n *patchNode, tok string, op *Op, check bool) (bool, error) {
	l := v.Len()
	if op.Op == OpAdd {
		i := l
		if tok != "-" {
			if i = arrayIndex(tok, l); i < 0 {
				return false, errBadIndex
			}
		}
		x := reflect.New(n.elem.t).Elem()
		clean, err := n.elem.decode(x, op.Value, check)
		if err != nil {
			return false, err
		}
		a.insert(v, i, x)
		return clean, nil
	}
	i := arrayIndex(tok, l-1)
	if i < 0 {
		return false, errBadIndex
	}
	if op.Op == OpRemove {
		a.remove(v, i)
		return true, nil
	}
	return a.store(v.Index(i), n.elem, op.Value, check)
}

func (a *typedApplier) member(m reflect.Value, n *patchNode, key reflect.Value, op *Op, check bool) (bool, error) {
	if op.Op != OpAdd && !m.MapIndex(key).IsValid() {
		return false, errMissingKey
	}
	if op.Op == OpRemove {
		a.mapSet(m, key, reflect.Value{})
		return true, nil
	}
	x := reflect.New(n.elem.t).Elem()
	clean, err := n.elem.decode(x, op.Value, check)
	if err != nil {
		return false, err
	}
	a.mapSet(m, key, x)
	return clean, nil
}

// store decodes v into the place loc, of n's type.
func (a *typedApplier) store(loc reflect.Value, n *patchNode, v any, check bool) (bool, error) {
	if n.scalar {
		mark := len(a.undo)
		a.save(loc)
		if setScalar(loc, v) {
			return true, nil
		}
		a.undo = a.undo[:mark]
	}
	x := reflect.New(n.t).Elem()
	clean, err := n.decode(x, v, check)
	if err != nil {
		return false, err
	}
	a.set(loc, x)
	return clean, nil
}

// generic applies op, whose path is relative to v, the reference's way:
// v's tree, patched, decoded into a fresh value that replaces v.
func (a *typedApplier) generic(v reflect.Value, n *patchNode, path string, op *Op, check bool) (bool, error) {
	tree, err := n.tree(v)
	if err != nil {
		return false, err
	}
	rel := Op{Op: op.Op, Path: path, Value: op.Value}
	var ap applier
	if tree, err = ap.apply(tree, &rel); err != nil {
		return false, err
	}
	x := reflect.New(n.t).Elem()
	if err := FromTree(tree, x.Addr().Interface()); err != nil {
		return false, &decodeFailure{err}
	}
	clean := false
	if check {
		enc, err := n.tree(x)
		clean = err == nil && jsonEqual(enc, tree)
	}
	a.set(v, x)
	return clean, nil
}

// rest applies ops[k:] the reference's way to the deepest place that holds
// all their targets.
func (a *typedApplier) rest(root reflect.Value, n *patchNode, ops []Op, k int) error {
	prefix := parentOf(ops[k].Path)
	for _, op := range ops[k+1:] {
		prefix = commonPath(prefix, parentOf(op.Path))
	}
	return a.reach(root, n, prefix, func(v reflect.Value, n *patchNode, left string) error {
		skip := len(prefix) - len(left)
		tree, err := n.tree(v)
		if err != nil {
			return fmt.Errorf("%w: op %d (%s %q): %w", ErrBadPatch, k, ops[k].Op, ops[k].Path, err)
		}
		ap := applier{owned: map[unsafe.Pointer]struct{}{}}
		for j := k; j < len(ops); j++ {
			rel := ops[j]
			rel.Path = rel.Path[skip:]
			if tree, err = ap.apply(tree, &rel); err != nil {
				return fmt.Errorf("%w: op %d (%s %q): %w", ErrBadPatch, j, ops[j].Op, ops[j].Path, err)
			}
		}
		x := reflect.New(n.t).Elem()
		if err := FromTree(tree, x.Addr().Interface()); err != nil {
			return fmt.Errorf("%w: ops %d to %d: %w", ErrBadPatch, k, len(ops)-1, err)
		}
		a.set(v, x)
		return nil
	})
}

// reach walks path from v as far as the fast walk safely goes and calls fn
// with the place it stopped at and the part of path left.
func (a *typedApplier) reach(v reflect.Value, n *patchNode, path string, fn func(reflect.Value, *patchNode, string) error) error {
	if path == "" {
		return fn(v, n, path)
	}
	tok, rest, err := nextToken(path)
	if err != nil {
		return fn(v, n, path)
	}
	switch n.kind {
	case kindPointer:
		if !v.IsNil() {
			return a.reach(v.Elem(), n.elem, path, fn)
		}
	case kindStruct:
		if f := n.fields[tok]; f != nil && !f.quoted {
			if fv := f.byIndex(v); fv.IsValid() && !f.omitted(fv) {
				return a.reach(fv, f.node, rest, fn)
			}
		}
	case kindSlice, kindArray:
		if i := arrayIndex(tok, v.Len()-1); i >= 0 {
			return a.reach(v.Index(i), n.elem, rest, fn)
		}
	case kindMap:
		if v.IsNil() || !utf8.ValidString(tok) {
			break
		}
		key := n.key(tok)
		if cur := v.MapIndex(key); cur.IsValid() {
			tmp := reflect.New(n.elem.t).Elem()
			tmp.Set(cur)
			if err := a.reach(tmp, n.elem, rest, fn); err != nil {
				return err
			}
			a.mapSet(v, key, tmp)
			return nil
		}
	}
	return fn(v, n, path)
}

// parentOf returns the path of the container an op at path changes: ""
// for the root and for paths Apply will refuse.
func parentOf(path string) string {
	if path == "" || path[0] != '/' {
		return ""
	}
	return path[:strings.LastIndexByte(path, '/')]
}

// commonPath returns the longest path both a and b start with, whole
// tokens only.
func commonPath(a, b string) string {
	if len(a) > len(b) {
		a, b = b, a
	}
	if strings.HasPrefix(b, a) && (len(b) == len(a) || b[len(a)] == '/') {
		return a
	}
	i := 0
	for i < len(a) && a[i] == b[i] {
		i++
	}
	return a[:max(strings.LastIndexByte(a[:i], '/'), 0)]
}

func (a *typedApplier) save(loc reflect.Value) {
	if a.log {
		old := reflect.New(loc.Type()).Elem()
		old.Set(loc)
		a.undo = append(a.undo, undoStep{kind: undoSet, loc: loc, old: old})
	}
}

func (a *typedApplier) set(loc, x reflect.Value) {
	a.save(loc)
	loc.Set(x)
}

// mapSet sets m[key] to x, or deletes it when x is invalid.
func (a *typedApplier) mapSet(m, key, x reflect.Value) {
	if a.log {
		a.undo = append(a.undo, undoStep{kind: undoMap, loc: m, key: key, old: m.MapIndex(key)})
	}
	m.SetMapIndex(key, x)
}

// insert puts x at index i of the slice s, in its array when there is room.
func (a *typedApplier) insert(s reflect.Value, i int, x reflect.Value) {
	if a.log {
		old := reflect.New(s.Type()).Elem()
		old.Set(s)
		a.undo = append(a.undo, undoStep{kind: undoInsert, loc: s, i: i, old: old})
	}
	l := s.Len()
	s.Grow(1)
	s.SetLen(l + 1)
	reflect.Copy(s.Slice(i+1, l+1), s.Slice(i, l))
	s.Index(i).Set(x)
}

func (a *typedApplier) remove(s reflect.Value, i int) {
	if a.log {
		old := reflect.New(s.Type().Elem()).Elem()
		old.Set(s.Index(i))
		a.undo = append(a.undo, undoStep{kind: undoRemove, loc: s, i: i, old: old})
	}
	l := s.Len()
	reflect.Copy(s.Slice(i, l-1), s.Slice(i+1, l))
	s.Index(l - 1).SetZero() // lets the collector have what it held
	s.SetLen(l - 1)
}

// rollback takes back the changes logged since mark, newest first: each
// step finds the value as its change left it.
func (a *typedApplier) rollback(mark int) {
	for j := len(a.undo) - 1; j >= mark; j-- {
		u := &a.undo[j]
		switch u.kind {
		case undoSet:
			u.loc.Set(u.old)
		case undoMap:
			u.loc.SetMapIndex(u.key, u.old)
		case undoInsert:
			// When the insert moved the slice to a new array, the old
			// one is untouched and this shift is wasted on the new one.
			l := u.loc.Len()
			reflect.Copy(u.loc.Slice(u.i, l-1), u.loc.Slice(u.i+1, l))
			u.loc.Index(l - 1).SetZero()
			u.loc.Set(u.old)
		case undoRemove:
			l := u.loc.Len() + 1
			u.loc.SetLen(l)
			reflect.Copy(u.loc.Slice(u.i+1, l), u.loc.Slice(u.i, l-1))
			u.loc.Index(u.i).Set(u.old)
		}
		*u = undoStep{}
	}
	a.undo = a.undo[:mark]
}
