package wire

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"
)

// OpCode is the operation of a patch step, as numbered in PROTOCOL.md.
type OpCode uint8

// Patch operations (RFC 6902).
const (
	OpAdd     OpCode = 0
	OpRemove  OpCode = 1
	OpReplace OpCode = 2
)

// String returns the RFC 6902 name of the operation.
func (c OpCode) String() string {
	switch c {
	case OpAdd:
		return "add"
	case OpRemove:
		return "remove"
	case OpReplace:
		return "replace"
	}
	return "op(" + strconv.Itoa(int(c)) + ")"
}

// Op is one JSON Patch (RFC 6902) operation. Path is an RFC 6901 pointer.
// Value is any Go value, encoded with EncodeValue; OpRemove has none.
type Op struct {
	Op    OpCode
	Path  string
	Value any
}

// Diff returns the operations that turn old into new. Paths use json
// names, so applying the ops to the decoded encoding of old yields the
// decoded encoding of new. Values refer to parts of new, not copies.
//
// Diff walks the two values with reflection along the same fields the
// encoder writes; equal subtrees cost a comparison and no allocation.
// Values of different dynamic types (or a nil one) replace the root.
func Diff(old, new any) ([]Op, error) {
	var d differ
	d.path = d.pathBuf[:0]
	if err := d.any(old, new); err != nil {
		return nil, err
	}
	return d.ops, nil
}

// differ accumulates ops while walking two values.
type differ struct {
	ops     []Op
	path    []token // rendered only when an op is emitted
	pathBuf [16]token
	// pathBytes is reused to render paths.
	pathBytes []byte
	depth     int
	// tooDeep is set when nesting passed maxNesting, also inside eq, which
	// cannot return it: a cycle then fails once instead of once per level.
	tooDeep error
	// Scratch space for comparing the encodings of marshaled values,
	// made on first use.
	bufA, bufB bytes.Buffer
	encA, encB *msgpack.Encoder
}

// token is one step of the current path: a struct field (name already
// escaped), a map key, or an array index.
type token struct {
	s    string
	i    int
	kind uint8
}

const (
	tokField uint8 = iota
	tokKey
	tokIndex
)

func (d *differ) push(t token) int {
	d.path = append(d.path, t)
	return len(d.path) - 1
}

func (d *differ) pop(mark int) { d.path = d.path[:mark] }

func (d *differ) emit(code OpCode, v any) {
	b := d.pathBytes[:0]
	for _, t := range d.path {
		switch t.kind {
		case tokField:
			b = append(b, t.s...)
		case tokKey:
			b = AppendPointerToken(b, validUTF8(t.s))
		default:
			b = append(b, '/')
			b = strconv.AppendInt(b, int64(t.i), 10)
		}
	}
	d.pathBytes = b
	d.ops = append(d.ops, Op{Op: code, Path: string(b), Value: v})
}

func (d *differ) enter() error {
	d.depth++
	if d.depth > maxNesting {
		if d.tooDeep == nil {
			d.tooDeep = fmt.Errorf("%w: nested more than %d levels (a cycle?)", ErrUnsupportedValue, maxNesting)
		}
		return d.tooDeep
	}
	return nil
}

// any diffs two values held in interfaces: generic trees directly, typed
// values through their compiled differ.
func (d *differ) any(a, b any) error {
	switch x := a.(type) {
	case nil:
		if b == nil {
			return nil
		}
	case map[string]any:
		if y, ok := b.(map[string]any); ok {
			return d.genericMap(x, y)
		}
	case []any:
		if y, ok := b.([]any); ok {
			return d.genericSlice(x, y)
		}
	case string, bool, int64, uint64, int:
		if a == b { // comparable dynamic types: no allocation, no panic
			return nil
		}
	case float64:
		if y, ok := b.(float64); ok && math.Float64bits(x) == math.Float64bits(y) {
			return nil
		}
	default:
		t := reflect.TypeOf(a)
		if t != reflect.TypeOf(b) {
			break
		}
		if err := d.enter(); err != nil {
			return err
		}
		// An interface's value is not addressable, so it is diffed as such,
		// in copies that give the compiled differ addresses to work on.
		pa, pb := reflect.New(t), reflect.New(t)
		pa.Elem().Set(reflect.ValueOf(a))
		pb.Elem().Set(reflect.ValueOf(b))
		err := differFor(t, false).diff(d, pa.UnsafePointer(), pb.UnsafePointer())
		d.depth--
		return err
	}
	d.emit(OpReplace, b)
	return nil
}

// equalAny reports whether two interface-held values certainly encode the
// same. It may say false for equal values, never true for different ones.
func (d *differ) equalAny(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || (x == nil) != (y == nil) || len(x) != len(y) || d.enter() != nil {
			return false
		}
		defer func() { d.depth-- }()
		if sameMap(x, y) {
			return true
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !d.equalAny(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || (x == nil) != (y == nil) || len(x) != len(y) || d.enter() != nil {
			return false
		}
		defer func() { d.depth-- }()
		for i := range x {
			if !d.equalAny(x[i], y[i]) {
				return false
			}
		}
		return true
	case string, bool, int64, uint64, int:
		return a == b
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	}
	t := reflect.TypeOf(a)
	if t != reflect.TypeOf(b) || d.enter() != nil {
		return false
	}
	defer func() { d.depth-- }()
	pa, pb := reflect.New(t), reflect.New(t)
	pa.Elem().Set(reflect.ValueOf(a))
	pb.Elem().Set(reflect.ValueOf(b))
	return differFor(t, false).eq(d, pa.UnsafePointer(), pb.UnsafePointer())
}

func sameMap(a, b map[string]any) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// keyRun is the run of ops one map key produced, so a map's ops can be put
// in key order: map iteration order would make frames differ run to run.
type keyRun struct {
	key        string
	start, end int
}

func (d *differ) sortRuns(runs []keyRun) {
	byKey := func(a, b keyRun) int { return strings.Compare(a.key, b.key) }
	if len(runs) < 2 || slices.IsSortedFunc(runs, byKey) {
		return
	}
	from := runs[0].start
	sorted := slices.SortedFunc(slices.Values(runs), byKey)
	ops := make([]Op, 0, len(d.ops)-from)
	for _, r := range sorted {
		ops = append(ops, d.ops[r.start:r.end]...)
	}
	copy(d.ops[from:], ops)
}

func (d *differ) genericMap(a, b map[string]any) error {
	if (a == nil) != (b == nil) {
		d.emit(OpReplace, b)
		return nil
	}
	if sameMap(a, b) {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	var runs []keyRun
	common := 0
	for k, av := range a {
		start := len(d.ops)
		mark := d.push(token{s: k, kind: tokKey})
		if bv, ok := b[k]; ok {
			common++
			if err := d.any(av, bv); err != nil {
				return err
			}
		} else {
			d.emit(OpRemove, nil)
		}
		d.pop(mark)
		if len(d.ops) > start {
			runs = append(runs, keyRun{k, start, len(d.ops)})
		}
	}
	if common < len(b) {
		for k, bv := range b {
			if _, ok := a[k]; !ok {
				mark := d.push(token{s: k, kind: tokKey})
				d.emit(OpAdd, bv)
				d.pop(mark)
				runs = append(runs, keyRun{k, len(d.ops) - 1, len(d.ops)})
			}
		}
	}
	d.sortRuns(runs)
	d.depth--
	return nil
}

func (d *differ) genericSlice(a, b []any) error {
	if (a == nil) != (b == nil) {
		d.emit(OpReplace, b)
		return nil
	}
	if len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0]) {
		return nil
	}
	if err := d.enter(); err != nil {
		return err
	}
	err := d.sequence(len(a), len(b),
		func(i, j int) bool { return d.equalAny(a[i], b[j]) },
		func(i int) error { return d.any(a[i], b[i]) },
		func(i int) any { return b[i] })
	d.depth--
	return err
}

// sequence diffs two arrays of lengths la and lb: it trims the common
// prefix and suffix, diffs the middle element by element over the shorter
// length, then removes surplus old elements from the highest index down or
// adds surplus new ones in increasing index order.
func (d *differ) sequence(la, lb int, eq func(i, j int) bool, diff func(i int) error, value func(j int) any) error {
	n := min(la, lb)
	pre := 0
	for pre < n && eq(pre, pre) {
		pre++
	}
	suf := 0
	for suf < n-pre && eq(la-1-suf, lb-1-suf) {
		suf++
	}
	if d.tooDeep != nil {
		return d.tooDeep
	}
	ma, mb := la-pre-suf, lb-pre-suf
	m := min(ma, mb)
	mark := d.push(token{kind: tokIndex})
	defer d.pop(mark)
	for i := pre; i < pre+m; i++ {
		d.path[mark].i = i
		if err := diff(i); err != nil {
			return err
		}
	}
	for i := pre + ma - 1; i >= pre+m; i-- {
		d.path[mark].i = i
		d.emit(OpRemove, nil)
	}
	for i := pre + m; i < pre+mb; i++ {
		d.path[mark].i = i
		d.emit(OpAdd, value(i))
	}
	return nil
}

// encodedEqual compares the encodings of the values of n's type at a and b.
func (d *differ) encodedEqual(n *diffNode, a, b unsafe.Pointer) (bool, error) {
	if d.encA == nil {
		d.encA, d.encB = msgpack.NewEncoder(&d.bufA), msgpack.NewEncoder(&d.bufB)
	}
	d.bufA.Reset()
	d.bufB.Reset()
	if err := n.encode(d.encA, a); err != nil {
		return false, err
	}
	if err := n.encode(d.encB, b); err != nil {
		return false, err
	}
	return bytes.Equal(d.bufA.Bytes(), d.bufB.Bytes()), nil
}

// decodedB returns the last value encodedEqual encoded from b as a generic
// tree; it serves as op value where the Go value would encode differently
// on its own (",string" fields).
func (d *differ) decodedB() (any, error) {
	dec := msgpack.NewDecoder(bytes.NewReader(d.bufB.Bytes()))
	dec.UseLooseInterfaceDecoding(true)
	return dec.DecodeInterfaceLoose()
}
