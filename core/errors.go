package hotstate

import (
	"errors"

	"github.com/hotstate/hotstate/core/wire"
)

// Sentinel errors returned by the Server's methods.
var (
	// ErrServerClosed is returned by ServeConn once Shutdown has begun.
	ErrServerClosed = errors.New("hotstate: server closed")
	// ErrUnknownClient is returned by EmitTo for a client id that is not connected.
	ErrUnknownClient = errors.New("hotstate: unknown client")
	// ErrDuplicate reports a store or function registered twice under one name.
	ErrDuplicate = errors.New("hotstate: name already registered")
	// ErrReservedEvent is returned by Emit and EmitTo for a channel named
	// like a client lifecycle event (connected, disconnected, reconnecting,
	// error, storeDeleted).
	ErrReservedEvent = errors.New("hotstate: event name reserved for client lifecycle events")
	// ErrReentrant is returned (or, by methods without an error, raised as
	// a panic) when an OnCreate hook calls a method that would need its
	// own instance to be created first: Update, UpdateOps, Set, Init,
	// Delete or Reset on the key it is creating. The hook changes the state
	// it is given instead.
	ErrReentrant = errors.New("hotstate: called from the OnCreate hook of the same instance")
	// ErrUnavailable is wrapped by the errors of an Engine that cannot
	// reach its storage (Redis or NATS is down or unreachable), and so by
	// the store methods that needed it. Callers and subscribers see the
	// code CodeUnavailable; nothing waits for the engine to return.
	ErrUnavailable = errors.New("hotstate: store engine unavailable")
)

// Error is the one error type with a code: a function handler returns one
// to choose the code and the message its caller sees, and the server
// sends every refusal as one. Any other error a handler returns reaches
// the caller with the code CodeError and its Error() text. It is the body
// of the protocol's "x" key, so the codes below are PROTOCOL.md's.
type Error = wire.Error

// NewError returns an *Error with the given code and message.
func NewError(code, message string) *Error { return &Error{Code: code, Message: message} }

// The codes of PROTOCOL.md, for Error.Code.
const (
	CodeBadFrame             = wire.CodeBadFrame
	CodeUnknownType          = wire.CodeUnknownType
	CodeNotFound             = wire.CodeNotFound
	CodeNameTooLong          = wire.CodeNameTooLong
	CodeTooManySubscriptions = wire.CodeTooManySubscriptions
	CodeForbidden            = wire.CodeForbidden
	CodeRateLimited          = wire.CodeRateLimited
	CodeUnknownFunction      = wire.CodeUnknownFunction
	CodeBadArgs              = wire.CodeBadArgs
	CodeBusy                 = wire.CodeBusy
	CodeError                = wire.CodeError
	CodeInternal             = wire.CodeInternal
	CodeUnavailable          = wire.CodeUnavailable
)

// ErrTextFrame is wrapped by a transport's Read error when a text message
// arrives; the server closes such a connection with 1003.
var ErrTextFrame = errors.New("hotstate: text message received")
