package wsframe

import (
	"encoding/binary"
	"unicode/utf8"
)

// AppendHeader appends to b the header of a final, unmasked frame of type
// op carrying n bytes: how a server frames each message and control frame
// it sends, with the length in its minimal form.
func AppendHeader(b []byte, op Opcode, n int) []byte {
	const fin = 0x80
	switch {
	case n <= 125:
		return append(b, fin|byte(op), byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, fin|byte(op), 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, fin|byte(op), 127), uint64(n))
	}
}

// AppendFrame appends to b a final, unmasked frame of type op carrying
// payload. A control frame's payload must not exceed 125 bytes.
func AppendFrame(b []byte, op Opcode, payload []byte) []byte {
	return append(AppendHeader(b, op, len(payload)), payload...)
}

// AppendClose appends to b a close frame with code and reason, which is
// UTF-8. The reason is cut to the 123 bytes a control frame leaves it, on a code point
// boundary since the peer checks that it is UTF-8. CloseNoStatus, which
// must not be sent, makes a close frame without a payload.
func AppendClose(b []byte, code int, reason string) []byte {
	if code == CloseNoStatus {
		return AppendHeader(b, OpClose, 0)
	}
	const maxReason = maxControl - 2
	if len(reason) > maxReason {
		n := maxReason
		for n > 0 && !utf8.RuneStart(reason[n]) {
			n--
		}
		reason = reason[:n]
	}
	b = AppendHeader(b, OpClose, 2+len(reason))
	b = binary.BigEndian.AppendUint16(b, uint16(code))
	return append(b, reason...)
}
