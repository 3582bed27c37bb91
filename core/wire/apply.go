package wire

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"unsafe"
)

// ErrBadPatch is wrapped by the errors of Apply and ApplyTo: a patch that does
// not fit the document it is applied to.
var ErrBadPatch = errors.New("hotstate: patch does not apply")

var (
	errMissingKey   = errors.New("no such key")
	errBadIndex     = errors.New("array index out of range")
	errNotContainer = errors.New("path walks into a value that is neither object nor array")
	errRemoveRoot   = errors.New("cannot remove the whole document")
)

// Apply returns doc with ops applied in order, never mutating doc: only the
// maps and slices on each op's path are copied, every other subtree is
// shared with doc (structural sharing), so callers can compare subtrees by
// identity to see what changed.
//
// doc is a generic tree as DecodeInterfaceLoose produces it with
// map[string]any maps: map[string]any, []any, string, bool, nil, int64,
// uint64, float64; op values are generic trees too and are inserted as they
// are, not copied. Ops follow RFC 6902: add sets an object member or
// inserts into an array (at len or "-" it appends), remove and replace need
// the target to exist, and the path "" stands for the whole document. A
// missing parent, an index out of range, a removal of a missing key or a
// path through "__proto__" returns an error
// wrapping ErrBadPatch, and doc is left as it was.
func Apply(doc any, ops []Op) (any, error) {
	var a applier
	if len(ops) > 1 {
		// Containers this call copied may be changed in place by later
		// ops: nobody else has seen them yet.
		a.owned = map[unsafe.Pointer]struct{}{}
	}
	for i := range ops {
		op := &ops[i]
		var err error
		if doc, err = a.apply(doc, op); err != nil {
			return nil, fmt.Errorf("%w: op %d (%s %q): %v", ErrBadPatch, i, op.Op, op.Path, err)
		}
	}
	return doc, nil
}

type applier struct {
	owned map[unsafe.Pointer]struct{}
}

func (a *applier) apply(doc any, op *Op) (any, error) {
	if op.Op > OpReplace {
		return nil, fmt.Errorf("unknown op code %d", op.Op)
	}
	if op.Path == "" {
		if op.Op == OpRemove {
			return nil, errRemoveRoot
		}
		return op.Value, nil
	}
	return a.walk(doc, op.Path, op)
}

// walk returns node with op applied at path below it.
func (a *applier) walk(node any, path string, op *Op) (any, error) {
	tok, rest, err := nextToken(path)
	if err != nil {
		return nil, err
	}
	switch n := node.(type) {
	case map[string]any:
		if rest == "" {
			return a.mapMember(n, tok, op)
		}
		child, ok := n[tok]
		if !ok {
			return nil, errMissingKey
		}
		child, err := a.walk(child, rest, op)
		if err != nil {
			return nil, err
		}
		m := a.ownMap(n)
		m[tok] = child
		return m, nil
	case []any:
		if rest == "" {
			return a.element(n, tok, op)
		}
		i := arrayIndex(tok, len(n)-1)
		if i < 0 {
			return nil, errBadIndex
		}
		child, err := a.walk(n[i], rest, op)
		if err != nil {
			return nil, err
		}
		s := a.ownSlice(n)
		s[i] = child
		return s, nil
	}
	return nil, errNotContainer
}

func (a *applier) mapMember(n map[string]any, key string, op *Op) (any, error) {
	if _, ok := n[key]; !ok && op.Op != OpAdd {
		return nil, errMissingKey
	}
	m := a.ownMap(n)
	if op.Op == OpRemove {
		delete(m, key)
	} else {
		m[key] = op.Value
	}
	return m, nil
}

func (a *applier) element(n []any, tok string, op *Op) (any, error) {
	switch op.Op {
	case OpAdd:
		i := len(n)
		if tok != "-" {
			if i = arrayIndex(tok, len(n)); i < 0 {
				return nil, errBadIndex
			}
		}
		return a.insert(n, i, op.Value), nil
	case OpRemove:
		i := arrayIndex(tok, len(n)-1)
		if i < 0 {
			return nil, errBadIndex
		}
		if a.isOwned(n) {
			copy(n[i:], n[i+1:])
			n[len(n)-1] = nil
			return n[:len(n)-1], nil
		}
		s := make([]any, len(n)-1)
		copy(s, n[:i])
		copy(s[i:], n[i+1:])
		a.own(s)
		return s, nil
	default:
		i := arrayIndex(tok, len(n)-1)
		if i < 0 {
			return nil, errBadIndex
		}
		s := a.ownSlice(n)
		s[i] = op.Value
		return s, nil
	}
}

func (a *applier) insert(n []any, i int, v any) []any {
	if a.isOwned(n) {
		n = append(n, nil)
		copy(n[i+1:], n[i:])
		n[i] = v
		a.own(n) // append may have moved it
		return n
	}
	spare := 0
	if a.owned != nil {
		spare = len(n)/8 + 1 // room for the inserts that may follow
	}
	s := make([]any, len(n)+1, len(n)+1+spare)
	copy(s, n[:i])
	s[i] = v
	copy(s[i+1:], n[i:])
	a.own(s)
	return s
}

func (a *applier) ownMap(n map[string]any) map[string]any {
	if n != nil && a.owned != nil {
		if _, ok := a.owned[reflect.ValueOf(n).UnsafePointer()]; ok {
			return n
		}
	}
	m := maps.Clone(n)
	if m == nil {
		m = map[string]any{}
	}
	if a.owned != nil {
		a.owned[reflect.ValueOf(m).UnsafePointer()] = struct{}{}
	}
	return m
}

func (a *applier) ownSlice(n []any) []any {
	if a.isOwned(n) {
		return n
	}
	s := make([]any, len(n))
	copy(s, n)
	a.own(s)
	return s
}

func (a *applier) isOwned(s []any) bool {
	if a.owned == nil || cap(s) == 0 {
		return false
	}
	_, ok := a.owned[unsafe.Pointer(unsafe.SliceData(s))]
	return ok
}

// own records s as copied by this call. Empty slices may share one
// address, so they are never recorded.
func (a *applier) own(s []any) {
	if a.owned != nil && cap(s) > 0 {
		a.owned[unsafe.Pointer(unsafe.SliceData(s))] = struct{}{}
	}
}
