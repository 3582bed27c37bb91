package wire

import (
	"errors"
	"strings"
)

// AppendPointerToken appends "/" and tok, escaped as an RFC 6901 reference
// token ("~" as "~0", "/" as "~1"), to dst.
func AppendPointerToken(dst []byte, tok string) []byte {
	dst = append(dst, '/')
	if !strings.ContainsAny(tok, "~/") {
		return append(dst, tok...)
	}
	for i := 0; i < len(tok); i++ {
		switch c := tok[i]; c {
		case '~':
			dst = append(dst, '~', '0')
		case '/':
			dst = append(dst, '~', '1')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

var (
	errPointerSyntax = errors.New("pointer does not start with /")
	errPointerEscape = errors.New("bad ~ escape in pointer")
	errForbiddenKey  = errors.New("pointer walks through a forbidden key")
)

// nextToken splits the first reference token off path, which starts with
// "/", and returns it unescaped with the rest of the path.
func nextToken(path string) (tok, rest string, err error) {
	if path == "" || path[0] != '/' {
		return "", "", errPointerSyntax
	}
	path = path[1:]
	end := strings.IndexByte(path, '/')
	if end < 0 {
		end = len(path)
	}
	tok, rest = path[:end], path[end:]
	if strings.IndexByte(tok, '~') >= 0 {
		if tok, err = unescapeToken(tok); err != nil {
			return "", "", err
		}
	}
	// No state holds this key (the encoder refuses it) and clients written
	// in JavaScript must refuse it; refusing it here too keeps every peer
	// in agreement about what applies.
	if tok == reservedKey {
		return "", "", errForbiddenKey
	}
	return tok, rest, nil
}

func unescapeToken(tok string) (string, error) {
	var b strings.Builder
	b.Grow(len(tok))
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c != '~' {
			b.WriteByte(c)
			continue
		}
		if i+1 == len(tok) {
			return "", errPointerEscape
		}
		i++
		switch tok[i] {
		case '0':
			b.WriteByte('~')
		case '1':
			b.WriteByte('/')
		default:
			return "", errPointerEscape
		}
	}
	return b.String(), nil
}

// arrayIndex parses an RFC 6901 array index: "0" or digits without a
// leading zero. It returns -1 for anything else or a value beyond limit.
func arrayIndex(tok string, limit int) int {
	if tok == "" || len(tok) > 1 && tok[0] == '0' || len(tok) > 10 {
		return -1
	}
	n := 0
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	if n > limit {
		return -1
	}
	return n
}
