// Package wsframe reads the frames a WebSocket client sends to a server and
// writes the server's, by RFC 6455, without the extensions a handshake may
// negotiate (none is offered).
//
// It is made for transports that read when the kernel says a socket is
// readable rather than from a goroutine per connection: a Reader takes
// whatever bytes have arrived, in chunks of any size, and returns the
// complete events in them (messages, pings, pongs, the close frame) one at
// a time, without blocking. Between messages it holds no buffer; a message
// that arrives in several chunks or fragments is gathered in a buffer taken
// from a pool and given back once the caller is done with it.
//
// It is internal: its API is whatever hotstate's transports need.
package wsframe

// Opcode is the type of a frame (RFC 6455 section 5.2), and of the event a
// Reader returns for it.
type Opcode byte

// The opcodes of messages and control frames. The continuation opcode (0)
// has no name: a Reader joins fragments into one message, and a server
// sends each message in one frame.
const (
	OpText   Opcode = 0x1
	OpBinary Opcode = 0x2
	OpClose  Opcode = 0x8
	OpPing   Opcode = 0x9
	OpPong   Opcode = 0xa
)

const opContinuation Opcode = 0x0

func (op Opcode) control() bool { return op&0x8 != 0 }

// Close codes this package reads or reports (RFC 6455 section 7.4.1).
const (
	CloseNormal         = 1000
	CloseProtocolError  = 1002
	CloseNoStatus       = 1005 // never sent: a close frame without a code reads as this
	CloseInvalidPayload = 1007
	CloseTooBig         = 1009
)

// maxControl is the largest payload of a control frame (section 5.5).
const maxControl = 125

// Error is a violation of RFC 6455 by the peer, or a message past the
// Reader's limit. The connection is failed: the server sends a close frame
// with Code (and may send Reason, which holds nothing from the peer) and
// closes it.
type Error struct {
	Code   int
	Reason string
}

func (e *Error) Error() string { return "wsframe: " + e.Reason }

// The errors a Reader returns, one value each so that failing allocates
// nothing.
var (
	errReserved         = &Error{CloseProtocolError, "reserved bits set"}
	errOpcode           = &Error{CloseProtocolError, "reserved opcode"}
	errUnmasked         = &Error{CloseProtocolError, "unmasked client frame"}
	errControlLength    = &Error{CloseProtocolError, "control frame longer than 125 bytes"}
	errControlFragment  = &Error{CloseProtocolError, "fragmented control frame"}
	errLength           = &Error{CloseProtocolError, "frame length with its most significant bit set"}
	errNoContinuation   = &Error{CloseProtocolError, "continuation frame outside a fragmented message"}
	errWantContinuation = &Error{CloseProtocolError, "new message inside a fragmented message"}
	errCloseLength      = &Error{CloseProtocolError, "close frame with a one-byte payload"}
	errCloseCode        = &Error{CloseProtocolError, "invalid close code"}
	errCloseReason      = &Error{CloseInvalidPayload, "close reason is not UTF-8"}
	errText             = &Error{CloseInvalidPayload, "text message is not UTF-8"}
	errTooBig           = &Error{CloseTooBig, "message too big"}
)

// ValidCloseCode reports whether code may appear in a close frame: one
// that RFC 6455 or the IANA registry defines for use on the wire
// (1000-1003, 1007-1014), or one left to libraries and applications
// (3000-4999). 1004, 1005, 1006 and 1015 are reserved or must never be
// sent, and the rest of 0-2999 is unassigned.
func ValidCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// InvalidText reports whether err is a Reader's error for a text message
// that is not UTF-8: a server that refuses text messages whatever they
// hold answers it as it answers any text message.
func InvalidText(err error) bool { return err == errText }
