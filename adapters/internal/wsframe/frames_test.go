package wsframe_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/hotstate/hotstate/adapters/internal/wsframe"
)

// The bits of a frame header's first byte.
const (
	fin  = 0x80
	rsv1 = 0x40
	rsv2 = 0x20
	rsv3 = 0x10

	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xa
)

// Length forms for frames whose length is written other than minimally.
const (
	minimal = iota
	len16
	len64
)

// clientFrame is a frame as a client sends it: b0 is its first byte (FIN,
// RSV bits, opcode), and the payload is masked with a key derived from the
// frame so that different frames use different keys.
func clientFrame(b0 byte, payload []byte) []byte {
	return frameWith(b0, payload, minimal, true)
}

// frameWith writes a frame with its length in the given form, masked or
// not.
func frameWith(b0 byte, payload []byte, form int, masked bool) []byte {
	n := len(payload)
	if form == minimal {
		switch {
		case n <= 125:
		case n <= 0xffff:
			form = len16
		default:
			form = len64
		}
	}
	var maskBit byte
	if masked {
		maskBit = 0x80
	}
	b := []byte{b0}
	switch form {
	case len16:
		b = binary.BigEndian.AppendUint16(append(b, maskBit|126), uint16(n))
	case len64:
		b = binary.BigEndian.AppendUint64(append(b, maskBit|127), uint64(n))
	default:
		b = append(b, maskBit|byte(n))
	}
	if !masked {
		return append(b, payload...)
	}
	key := [4]byte{0x5a ^ byte(n), 0xc3 ^ b0, 0x17 ^ byte(n>>8), 0xe9}
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

func text(s string) []byte          { return clientFrame(fin|opText, []byte(s)) }
func binaryMsg(p []byte) []byte     { return clientFrame(fin|opBinary, p) }
func ping(s string) []byte          { return clientFrame(fin|opPing, []byte(s)) }
func pong(s string) []byte          { return clientFrame(fin|opPong, []byte(s)) }
func frag(b0 byte, s string) []byte { return clientFrame(b0, []byte(s)) }

// closeFrame is a close frame with code and reason.
func closeFrame(code int, reason string) []byte {
	return clientFrame(fin|opClose, append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...))
}

// chop cuts b into pieces of n bytes, as the suite's "chops" do.
func chop(b []byte, n int) [][]byte {
	var parts [][]byte
	for len(b) > n {
		parts = append(parts, b[:n])
		b = b[n:]
	}
	return append(parts, b)
}

// octets cuts the frames into single bytes: the suite's octet-wise chops.
func octets(frames ...[]byte) [][]byte { return chop(bytes.Join(frames, nil), 1) }

// fragments cuts a message into frames of n payload bytes (the last may be
// shorter), the first of type op.
func fragments(op byte, payload []byte, n int) [][]byte {
	var frames [][]byte
	for first := true; ; first = false {
		b0 := byte(opCont)
		if first {
			b0 = op
		}
		if len(payload) <= n {
			return append(frames, clientFrame(fin|b0, payload))
		}
		frames = append(frames, clientFrame(b0, payload[:n]))
		payload = payload[n:]
	}
}

// event is what a Reader returned, with its payload copied.
type event struct {
	op      wsframe.Opcode
	payload string
	code    int
}

func (e event) String() string {
	p := e.payload
	if len(p) > 40 {
		p = fmt.Sprintf("%q... (%d bytes)", p[:40], len(p))
	} else {
		p = fmt.Sprintf("%q", p)
	}
	if e.op == wsframe.OpClose {
		return fmt.Sprintf("close %d %s", e.code, p)
	}
	return fmt.Sprintf("op %d %s", e.op, p)
}

func msgText(s string) event   { return event{op: wsframe.OpText, payload: s} }
func msgBinary(b []byte) event { return event{op: wsframe.OpBinary, payload: string(b)} }
func gotPing(s string) event   { return event{op: wsframe.OpPing, payload: s} }
func gotPong(s string) event   { return event{op: wsframe.OpPong, payload: s} }
func gotClose(code int, reason string) event {
	return event{op: wsframe.OpClose, code: code, payload: reason}
}

// read feeds chunks to r in order, each from a copy (Next unmasks in
// place), and returns the events, the error that ended reading, and the
// index of the chunk it came with.
func read(t testing.TB, r *wsframe.Reader, chunks [][]byte) (events []event, err error, at int) {
	t.Helper()
	for i, c := range chunks {
		p := bytes.Clone(c)
		for {
			n, ev, err := r.Next(p)
			if n < 0 || n > len(p) {
				t.Fatalf("Next used %d of %d bytes", n, len(p))
			}
			p = p[n:]
			if err != nil {
				return events, err, i
			}
			if ev.Op == 0 {
				if len(p) != 0 {
					t.Fatalf("no event, but %d bytes left unused", len(p))
				}
				break
			}
			events = append(events, event{ev.Op, string(ev.Payload), ev.Code})
		}
	}
	return events, nil, len(chunks)
}
