package wire

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// ArgsError is a failure to decode a function's arguments, told in the
// caller's terms: where in the arguments it happened, as a JSON Pointer, and
// what was wrong, in JSON kinds. Its Error is meant for the caller; the
// decoder's own error, which names Go types and fields and may carry text
// from an UnmarshalJSON method, stays behind Unwrap for the server's logs.
type ArgsError struct {
	Path    string // RFC 6901 pointer to the offending value; "" is the arguments as a whole
	Problem string // what was wrong there, e.g. "expected a number, got a string"
	Err     error  // the decoder's error, never sent to the caller
}

func (e *ArgsError) Error() string {
	if e.Path == "" {
		return "arguments: " + e.Problem
	}
	return "argument " + quoteJSON(e.Path) + ": " + e.Problem
}

func (e *ArgsError) Unwrap() error { return e.Err }

// DecodeArgs is DecodeValue for a function's arguments: a failure is an
// *ArgsError whatever path, direct or through encoding/json, took the
// value. The direct binding never fails on its own (it gives the value to
// the fallback instead), so every failure is described here, once.
func DecodeArgs(raw []byte, v any) error {
	err := DecodeValue(raw, v)
	if err == nil {
		return nil
	}
	return argsError(raw, v, err)
}

// argsError describes err, which decoding raw into v gave.
func argsError(raw []byte, v any, err error) *ArgsError {
	tree, terr := DecodeAny(raw)
	if terr != nil {
		return &ArgsError{Problem: "not a valid value", Err: err}
	}
	var unsupported *json.UnsupportedValueError
	if errors.As(err, &unsupported) {
		// The tree holds a NaN or an infinity, which has no JSON form.
		return &ArgsError{Path: nonFinite(tree, nil), Problem: "expected a finite number", Err: err}
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &ArgsError{Problem: "invalid value", Err: err}
	}
	path, node := locate(tree, rv.Type().Elem(), err, budgetFor(raw))
	return &ArgsError{Path: path, Problem: problem(err, path, node), Err: err}
}

// budgetFor bounds the JSON that locate may decode again, so arguments
// built to make the search slow cost a few times what decoding them once
// did; past it the reported place is an ancestor of the true one.
func budgetFor(raw []byte) int { return 32*len(raw) + 64<<10 }

// locate finds the value in tree whose decoding into a t produced cause,
// and returns its pointer and the value. encoding/json cannot say: its
// UnmarshalTypeError.Field drops array indexes and map keys and names
// embedded structs by their Go names, and an UnmarshalJSON or UnmarshalText
// error carries no position at all. So locate asks encoding/json itself:
// the document is decoded in order, and at each level a binary search finds
// the shortest prefix of the container (earlier siblings whole, later ones
// dropped) that still fails with cause; the last member of that prefix
// holds the failure. If even the empty container fails, the container is
// the culprit. Decoding a prefix runs the same code on the same bytes up to
// the failure, so no rule of encoding/json (field matching, case folding,
// ",string", embedded pointers, UnmarshalJSON) is re-implemented here. The
// price is that UnmarshalJSON methods run again, on parts of the arguments.
func locate(tree any, t reflect.Type, cause error, budget int) (string, any) {
	var path []byte
	node := tree
	rebuild := func(sub any) any { return sub }
	spent := 0
	fails := func(doc any) bool {
		if spent > budget {
			return true
		}
		j, err := json.Marshal(doc)
		spent += len(j)
		if err != nil {
			return false
		}
		return sameFailure(json.Unmarshal(j, reflect.New(t).Interface()), cause)
	}
	for {
		var n int
		var prefix func(n int) any
		var child func(i int) (tok string, value any, wrap func(sub any) any)
		switch c := node.(type) {
		case []any:
			n = len(c)
			prefix = func(n int) any { return c[:n:n] }
			child = func(i int) (string, any, func(any) any) {
				return strconv.Itoa(i), c[i], func(sub any) any {
					return append(c[:i:i], sub)
				}
			}
		case map[string]any:
			keys := sortedKeys(c)
			n = len(keys)
			prefix = func(n int) any { return subMap(c, keys[:n]) }
			child = func(i int) (string, any, func(any) any) {
				return keys[i], c[keys[i]], func(sub any) any {
					m := subMap(c, keys[:i])
					m[keys[i]] = sub
					return m
				}
			}
		default:
			return string(path), node
		}
		outer := rebuild
		j := sort.Search(n+1, func(j int) bool { return fails(outer(prefix(j))) })
		if spent > budget || j == 0 || j > n {
			return string(path), node
		}
		tok, value, wrap := child(j - 1)
		path = AppendPointerToken(path, jsonKey(tok))
		node = value
		rebuild = func(sub any) any { return outer(wrap(sub)) }
	}
}

// sameFailure reports whether err is cause happening again. A type error's
// offset moves with the document, so only what it says is compared; any
// other error is the same if it reads the same.
func sameFailure(err, cause error) bool {
	if err == nil || reflect.TypeOf(err) != reflect.TypeOf(cause) {
		return false
	}
	if a, ok := err.(*json.UnmarshalTypeError); ok {
		b := cause.(*json.UnmarshalTypeError)
		return a.Value == b.Value && a.Type == b.Type && a.Struct == b.Struct && a.Field == b.Field
	}
	return err.Error() == cause.Error()
}

// sortedKeys returns m's keys in the order encoding/json writes them.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func subMap(m map[string]any, keys []string) map[string]any {
	s := make(map[string]any, len(keys)+1)
	for _, k := range keys {
		s[k] = m[k]
	}
	return s
}

// jsonKey is k as the caller's JSON decoder saw it: encoding/json replaces
// invalid UTF-8 before anything else reads the key.
func jsonKey(k string) string { return strings.ToValidUTF8(k, "\ufffd") }

// nonFinite returns the pointer to the first NaN or infinity in tree, in
// the order encoding/json meets them.
func nonFinite(tree any, path []byte) string {
	switch v := tree.(type) {
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return string(path)
		}
	case float32:
		if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
			return string(path)
		}
	case []any:
		for i, e := range v {
			if p := nonFinite(e, AppendPointerToken(path, strconv.Itoa(i))); p != "" {
				return p
			}
		}
	case map[string]any:
		for _, k := range sortedKeys(v) {
			if p := nonFinite(v[k], AppendPointerToken(path, jsonKey(k))); p != "" {
				return p
			}
		}
	}
	return ""
}

// problem says what was wrong with node, found at path, in JSON terms.
// Only errors encoding/json raises itself are told in detail; anything
// else may come from an UnmarshalJSON or UnmarshalText method and say
// anything, so it is only "invalid value".
func problem(err error, path string, node any) string {
	switch e := err.(type) {
	case *json.UnmarshalTypeError:
		return typeProblem(e, path, node)
	case base64.CorruptInputError:
		return "expected base64 text"
	}
	return "invalid value"
}

func typeProblem(e *json.UnmarshalTypeError, path string, node any) string {
	t := e.Type
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	got, lit, hasLit := strings.Cut(e.Value, " ")
	if hasLit && t != nil && isNumberKind(t.Kind()) {
		// A map key that is not a number of the key's type is reported with
		// its text, and the failing value is the member under it.
		if lastToken(path) == lit && !isNumberLiteral(node, lit) {
			return "expected " + integerRange(t, "key") + ", got " + quoteJSON(lit)
		}
		if isFloatKind(t.Kind()) {
			m := strconv.FormatFloat(math.MaxFloat32, 'g', -1, 32)
			if t.Bits() == 64 {
				m = strconv.FormatFloat(math.MaxFloat64, 'g', -1, 64)
			}
			return "expected a number from -" + m + " to " + m + ", got " + lit
		}
		if f, err := strconv.ParseFloat(lit, 64); err == nil && f != math.Trunc(f) {
			return "expected an integer, got " + lit
		}
		return "expected " + integerRange(t, "") + ", got " + lit
	}
	if got != jsonKind(node) {
		// Not the value encoding/json complained about, perhaps because an
		// UnmarshalJSON method decoded something of its own: claim nothing.
		return "invalid value"
	}
	found := kindPhrase(got)
	want := expectedKind(t)
	if want == "" {
		return found + " is not accepted here"
	}
	return "expected " + want + ", got " + found
}

// kindPhrase names a JSON kind as encoding/json's Value spells it.
func kindPhrase(v string) string {
	switch v {
	case "bool":
		return "a boolean"
	case "number":
		return "a number"
	case "string":
		return "a string"
	case "array":
		return "an array"
	case "object":
		return "an object"
	case "null":
		return "null"
	}
	return "a value of another kind"
}

// jsonKind is the kind of a tree value, spelt as UnmarshalTypeError.Value
// spells it.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case int64, uint64, float64, float32:
		return "number"
	case string, []byte: // bin is base64 text in JSON
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return ""
}

// expectedKind names the JSON kind that decodes into t, or "" when none
// does.
func expectedKind(t reflect.Type) string {
	if t == nil {
		return ""
	}
	if t == numberType || isNumberKind(t.Kind()) {
		return "a number"
	}
	if t.Implements(textUnmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return "a string"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a string" // base64
		}
		return "an array"
	case reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return ""
}

func isNumberKind(k reflect.Kind) bool {
	return isFloatKind(k) || isIntKind(k) || isUintKind(k)
}

func isFloatKind(k reflect.Kind) bool { return k == reflect.Float32 || k == reflect.Float64 }

func isIntKind(k reflect.Kind) bool { return k >= reflect.Int && k <= reflect.Int64 }

func isUintKind(k reflect.Kind) bool { return k >= reflect.Uint && k <= reflect.Uintptr }

// integerRange says "an integer from min to max" for an integer type t,
// with what (such as "key") after "integer"; the range is what the caller
// can act on, where the type's name would mean nothing to it.
func integerRange(t reflect.Type, what string) string {
	s := "an integer"
	if what != "" {
		s += " " + what
	}
	bits := t.Bits()
	switch {
	case isIntKind(t.Kind()):
		return s + " from " + strconv.FormatInt(-1<<(bits-1), 10) + " to " + strconv.FormatInt(1<<(bits-1)-1, 10)
	case isUintKind(t.Kind()):
		return s + " from 0 to " + strconv.FormatUint(math.MaxUint64>>(64-bits), 10)
	}
	return s
}

// isNumberLiteral reports whether node is a number that encoding/json
// writes as lit.
func isNumberLiteral(node any, lit string) bool {
	switch node.(type) {
	case int64, uint64, float64, float32:
		j, err := json.Marshal(node)
		return err == nil && string(j) == lit
	}
	return false
}

// lastToken returns the unescaped last reference token of pointer.
func lastToken(pointer string) string {
	i := strings.LastIndexByte(pointer, '/')
	if i < 0 {
		return ""
	}
	tok, err := unescapeToken(pointer[i+1:])
	if err != nil {
		return ""
	}
	return tok
}

// quoteJSON quotes s as a JSON string, which is how the caller's side
// writes it too.
func quoteJSON(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(s) != nil {
		return strconv.Quote(s)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
