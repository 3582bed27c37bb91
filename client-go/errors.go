package hotclient

import "errors"

// ErrRPCTimeout is returned by Call when no answer arrived within the RPC
// timeout. Its message is the one every hotstate client uses.
var ErrRPCTimeout = errors.New("RPC timeout")

// ErrDisconnected is returned by Call when the connection dropped after the
// call was sent: the answer is lost, and whether the function ran is
// unknown. Ready returns it, wrapped with the cause, once a client that
// does not reconnect has lost its connection.
var ErrDisconnected = errors.New("Disconnected") //nolint:staticcheck // the spec's message

// ErrClosed is returned by the methods of a Client after Close.
var ErrClosed = errors.New("hotstate: client closed")

// ErrStoreDeleted is what Subscription.Err and Subscription.Ready return
// once the server deleted the store, which ended the handle.
var ErrStoreDeleted = errors.New("hotstate: store deleted")

// RemoteError is an error the server reported: a failed function call, or a
// subscription it could not serve (then Store names it). Code is one of the
// codes of PROTOCOL.md ("not_found", "unknown_function", "error", ...) or a
// code the server's function chose.
type RemoteError struct {
	Store   string
	Code    string
	Message string
}

// Error implements error.
func (e *RemoteError) Error() string {
	if e.Store != "" {
		return "hotstate: store " + e.Store + ": " + e.Code + ": " + e.Message
	}
	return "hotstate: " + e.Code + ": " + e.Message
}
