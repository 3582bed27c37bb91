package wsframe

import "unicode/utf8"

// validPrefix checks b, the next bytes of a text message, and returns how
// many of them are whole code points; the rest, at most three bytes, begin
// one that more bytes may complete. ok is false when b holds something no
// later byte can make UTF-8: an invalid byte, an overlong form, a
// surrogate, a code point past U+10FFFF, or the start of one of those.
func validPrefix(b []byte) (n int, ok bool) {
	if utf8.Valid(b) {
		return len(b), true
	}
	for n < len(b) {
		if b[n] < utf8.RuneSelf {
			n++
			continue
		}
		// FullRune reports a sequence as full as soon as a byte shows it
		// invalid (F4 90, ED A0), so a short one is a true prefix.
		if !utf8.FullRune(b[n:]) {
			return n, true
		}
		c, size := utf8.DecodeRune(b[n:])
		if c == utf8.RuneError && size == 1 {
			return n, false
		}
		n += size
	}
	return n, true
}
