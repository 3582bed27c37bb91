package wire

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
)

// ErrUnsupportedValue is wrapped by the errors for values encoding/json
// cannot encode either: channels, functions, complex numbers, NaN and
// infinities, maps with unsupported key types, and cyclic values.
var ErrUnsupportedValue = errors.New("hotstate: unsupported value")

// ErrReservedKey is wrapped by the errors for a value or patch path holding
// an object key named "__proto__": JavaScript clients cannot hold it as an
// own key, so a state with one could never reach them.
var ErrReservedKey = errors.New(`hotstate: key "__proto__" is reserved: JavaScript clients cannot hold it`)

const reservedKey = "__proto__"

// key writes an object key; every key of a value goes through it, so none
// is the reserved one.
func (s *encState) key(k string) error {
	if k == reservedKey {
		return ErrReservedKey
	}
	return s.enc.EncodeString(k)
}

// checkPath refuses a JSON Pointer with a reserved segment. The key has no
// '~' or '/', so its escaped form is itself.
func checkPath(p string) error {
	if !strings.Contains(p, reservedKey) {
		return nil
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == reservedKey {
			return fmt.Errorf("%w (path %q)", ErrReservedKey, p)
		}
	}
	return nil
}

// maxNesting bounds nesting, so that a cyclic value fails instead of
// exhausting the stack; encoding/json detects cycles by other means.
const maxNesting = 10000

// encState carries the target encoder and the nesting depth.
type encState struct {
	enc   *msgpack.Encoder
	depth int
}

type encFunc func(s *encState, v reflect.Value) error

// encoder is a cache entry. Recursive types refer to their own entry before
// its fn is set, which is why callers go through the pointer.
type encoder struct{ fn encFunc }

// EncodeValue writes v to enc as MessagePack shaped exactly like
// encoding/json shapes v: json tags, omitempty, flattened embedded structs,
// MarshalJSON and MarshalText results, base64 []byte, maps with sorted
// string keys. Generic trees (map[string]any, []any) take a fast path.
func EncodeValue(enc *msgpack.Encoder, v any) error {
	s := encState{enc: enc}
	return s.any(v)
}

// EncodeReflect is EncodeValue for a reflect.Value; the invalid Value
// encodes as nil. Addressability matters as it does to encoding/json: an
// addressable value uses pointer-receiver marshalers.
func EncodeReflect(enc *msgpack.Encoder, v reflect.Value) error {
	if !v.IsValid() {
		return enc.EncodeNil()
	}
	s := encState{enc: enc}
	return encoderFor(v.Type()).fn(&s, v)
}

// EncodeOps writes ops as the "o" array of a patch frame:
// [[code, path, value], [1, path], ...].
func EncodeOps(enc *msgpack.Encoder, ops []Op) error {
	if err := enc.EncodeArrayLen(len(ops)); err != nil {
		return err
	}
	for _, op := range ops {
		if op.Op > OpReplace {
			return fmt.Errorf("hotstate: unknown patch op code %d", op.Op)
		}
		n := 3
		if op.Op == OpRemove {
			n = 2
		}
		if err := enc.EncodeArrayLen(n); err != nil {
			return err
		}
		if err := enc.EncodeUint(uint64(op.Op)); err != nil {
			return err
		}
		if err := checkPath(op.Path); err != nil {
			return err
		}
		if err := enc.EncodeString(op.Path); err != nil {
			return err
		}
		if n == 3 {
			if err := EncodeValue(enc, op.Value); err != nil {
				return err
			}
		}
	}
	return nil
}

// any encodes a value held in an interface. Generic trees and basic types
// skip reflection; anything else is what json.Marshal would see, a
// non-addressable value.
func (s *encState) any(v any) error {
	switch x := v.(type) {
	case nil:
		return s.enc.EncodeNil()
	case map[string]any:
		return s.genericMap(x)
	case []any:
		return s.genericSlice(x)
	case string:
		return s.enc.EncodeString(validUTF8(x))
	case bool:
		return s.enc.EncodeBool(x)
	case float64:
		return s.float(x, 64)
	case int64:
		return s.enc.EncodeInt(x)
	case uint64:
		return s.enc.EncodeUint(x)
	case int:
		return s.enc.EncodeInt(int64(x))
	}
	return EncodeReflect(s.enc, reflect.ValueOf(v))
}

func (s *encState) genericMap(m map[string]any) error {
	if m == nil {
		return s.enc.EncodeNil()
	}
	if err := s.enter(); err != nil {
		return err
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if err := s.enc.EncodeMapLen(len(keys)); err != nil {
		return err
	}
	for _, k := range keys {
		if err := s.key(validUTF8(k)); err != nil {
			return err
		}
		if err := s.any(m[k]); err != nil {
			return err
		}
	}
	s.depth--
	return nil
}

func (s *encState) genericSlice(a []any) error {
	if a == nil {
		return s.enc.EncodeNil()
	}
	if err := s.enter(); err != nil {
		return err
	}
	if err := s.enc.EncodeArrayLen(len(a)); err != nil {
		return err
	}
	for _, x := range a {
		if err := s.any(x); err != nil {
			return err
		}
	}
	s.depth--
	return nil
}

func (s *encState) enter() error {
	s.depth++
	if s.depth > maxNesting {
		return fmt.Errorf("%w: nested more than %d levels (a cycle?)", ErrUnsupportedValue, maxNesting)
	}
	return nil
}

func (s *encState) float(f float64, bits int) error {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Errorf("%w: %s", ErrUnsupportedValue, strconv.FormatFloat(f, 'g', -1, bits))
	}
	if bits == 32 {
		return s.enc.EncodeFloat32(float32(f))
	}
	return s.enc.EncodeFloat64(f)
}

// encoderFor returns the cached encoder of t, building it (and those of the
// types it contains) on first use.
func encoderFor(t reflect.Type) *encoder {
	if e, ok := cache.Load(cacheKey{t: t, facet: facetEncoder}); ok {
		return e.(*encoder)
	}
	// Build into a private map first so that recursive types resolve to
	// entries nobody else can see until all are complete.
	building := map[cacheKey]*encoder{}
	e := lookupEncoder(t, building)
	for bk, be := range building {
		cache.LoadOrStore(bk, be)
	}
	return e
}

// lookupEncoder finds t's encoder in the cache or among those being built,
// or starts building it.
func lookupEncoder(t reflect.Type, building map[cacheKey]*encoder) *encoder {
	k := cacheKey{t: t, facet: facetEncoder}
	if e, ok := cache.Load(k); ok {
		return e.(*encoder)
	}
	if e, ok := building[k]; ok {
		return e
	}
	e := &encoder{}
	building[k] = e
	e.fn = newEncoder(t, building)
	return e
}

// newEncoder mirrors encoding/json's newTypeEncoder: marshalers first (the
// pointer-receiver ones only for addressable values), then by kind.
func newEncoder(t reflect.Type, building map[cacheKey]*encoder) encFunc {
	if m := marshalerOf(t, true); m != marshalerOf(t, false) {
		addrFn := marshalerEncoder(m)
		elseFn := newEncoderNoAddr(t, building)
		return func(s *encState, v reflect.Value) error {
			if v.CanAddr() {
				return addrFn(s, v)
			}
			return elseFn(s, v)
		}
	}
	return newEncoderNoAddr(t, building)
}

func newEncoderNoAddr(t reflect.Type, building map[cacheKey]*encoder) encFunc {
	if m := marshalerOf(t, false); m != marshalNone {
		return marshalerEncoder(m)
	}
	switch t.Kind() {
	case reflect.Bool:
		return func(s *encState, v reflect.Value) error { return s.enc.EncodeBool(v.Bool()) }
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(s *encState, v reflect.Value) error { return s.enc.EncodeInt(v.Int()) }
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return func(s *encState, v reflect.Value) error { return s.enc.EncodeUint(v.Uint()) }
	case reflect.Float32:
		return func(s *encState, v reflect.Value) error { return s.float(v.Float(), 32) }
	case reflect.Float64:
		return func(s *encState, v reflect.Value) error { return s.float(v.Float(), 64) }
	case reflect.String:
		if t == numberType {
			return encodeNumber
		}
		return func(s *encState, v reflect.Value) error { return s.enc.EncodeString(validUTF8(v.String())) }
	case reflect.Interface:
		return func(s *encState, v reflect.Value) error {
			if v.IsNil() {
				return s.enc.EncodeNil()
			}
			if err := s.enter(); err != nil {
				return err
			}
			// Interface() of an interface Value returns the held value
			// without copying it.
			err := s.any(v.Interface())
			s.depth--
			return err
		}
	case reflect.Struct:
		return newStructEncoder(t, building)
	case reflect.Map:
		return newMapEncoder(t, building)
	case reflect.Slice:
		if isByteSlice(t) {
			return encodeBytes
		}
		return newArrayEncoder(t, true, building)
	case reflect.Array:
		return newArrayEncoder(t, false, building)
	case reflect.Pointer:
		elem := lookupEncoder(t.Elem(), building)
		return func(s *encState, v reflect.Value) error {
			if v.IsNil() {
				return s.enc.EncodeNil()
			}
			if err := s.enter(); err != nil {
				return err
			}
			err := elem.fn(s, v.Elem())
			s.depth--
			return err
		}
	}
	return func(s *encState, v reflect.Value) error {
		return fmt.Errorf("%w: unsupported type %s", ErrUnsupportedValue, v.Type())
	}
}

// isByteSlice is encoding/json's test for slices written as base64.
func isByteSlice(t reflect.Type) bool {
	if t.Elem().Kind() != reflect.Uint8 {
		return false
	}
	p := reflect.PointerTo(t.Elem())
	return !p.Implements(marshalerType) && !p.Implements(textMarshalerType)
}

func encodeBytes(s *encState, v reflect.Value) error {
	if v.IsNil() {
		return s.enc.EncodeNil()
	}
	return s.enc.EncodeString(base64.StdEncoding.EncodeToString(v.Bytes()))
}

func encodeNumber(s *encState, v reflect.Value) error {
	n := v.String()
	if n == "" {
		n = "0" // as encoding/json writes the zero json.Number
	}
	if !isValidNumber(n) {
		return fmt.Errorf("%w: invalid number literal %q", ErrUnsupportedValue, n)
	}
	return s.number(n)
}

// number writes a valid JSON number literal: integers in their smallest
// form, anything else as float64.
func (s *encState) number(n string) error {
	if i, err := strconv.ParseInt(n, 10, 64); err == nil {
		return s.enc.EncodeInt(i)
	}
	if u, err := strconv.ParseUint(n, 10, 64); err == nil {
		return s.enc.EncodeUint(u)
	}
	f, err := strconv.ParseFloat(n, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return fmt.Errorf("%w: invalid number literal %q", ErrUnsupportedValue, n)
	}
	return s.float(f, 64)
}

// isValidNumber reports whether s follows the JSON number grammar
// (RFC 8259 section 6), as encoding/json checks json.Number values.
func isValidNumber(s string) bool {
	if s != "" && s[0] == '-' {
		s = s[1:]
	}
	digits := func() int {
		n := 0
		for n < len(s) && '0' <= s[n] && s[n] <= '9' {
			n++
		}
		s = s[n:]
		return n
	}
	switch {
	case s == "":
		return false
	case s[0] == '0':
		s = s[1:]
	case '1' <= s[0] && s[0] <= '9':
		digits()
	default:
		return false
	}
	if len(s) >= 2 && s[0] == '.' && '0' <= s[1] && s[1] <= '9' {
		s = s[1:]
		digits()
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if s[0] == '+' || s[0] == '-' {
			s = s[1:]
		}
		if digits() == 0 {
			return false
		}
	}
	return s == ""
}

func marshalerEncoder(m marshalKind) encFunc {
	return func(s *encState, v reflect.Value) error {
		if m == marshalJSONAddr || m == marshalTextAddr {
			v = v.Addr()
		}
		if v.Kind() == reflect.Pointer && v.IsNil() {
			return s.enc.EncodeNil()
		}
		switch m {
		case marshalJSON, marshalJSONAddr:
			mj, ok := reflect.TypeAssert[json.Marshaler](v)
			if !ok { // a nil interface
				return s.enc.EncodeNil()
			}
			b, err := mj.MarshalJSON()
			if err != nil {
				return fmt.Errorf("hotstate: MarshalJSON of %s: %w", v.Type(), err)
			}
			return s.rawJSON(v.Type(), b)
		default:
			mt, ok := reflect.TypeAssert[encoding.TextMarshaler](v)
			if !ok {
				return s.enc.EncodeNil()
			}
			b, err := mt.MarshalText()
			if err != nil {
				return fmt.Errorf("hotstate: MarshalText of %s: %w", v.Type(), err)
			}
			return s.enc.EncodeString(validUTF8(string(b)))
		}
	}
}

// rawJSON re-encodes the output of a MarshalJSON method. UseNumber keeps
// integers exact.
func (s *encState) rawJSON(t reflect.Type, b []byte) error {
	if !json.Valid(b) {
		return fmt.Errorf("hotstate: MarshalJSON of %s returned invalid JSON", t)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return fmt.Errorf("hotstate: MarshalJSON of %s: %w", t, err)
	}
	return s.jsonTree(x)
}

func (s *encState) jsonTree(x any) error {
	switch x := x.(type) {
	case json.Number:
		return s.number(string(x))
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if err := s.enc.EncodeMapLen(len(keys)); err != nil {
			return err
		}
		for _, k := range keys {
			if err := s.key(k); err != nil {
				return err
			}
			if err := s.jsonTree(x[k]); err != nil {
				return err
			}
		}
		return nil
	case []any:
		if err := s.enc.EncodeArrayLen(len(x)); err != nil {
			return err
		}
		for _, e := range x {
			if err := s.jsonTree(e); err != nil {
				return err
			}
		}
		return nil
	}
	return s.any(x) // string, bool, nil
}

func newStructEncoder(t reflect.Type, building map[cacheKey]*encoder) encFunc {
	fields := cachedFields(t)
	for i := range fields {
		if fields[i].name == reservedKey {
			return func(*encState, reflect.Value) error { return fmt.Errorf("%w (a field of %s)", ErrReservedKey, t) }
		}
	}
	encs := make([]*encoder, len(fields))
	for i := range fields {
		if fields[i].quoted {
			encs[i] = &encoder{fn: newQuotedEncoder(fields[i].typ)}
		} else {
			encs[i] = lookupEncoder(fields[i].typ, building)
		}
	}
	return func(s *encState, v reflect.Value) error {
		// MessagePack needs the count up front: a first pass finds it.
		n := 0
		for i := range fields {
			if fv := fields[i].byIndex(v); fv.IsValid() && !fields[i].omitted(fv) {
				n++
			}
		}
		if err := s.enc.EncodeMapLen(n); err != nil {
			return err
		}
		for i := range fields {
			f := &fields[i]
			fv := f.byIndex(v)
			if !fv.IsValid() || f.omitted(fv) {
				continue
			}
			if err := s.enc.EncodeString(f.name); err != nil {
				return err
			}
			if err := encs[i].fn(s, fv); err != nil {
				return err
			}
		}
		return nil
	}
}

// newQuotedEncoder encodes a ",string" field: a bool, number or string (or
// a pointer to one) as the string of its JSON text. Marshalers ignore the
// option, as in encoding/json.
func newQuotedEncoder(t reflect.Type) encFunc {
	if t.Kind() == reflect.Pointer {
		elem := newQuotedEncoder(t.Elem())
		return func(s *encState, v reflect.Value) error {
			if v.IsNil() {
				return s.enc.EncodeNil()
			}
			return elem(s, v.Elem())
		}
	}
	plain := func(s *encState, v reflect.Value) error {
		var b []byte
		switch v.Kind() {
		case reflect.Bool:
			b = strconv.AppendBool(nil, v.Bool())
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			b = strconv.AppendInt(nil, v.Int(), 10)
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			b = strconv.AppendUint(nil, v.Uint(), 10)
		case reflect.Float32, reflect.Float64:
			bits := 64
			if v.Kind() == reflect.Float32 {
				bits = 32
			}
			f := v.Float()
			if math.IsInf(f, 0) || math.IsNaN(f) {
				return fmt.Errorf("%w: %s", ErrUnsupportedValue, strconv.FormatFloat(f, 'g', -1, bits))
			}
			b = appendJSONFloat(nil, f, bits)
		case reflect.String:
			if v.Type() == numberType {
				n := v.String()
				if n == "" {
					n = "0"
				}
				if !isValidNumber(n) {
					return fmt.Errorf("%w: invalid number literal %q", ErrUnsupportedValue, n)
				}
				return s.enc.EncodeString(n)
			}
			// The value is the JSON string literal itself, escapes included.
			b, _ = json.Marshal(v.String())
		}
		return s.enc.EncodeString(string(b))
	}
	addrM, m := marshalerOf(t, true), marshalerOf(t, false)
	var elseFn encFunc = plain
	if m != marshalNone {
		elseFn = marshalerEncoder(m)
	}
	if addrM == m {
		return elseFn
	}
	addrFn := marshalerEncoder(addrM)
	return func(s *encState, v reflect.Value) error {
		if v.CanAddr() {
			return addrFn(s, v)
		}
		return elseFn(s, v)
	}
}

// appendJSONFloat formats f as encoding/json does (ES6 number to string).
func appendJSONFloat(b []byte, f float64, bits int) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// keyFunc turns a map key into its JSON object key.
type keyFunc func(k reflect.Value) (string, error)

// mapKeyFunc follows encoding/json's resolveKeyName: string kinds as they
// are, then TextMarshaler, then integers in decimal.
func mapKeyFunc(t reflect.Type) keyFunc {
	kt := t.Key()
	switch kt.Kind() {
	case reflect.String:
		return func(k reflect.Value) (string, error) { return k.String(), nil }
	}
	if kt.Implements(textMarshalerType) {
		return func(k reflect.Value) (string, error) {
			if k.Kind() == reflect.Pointer && k.IsNil() {
				return "", nil
			}
			tm, _ := reflect.TypeAssert[encoding.TextMarshaler](k)
			b, err := tm.MarshalText()
			if err != nil {
				return "", fmt.Errorf("hotstate: MarshalText of map key %s: %w", kt, err)
			}
			return string(b), nil
		}
	}
	switch kt.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(k reflect.Value) (string, error) { return strconv.FormatInt(k.Int(), 10), nil }
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return func(k reflect.Value) (string, error) { return strconv.FormatUint(k.Uint(), 10), nil }
	}
	return nil
}

func newMapEncoder(t reflect.Type, building map[cacheKey]*encoder) encFunc {
	keyOf := mapKeyFunc(t)
	if keyOf == nil {
		return func(s *encState, v reflect.Value) error {
			return fmt.Errorf("%w: unsupported type %s (map key)", ErrUnsupportedValue, t)
		}
	}
	elem := lookupEncoder(t.Elem(), building)
	type entry struct {
		k string
		v reflect.Value
	}
	return func(s *encState, v reflect.Value) error {
		if v.IsNil() {
			return s.enc.EncodeNil()
		}
		if err := s.enter(); err != nil {
			return err
		}
		entries := make([]entry, 0, v.Len())
		for it := v.MapRange(); it.Next(); {
			k, err := keyOf(it.Key())
			if err != nil {
				return err
			}
			entries = append(entries, entry{k, it.Value()})
		}
		slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.k, b.k) })
		if err := s.enc.EncodeMapLen(len(entries)); err != nil {
			return err
		}
		for _, e := range entries {
			if err := s.key(validUTF8(e.k)); err != nil {
				return err
			}
			if err := elem.fn(s, e.v); err != nil {
				return err
			}
		}
		s.depth--
		return nil
	}
}

func newArrayEncoder(t reflect.Type, isSlice bool, building map[cacheKey]*encoder) encFunc {
	elem := lookupEncoder(t.Elem(), building)
	return func(s *encState, v reflect.Value) error {
		if isSlice && v.IsNil() {
			return s.enc.EncodeNil()
		}
		if err := s.enter(); err != nil {
			return err
		}
		n := v.Len()
		if err := s.enc.EncodeArrayLen(n); err != nil {
			return err
		}
		for i := range n {
			if err := elem.fn(s, v.Index(i)); err != nil {
				return err
			}
		}
		s.depth--
		return nil
	}
}

// validUTF8 replaces each byte of invalid UTF-8 with U+FFFD, as
// encoding/json does, so every peer sees the same string.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteString("\uFFFD")
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
