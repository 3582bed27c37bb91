package wire

import "reflect"

// Field is one member of a struct type's JSON object, as the encoder writes
// it. Code generators read it so that the types they write name the same
// fields the wire carries.
type Field struct {
	// Name is the key: the json tag's name, or the Go field's name.
	Name string
	// Type is the Go field's type.
	Type reflect.Type
	// OmitEmpty and OmitZero are the tag's omitempty and omitzero options:
	// the key is left out for an empty or zero value.
	OmitEmpty, OmitZero bool
	// Quoted is the ",string" option on a bool, number or string (or a
	// pointer to one): the value is sent as the string of its JSON text.
	Quoted bool
	// Indirect is true for a field promoted through an embedded pointer,
	// which is left out when that pointer is nil.
	Indirect bool
}

// Fields returns the members of the JSON object of struct type t in the
// order they are written, found the way encoding/json finds them: json
// tags, '-', promotion from embedded structs and the rules that settle
// conflicting names. It panics if t is not a struct type.
func Fields(t reflect.Type) []Field {
	if t.Kind() != reflect.Struct {
		panic("wire.Fields of non-struct type " + t.String())
	}
	fs := cachedFields(t)
	out := make([]Field, len(fs))
	for i, f := range fs {
		out[i] = Field{Name: f.name, Type: f.typ, OmitEmpty: f.omitEmpty, OmitZero: f.omitZero, Quoted: f.quoted, Indirect: f.ptrAddr}
	}
	return out
}
