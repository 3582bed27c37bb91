// Package wire is the hotstate wire protocol: frame types, their MessagePack
// encoding, a bounds-checked decoder, and the JSON-shaped value encoding,
// diff and patch application shared by the server and the Go client.
// docs/PROTOCOL.md is its specification.
package wire

// ProtocolVersion is the version of docs/PROTOCOL.md this package speaks.
const ProtocolVersion = 1

// Type is a frame type, the value of a frame's "t" key.
type Type uint8

// Frame types, numbered as in PROTOCOL.md.
const (
	TypeSub   Type = 1
	TypeUnsub Type = 2
	TypeRPC   Type = 3
	TypeHello Type = 16
	TypeSnap  Type = 17
	TypePatch Type = 18
	TypeRes   Type = 19
	TypeDel   Type = 20
	TypeEvt   Type = 21
	TypeErr   Type = 22
)

// String returns the name the protocol gives the type.
func (t Type) String() string {
	switch t {
	case TypeSub:
		return "sub"
	case TypeUnsub:
		return "unsub"
	case TypeRPC:
		return "rpc"
	case TypeHello:
		return "hello"
	case TypeSnap:
		return "snap"
	case TypePatch:
		return "patch"
	case TypeRes:
		return "res"
	case TypeDel:
		return "del"
	case TypeEvt:
		return "evt"
	case TypeErr:
		return "err"
	}
	return "unknown"
}

// Error is the body of an "x" key: a code from PROTOCOL.md and a message
// meant for people. It is also the error a function handler returns to
// choose what its caller sees (hotstate.Error is this type).
type Error struct {
	Code    string
	Message string
}

// Error implements error.
func (e *Error) Error() string { return "hotstate: " + e.Code + ": " + e.Message }

// Error codes, as listed in PROTOCOL.md.
const (
	CodeBadFrame             = "bad_frame"
	CodeUnknownType          = "unknown_type"
	CodeNotFound             = "not_found"
	CodeNameTooLong          = "name_too_long"
	CodeTooManySubscriptions = "too_many_subscriptions"
	CodeForbidden            = "forbidden"
	CodeRateLimited          = "rate_limited"
	CodeUnknownFunction      = "unknown_function"
	CodeBadArgs              = "bad_args"
	CodeBusy                 = "busy"
	CodeError                = "error"
	CodeInternal             = "internal"
	CodeUnavailable          = "unavailable"
)

// WebSocket close codes, as listed in PROTOCOL.md.
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001
	CloseProtocolError   = 1002
	CloseUnsupportedData = 1003
	ClosePolicyViolation = 1008
	CloseMessageTooBig   = 1009
	CloseInternalError   = 1011
	CloseSlowConsumer    = 4000
	CloseHeartbeat       = 4001
)

// Frame is a decoded frame of any type. Only the fields the type uses are
// set; PROTOCOL.md says which.
type Frame struct {
	Type    Type
	Store   string // s
	Epoch   uint64 // e
	Version uint64 // v
	// Resume is true when a sub frame carried e and v.
	Resume bool
	ID     uint64 // i
	Name   string // n: function name or event channel
	// Value is the encoded d (snap, evt), a (rpc) or r (res) value, nil
	// when absent; Decode leaves it inside the frame's bytes. Decode it with
	// DecodeValue or DecodeAny.
	Value    []byte
	Ops      []Op   // o, values decoded as generic trees
	Err      *Error // x
	Protocol uint64 // p
	Client   string // c
}

// TypeOf returns the type of a frame this package encoded, read from its
// first bytes (a small map whose first key is "t"), or 0 when b does not
// start that way. It spares decoding a frame just to learn its type.
func TypeOf(b []byte) Type {
	if len(b) < 4 || b[0]&0xf0 != 0x80 || b[1] != 0xa1 || b[2] != 't' || b[3] >= 0x80 {
		return 0
	}
	return Type(b[3])
}
