package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MaxDepth is how deeply arrays and maps may nest inside one frame a client
// sends; servers refuse deeper ones.
const MaxDepth = 32

// MaxStateDepth is the nesting limit for frames a server sends and values
// decoded on their own: state may legitimately be deep, but not unbounded.
const MaxStateDepth = 4096

// ErrMalformed is wrapped by every error about a frame that is not
// well-formed MessagePack within the protocol's bounds.
var ErrMalformed = errors.New("hotstate: malformed frame")

// Check walks b as one MessagePack value and fails unless it is complete,
// has nothing after it, nests at most MaxDepth deep and declares no length
// beyond the bytes that remain. It runs before any decoder sees the bytes,
// because a decoder that trusts a declared length can be made to allocate
// gigabytes by a five-byte frame.
func Check(b []byte) error { return CheckDepth(b, MaxDepth) }

// CheckDepth is Check with another nesting limit.
func CheckDepth(b []byte, maxDepth int) error {
	n, err := skip(b, 0, maxDepth)
	if err != nil {
		return err
	}
	if n != len(b) {
		return fmt.Errorf("%w: %d bytes after the value", ErrMalformed, len(b)-n)
	}
	return nil
}

// skip returns the length of the value at the start of b.
func skip(b []byte, depth, maxDepth int) (int, error) {
	if len(b) == 0 {
		return 0, fmt.Errorf("%w: truncated", ErrMalformed)
	}
	c := b[0]
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return 1, nil
	case c >= 0x80 && c <= 0x8f:
		return skipItems(b, 1, 2*int(c&0x0f), depth, maxDepth)
	case c >= 0x90 && c <= 0x9f:
		return skipItems(b, 1, int(c&0x0f), depth, maxDepth)
	case c >= 0xa0 && c <= 0xbf:
		return span(b, 1, int(c&0x1f))
	}
	switch c {
	case 0xcc, 0xd0:
		return span(b, 1, 1)
	case 0xcd, 0xd1:
		return span(b, 1, 2)
	case 0xca, 0xce, 0xd2:
		return span(b, 1, 4)
	case 0xcb, 0xcf, 0xd3:
		return span(b, 1, 8)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16 plus a type byte
		return span(b, 1, 1+1<<(c-0xd4))
	case 0xc4, 0xd9: // bin8, str8
		return sized(b, 1, 0)
	case 0xc5, 0xda: // bin16, str16
		return sized(b, 2, 0)
	case 0xc6, 0xdb: // bin32, str32
		return sized(b, 4, 0)
	case 0xc7: // ext8
		return sized(b, 1, 1)
	case 0xc8: // ext16
		return sized(b, 2, 1)
	case 0xc9: // ext32
		return sized(b, 4, 1)
	case 0xdc, 0xdd, 0xde, 0xdf:
		width := 2
		if c == 0xdd || c == 0xdf {
			width = 4
		}
		n, err := length(b, width)
		if err != nil {
			return 0, err
		}
		if c >= 0xde {
			n *= 2
		}
		return skipItems(b, 1+width, n, depth, maxDepth)
	}
	return 0, fmt.Errorf("%w: byte 0x%02x is not a MessagePack type", ErrMalformed, c)
}

// length reads a big-endian length of width bytes after the type byte.
func length(b []byte, width int) (int, error) {
	if len(b) < 1+width {
		return 0, fmt.Errorf("%w: truncated length", ErrMalformed)
	}
	if width == 1 {
		return int(b[1]), nil
	}
	if width == 2 {
		return int(binary.BigEndian.Uint16(b[1:])), nil
	}
	return int(binary.BigEndian.Uint32(b[1:])), nil
}

// sized handles str, bin and ext: a length of width bytes, extra bytes (the
// ext type), then the payload.
func sized(b []byte, width, extra int) (int, error) {
	n, err := length(b, width)
	if err != nil {
		return 0, err
	}
	return span(b, 1+width, extra+n)
}

// span checks that a value of head plus n bytes fits in b.
func span(b []byte, head, n int) (int, error) {
	if n > len(b)-head {
		return 0, fmt.Errorf("%w: declared length %d exceeds the %d bytes left", ErrMalformed, n, len(b)-head)
	}
	return head + n, nil
}

// skipItems skips n nested values after a container header.
func skipItems(b []byte, head, n, depth, maxDepth int) (int, error) {
	if depth >= maxDepth {
		return 0, fmt.Errorf("%w: nested deeper than %d", ErrMalformed, maxDepth)
	}
	// Every value takes at least one byte, so a count beyond the bytes left
	// is a lie we can refuse before looping.
	if n > len(b)-head {
		return 0, fmt.Errorf("%w: declared %d items in %d bytes", ErrMalformed, n, len(b)-head)
	}
	off := head
	for range n {
		m, err := skip(b[off:], depth+1, maxDepth)
		if err != nil {
			return 0, err
		}
		off += m
	}
	return off, nil
}
