package wsframe

import (
	"encoding/binary"
	"math"
	"unicode/utf8"
)

// maxHeader is the longest frame header: two bytes, a 64-bit length and
// the masking key.
const maxHeader = 2 + 8 + 4

// Event is something complete a Reader found in the bytes it was given.
type Event struct {
	// Op is OpText or OpBinary for a message (its fragments joined),
	// OpPing, OpPong or OpClose for a control frame; zero for no event.
	Op Opcode
	// Payload is the message or the control frame's payload, unmasked;
	// for OpClose, the reason, which is UTF-8. It is valid until the next
	// call to Next, and may be part of the slice Next was given.
	Payload []byte
	// Code is the close code of an OpClose event: CloseNoStatus when the
	// frame had no payload.
	Code int
}

// Reader parses the frames a client sends to a server from bytes given to
// Next in chunks of any size, and returns the messages and control frames
// in them.
//
// A Reader checks what a server must (section numbers are RFC 6455's):
// that client frames are masked (5.1), that no reserved bit is set (no
// extension is negotiated) and no reserved opcode used (5.2), that control
// frames are final and at most 125 bytes (5.5), that fragments continue a
// message and only a message (5.4), that a 64-bit length leaves its most
// significant bit clear (5.2), that a close frame carries nothing or a
// valid code and a UTF-8 reason (5.5.1, 7.4), that text messages are UTF-8
// (8.1), and its own limit on the size of a message. A violation ends the
// Reader with an *Error whose Code the server closes with; invalid UTF-8
// is found as soon as the bytes that make it invalid arrive, and a frame
// that would make a message too big as soon as its header has. Lengths
// that are not in their minimal form are accepted.
//
// A Reader is not safe for concurrent use: one goroutine at a time feeds
// it, as the bytes of one connection arrive.
type Reader struct {
	limit int

	// head gathers a frame header that arrives in pieces; headN bytes of
	// it have arrived.
	head  [maxHeader]byte
	headN uint8

	// The frame whose payload is being read, when inPayload is set.
	inPayload bool
	op        Opcode
	fin       bool
	key       [4]byte
	length    int // the frame's payload length
	remain    int // bytes of the payload still to come

	// msgOp is the opcode of the message being read, from its first frame
	// to its final one; zero between messages.
	msgOp Opcode

	// buf gathers a message that does not arrive in one piece: its first
	// msgLen bytes are the message so far, and a control frame arriving
	// in pieces meanwhile is gathered behind them. nil between messages.
	// box is the pool's handle for buf, nil if buf was not pooled.
	buf    []byte
	box    *[]byte
	msgLen int
	// valid is how much of a text message in buf is known to be UTF-8; the
	// bytes after it, up to msgLen, begin a code point not yet complete.
	valid int

	// lent is set when the last event's payload is in buf, which is left
	// alone until the next call.
	lent bool
	// closed is set once the peer's close frame was returned.
	closed bool
	// err is the violation that ended the Reader.
	err error
}

// NewReader returns a Reader that fails a message longer than limit bytes
// with CloseTooBig. A limit of 0 or less means no limit but the frame
// format's.
func NewReader(limit int) *Reader {
	if limit <= 0 {
		limit = math.MaxInt
	}
	return &Reader{limit: limit}
}

// Next parses p, the bytes that arrived next, up to the end of the first
// complete event in it, and returns how many bytes it used and the event.
// When p holds no complete event, Next keeps what it needs of p (a frame
// header cut short, part of a message) and returns len(p) and no event:
// call it again with the bytes that arrive next. A caller that has read
// some bytes calls Next until it returns no event, giving it what the
// previous call left of p each time:
//
//	for {
//		n, ev, err := r.Next(p)
//		p = p[n:]
//		if err != nil { ... }
//		if ev.Op == 0 {
//			break // p is used up; wait for more
//		}
//		...
//	}
//
// That last call also gives back the buffer a message was gathered in, so
// a Reader between messages holds none.
//
// Next unmasks payloads in place in p, and an event's payload may be part
// of p: the caller leaves p alone until it is done with the event.
//
// A violation of the protocol returns an *Error, and so does every later
// call. After an OpClose event, Next discards whatever follows: the peer
// may send nothing after its close frame (RFC 6455 section 5.5.1).
func (r *Reader) Next(p []byte) (n int, ev Event, err error) {
	if r.lent {
		r.reclaim()
	}
	if r.err != nil {
		return 0, Event{}, r.err
	}
	if r.closed {
		r.release()
		return len(p), Event{}, nil // nothing after the close frame counts
	}
	for {
		if !r.inPayload {
			k, err := r.readHeader(p[n:])
			n += k
			if err != nil {
				return n, Event{}, r.fail(err)
			}
			if !r.inPayload {
				return n, Event{}, nil // p is used up
			}
		}
		avail := p[n:]
		if r.remain == r.length && r.remain <= len(avail) && (r.op.control() || r.fin && r.op != opContinuation) {
			// The whole frame is in p and is a whole message or a control
			// frame: read it where it is.
			payload := avail[:r.length]
			maskBytes(payload, r.key, 0)
			n += r.length
			r.inPayload = false
			if r.op.control() {
				ev, err = r.control(payload)
			} else {
				ev, err = r.message(payload)
			}
			if err != nil {
				return n, Event{}, r.fail(err)
			}
			return n, ev, nil
		}
		k := min(r.remain, len(avail))
		if k > 0 {
			r.gather(avail[:k])
			n += k
			if err := r.checkText(); err != nil {
				return n, Event{}, r.fail(err)
			}
		}
		if r.remain > 0 {
			return n, Event{}, nil // p is used up
		}
		r.inPayload = false
		switch {
		case r.op.control():
			ev, err = r.control(r.buf[r.msgLen:])
		case r.fin:
			ev, err = r.message(r.buf[:r.msgLen])
			r.msgLen, r.valid = 0, 0
		default:
			continue // the message goes on in the next frame
		}
		if err != nil {
			return n, Event{}, r.fail(err)
		}
		r.lent = true
		return n, ev, nil
	}
}

// Buffered returns the capacity of the buffer the Reader holds, 0 when it
// holds none: between messages, once Next has returned no event.
func (r *Reader) Buffered() int { return cap(r.buf) }

// readHeader reads the next frame header from b, gathering it in head when
// b holds only part of it, and returns how many bytes it used. inPayload is
// set once the header is complete.
func (r *Reader) readHeader(b []byte) (int, error) {
	if r.headN == 0 && len(b) >= 2 {
		if need := headerLen(b[1]); len(b) >= need {
			// The usual case: the whole header is in b.
			if err := r.startFrame(b[0], b[1]); err != nil {
				return 0, err
			}
			return need, r.endHeader(b[:need])
		}
	}
	used := 0
	for used < len(b) {
		need := 2
		if r.headN >= 2 {
			need = headerLen(r.head[1])
		}
		k := copy(r.head[r.headN:need], b[used:])
		before := r.headN
		r.headN += uint8(k)
		used += k
		if before < 2 && r.headN >= 2 {
			// Checked before the rest of the header arrives, so that a
			// peer breaking the protocol is stopped at once.
			if err := r.startFrame(r.head[0], r.head[1]); err != nil {
				return used, err
			}
		}
		if r.headN >= 2 && int(r.headN) == headerLen(r.head[1]) {
			r.headN = 0
			return used, r.endHeader(r.head[:headerLen(r.head[1])])
		}
	}
	return used, nil
}

// headerLen returns the length of a client frame's header from its second
// byte.
func headerLen(b1 byte) int {
	switch b1 & 0x7f {
	case 126:
		return 2 + 2 + 4
	case 127:
		return 2 + 8 + 4
	}
	return 2 + 4
}

// startFrame checks the first two bytes of a frame header.
func (r *Reader) startFrame(b0, b1 byte) error {
	if b0&0x70 != 0 {
		return errReserved
	}
	op := Opcode(b0 & 0xf)
	switch op {
	case opContinuation:
		if r.msgOp == 0 {
			return errNoContinuation
		}
	case OpText, OpBinary:
		if r.msgOp != 0 {
			return errWantContinuation
		}
	case OpClose, OpPing, OpPong:
		if b0&0x80 == 0 {
			return errControlFragment
		}
		if b1&0x7f > maxControl {
			return errControlLength
		}
	default:
		return errOpcode
	}
	if b1&0x80 == 0 {
		return errUnmasked
	}
	return nil
}

// endHeader reads the length and masking key of the frame whose whole
// header is h, after startFrame has checked it.
func (r *Reader) endHeader(h []byte) error {
	op := Opcode(h[0] & 0xf)
	var length uint64
	switch l := h[1] & 0x7f; l {
	case 126:
		length = uint64(binary.BigEndian.Uint16(h[2:]))
	case 127:
		length = binary.BigEndian.Uint64(h[2:])
		if length>>63 != 0 {
			return errLength
		}
	default:
		length = uint64(l)
	}
	if !op.control() && length > uint64(r.limit-r.msgLen) {
		return errTooBig
	}
	r.op = op
	r.fin = h[0]&0x80 != 0
	copy(r.key[:], h[len(h)-4:])
	r.length = int(length)
	r.remain = r.length
	r.inPayload = true
	if op == OpText || op == OpBinary {
		r.msgOp = op
	}
	return nil
}

// gather appends part of the current frame's payload to buf, unmasked.
func (r *Reader) gather(b []byte) {
	pos := r.length - r.remain
	r.reserve(len(b))
	start := len(r.buf)
	r.buf = append(r.buf, b...)
	maskBytes(r.buf[start:], r.key, pos)
	r.remain -= len(b)
	if !r.op.control() {
		r.msgLen += len(b)
	}
}

// checkText checks what arrived of a text message as it arrives: a peer
// sending invalid UTF-8 is stopped at the first byte that makes it so.
func (r *Reader) checkText() error {
	if r.msgOp != OpText || r.op.control() {
		return nil
	}
	n, ok := validPrefix(r.buf[r.valid:r.msgLen])
	if !ok {
		return errText
	}
	r.valid += n
	return nil
}

// message returns the event for the message whose whole payload is b, of
// which the first r.valid bytes are known to be UTF-8 if it is text.
func (r *Reader) message(b []byte) (Event, error) {
	op := r.msgOp
	r.msgOp = 0
	if op == OpText && !utf8.Valid(b[r.valid:]) {
		return Event{}, errText
	}
	return Event{Op: op, Payload: b}, nil
}

// control returns the event for the control frame whose payload is b.
func (r *Reader) control(b []byte) (Event, error) {
	if r.op != OpClose {
		return Event{Op: r.op, Payload: b}, nil
	}
	code, reason, err := parseClose(b)
	if err != nil {
		return Event{}, err
	}
	r.closed = true
	return Event{Op: OpClose, Payload: reason, Code: code}, nil
}

// parseClose reads a close frame's payload (section 5.5.1).
func parseClose(b []byte) (code int, reason []byte, err error) {
	switch {
	case len(b) == 0:
		return CloseNoStatus, nil, nil
	case len(b) == 1:
		return 0, nil, errCloseLength
	}
	code = int(binary.BigEndian.Uint16(b))
	if !ValidCloseCode(code) {
		return 0, nil, errCloseCode
	}
	if !utf8.Valid(b[2:]) {
		return 0, nil, errCloseReason
	}
	return code, b[2:], nil
}

// fail ends the Reader with err.
func (r *Reader) fail(err error) error {
	r.err = err
	r.release()
	return err
}

// reclaim takes buf back from the caller, who had the last event's
// payload in it: what follows the message in progress goes, and the
// buffer itself if no message is in progress.
func (r *Reader) reclaim() {
	r.lent = false
	if r.msgLen == 0 || r.closed {
		r.release()
		return
	}
	r.buf = r.buf[:r.msgLen]
}

// reserve makes room in buf for n more bytes, doubling it as a message
// grows so that gathering one costs amortized constant time per byte, but
// never past the limit: a peer that announces a long frame has the Reader
// hold only what it has actually sent.
func (r *Reader) reserve(n int) {
	need := len(r.buf) + n
	if need <= cap(r.buf) {
		return
	}
	size := max(need, 2*cap(r.buf), minBuffer)
	if ceiling := r.limit + maxControl; r.limit < math.MaxInt-maxControl && size > ceiling {
		size = max(need, ceiling)
	}
	buf, box := getBuffer(size)
	buf = append(buf, r.buf...)
	r.release()
	r.buf, r.box = buf, box
}

// release gives buf back to the pool.
func (r *Reader) release() {
	if r.buf == nil {
		return
	}
	putBuffer(r.buf, r.box)
	r.buf, r.box = nil, nil
}

// maskBytes applies the masking key to b, whose first byte is at position
// pos of the frame's payload (section 5.3), eight bytes at a time.
func maskBytes(b []byte, key [4]byte, pos int) {
	var k [4]byte
	for i := range k {
		k[i] = key[(pos+i)&3]
	}
	k32 := uint64(binary.LittleEndian.Uint32(k[:]))
	k64 := k32<<32 | k32
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k64)
		b = b[8:]
	}
	for i := range b {
		b[i] ^= k[i&3]
	}
}
