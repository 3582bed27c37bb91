package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

type reader struct {
	r   bytes.Reader
	dec *msgpack.Decoder
}

var readers = sync.Pool{New: func() any {
	r := &reader{}
	r.dec = msgpack.NewDecoder(&r.r)
	r.dec.UseLooseInterfaceDecoding(true)
	return r
}}

// decoding runs fn over b with a pooled decoder. b must have passed Check.
// The decoder reads rd, which holds b, directly: rd.Len() is what it has
// not read yet.
func decoding(b []byte, fn func(d *msgpack.Decoder, rd *bytes.Reader) error) error {
	r := readers.Get().(*reader)
	defer readers.Put(r)
	r.r.Reset(b)
	r.dec.Reset(&r.r)
	r.dec.UseLooseInterfaceDecoding(true)
	return fn(r.dec, &r.r)
}

// Decode checks and decodes one frame. Unknown keys are skipped; a known key
// holding the wrong type, a missing "t" or malformed bytes give an error
// wrapping ErrMalformed. The frame's Value is a part of b, not a copy.
func Decode(b []byte) (Frame, error) { return DecodeDepth(b, MaxDepth) }

// DecodeDepth is Decode with another nesting limit; clients decode server
// frames with MaxStateDepth.
func DecodeDepth(b []byte, maxDepth int) (Frame, error) {
	var f Frame
	if err := CheckDepth(b, maxDepth); err != nil {
		return f, err
	}
	err := decoding(b, func(d *msgpack.Decoder, rd *bytes.Reader) error {
		n, err := d.DecodeMapLen()
		if err != nil {
			return err
		}
		if n < 0 {
			return fmt.Errorf("frame is nil")
		}
		var hasT, hasE, hasV bool
		for range n {
			k, err := d.DecodeString()
			if err != nil {
				return err
			}
			if k == "d" || k == "a" || k == "r" {
				// The value stays encoded, a part of b rather than a copy.
				start := len(b) - rd.Len()
				if err := d.Skip(); err != nil {
					return fmt.Errorf("key %q: %w", k, err)
				}
				end := len(b) - rd.Len()
				f.Value = b[start:end:end]
				continue
			}
			if err := f.decodeKey(d, k, &hasT, &hasE, &hasV); err != nil {
				return fmt.Errorf("key %q: %w", k, err)
			}
		}
		if !hasT {
			return fmt.Errorf("no \"t\" key")
		}
		f.Resume = f.Type == TypeSub && hasE && hasV
		return nil
	})
	if err != nil {
		return Frame{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return f, nil
}

func (f *Frame) decodeKey(d *msgpack.Decoder, k string, hasT, hasE, hasV *bool) error {
	var err error
	switch k {
	case "t":
		var t uint64
		t, err = d.DecodeUint64()
		f.Type, *hasT = Type(t), true
		if t > 255 {
			return fmt.Errorf("type %d out of range", t)
		}
	case "s":
		f.Store, err = d.DecodeString()
	case "e":
		f.Epoch, err = decodeEpoch(d)
		*hasE = true
	case "v":
		f.Version, err = d.DecodeUint64()
		*hasV = true
	case "i":
		f.ID, err = d.DecodeUint64()
	case "n":
		f.Name, err = d.DecodeString()
	case "o":
		f.Ops, err = decodeOps(d)
	case "x":
		f.Err, err = decodeError(d)
	case "p":
		f.Protocol, err = d.DecodeUint64()
	case "c":
		f.Client, err = d.DecodeString()
	default:
		err = d.Skip()
	}
	return err
}

func decodeOps(d *msgpack.Decoder) ([]Op, error) {
	n, err := d.DecodeArrayLen()
	if err != nil || n < 0 {
		return nil, err
	}
	ops := make([]Op, n)
	for i := range ops {
		m, err := d.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		if m < 2 || m > 3 {
			return nil, fmt.Errorf("operation %d has %d elements", i, m)
		}
		code, err := d.DecodeUint64()
		if err != nil {
			return nil, err
		}
		if code > uint64(OpReplace) || (code == uint64(OpRemove)) != (m == 2) {
			return nil, fmt.Errorf("operation %d: bad code %d for %d elements", i, code, m)
		}
		ops[i].Op = OpCode(code)
		if ops[i].Path, err = d.DecodeString(); err != nil {
			return nil, err
		}
		if m == 3 {
			if ops[i].Value, err = decodeTree(d); err != nil {
				return nil, err
			}
		}
	}
	return ops, nil
}

func decodeError(d *msgpack.Decoder) (*Error, error) {
	n, err := d.DecodeMapLen()
	if err != nil {
		return nil, err
	}
	x := &Error{}
	for range n {
		k, err := d.DecodeString()
		if err != nil {
			return nil, err
		}
		switch k {
		case "c":
			x.Code, err = d.DecodeString()
		case "m":
			x.Message, err = d.DecodeString()
		default:
			err = d.Skip()
		}
		if err != nil {
			return nil, err
		}
	}
	return x, nil
}

// DecodeAny decodes an encoded value as a generic tree: map[string]any,
// []any, string, bool, nil, int64 (uint64 only above math.MaxInt64) or
// float64. Empty raw is nil.
func DecodeAny(raw []byte) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	if err := CheckDepth(raw, MaxStateDepth); err != nil {
		return nil, err
	}
	var v any
	err := decoding(raw, func(d *msgpack.Decoder, _ *bytes.Reader) error {
		var err error
		v, err = decodeTree(d)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return v, nil
}

// decodeTree decodes one value as a generic tree. Every integer that fits
// becomes an int64 whatever its wire width, so equal numbers compare equal
// in Go; only integers above math.MaxInt64 stay uint64.
func decodeTree(d *msgpack.Decoder) (any, error) {
	c, err := d.PeekCode()
	if err != nil {
		return nil, err
	}
	switch {
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := d.DecodeMapLen()
		if err != nil {
			return nil, err
		}
		m := make(map[string]any, n)
		for range n {
			k, err := d.DecodeString()
			if err != nil {
				return nil, err
			}
			if m[k], err = decodeTree(d); err != nil {
				return nil, err
			}
		}
		return m, nil
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := d.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		a := make([]any, n)
		for i := range a {
			if a[i], err = decodeTree(d); err != nil {
				return nil, err
			}
		}
		return a, nil
	case c == msgpcode.Uint64:
		u, err := d.DecodeUint64()
		if err != nil || u > math.MaxInt64 {
			return u, err
		}
		return int64(u), nil
	case msgpcode.IsFixedNum(c) || (c >= msgpcode.Uint8 && c <= msgpcode.Int64):
		return d.DecodeInt64()
	case msgpcode.IsExt(c):
		return nil, fmt.Errorf("extension types are not part of the protocol")
	}
	return d.DecodeInterfaceLoose()
}

// DecodeValue decodes an encoded value into v (a non-nil pointer) with the
// rules of encoding/json, so a type reads back what EncodeValue wrote for it:
// json tags, time.Time from its string, []byte from base64, UnmarshalJSON.
func DecodeValue(raw []byte, v any) error {
	if p, ok := v.(*any); ok {
		t, err := DecodeAny(raw)
		*p = t
		return err
	}
	if bind(raw, v) {
		return nil
	}
	t, err := DecodeAny(raw)
	if err != nil {
		return err
	}
	return FromTree(t, v)
}

// FromTree stores a generic tree in v (a non-nil pointer) with the rules
// of encoding/json.
func FromTree(t any, v any) error {
	j, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return json.Unmarshal(j, v)
}

// ToTree converts a Go value to the generic tree that decoding its
// encoding gives: the shape a client holds for the same state.
func ToTree(v any) (any, error) {
	b, err := build(func(e *msgpack.Encoder) error { return EncodeValue(e, v) })
	if err != nil {
		return nil, err
	}
	return DecodeAny(b)
}

// decodeEpoch reads the 8-byte form keyEpoch writes.
func decodeEpoch(d *msgpack.Decoder) (uint64, error) {
	n, err := d.DecodeBytesLen()
	if err != nil {
		return 0, err
	}
	if n != 8 {
		return 0, fmt.Errorf("epoch of %d bytes, want 8", n)
	}
	var b [8]byte
	if err := d.ReadFull(b[:]); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(b[:]), nil
}
