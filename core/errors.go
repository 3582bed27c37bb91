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
)

// Error is an error a function handler returns to choose the code and the
// message its caller sees. Any other error reaches the caller with the code
// "error" and its Error() text.
type Error struct {
	Code    string
	Message string
}

// Error implements error.
func (e *Error) Error() string { return "hotstate: " + e.Code + ": " + e.Message }

// NewError returns an *Error with the given code and message.
func NewError(code, message string) *Error { return &Error{Code: code, Message: message} }

func (e *Error) wire() wire.Error { return wire.Error{Code: e.Code, Message: e.Message} }

// ErrTextFrame is wrapped by a transport's Read error when a text message
// arrives; the server closes such a connection with 1003.
var ErrTextFrame = errors.New("hotstate: text message received")
