package hotstate

import (
	"context"
	"net/http"
)

// Conn is one WebSocket connection as a transport hands it to the server.
// The server calls Read from one goroutine and Write and Ping from another;
// Close may be called from any goroutine, more than once.
type Conn interface {
	// Read returns the next binary message in a slice the caller then owns:
	// the server keeps parts of it while a function call runs. A text
	// message returns an error that wraps ErrTextFrame. Cancelling ctx may
	// close the connection.
	Read(ctx context.Context) ([]byte, error)
	// Write sends one binary message.
	Write(ctx context.Context, frame []byte) error
	// Ping sends a WebSocket ping and returns when its pong arrived.
	Ping(ctx context.Context) error
	// Close closes the connection with a WebSocket close code and reason.
	Close(code int, reason string) error
	// Info describes the HTTP request that opened the connection.
	Info() ConnInfo
}

// Corker is implemented by a Conn that can send several frames in one
// system call. When the writer has two or more frames queued for the
// connection it calls Cork, writes them, and calls Flush, which sends what
// was held back and ends the batch even when it fails. Frames written by
// other goroutines meanwhile (pings, the close frame) join the batch in
// order. At high fan-out this saves a system call per delivered frame.
type Corker interface {
	Cork()
	Flush() error
}

// ConnInfo describes the request behind a connection: what a transport knew
// when it upgraded, plus the identity its authentication produced.
type ConnInfo struct {
	RemoteAddr string
	// Header holds the request headers the transport keeps for the
	// connection's life. Every transport of this repository keeps only
	// those named with its WithHeaders option, none by default: the
	// identity hook reads the request before the upgrade.
	Header http.Header
	// Identity is whatever the transport's identity hook returned (a user,
	// a session), or nil.
	Identity any
}

// Caller identifies the client behind a function call or lifecycle event.
type Caller struct {
	// ID is the client id the server assigned; EmitTo takes it.
	ID string
	ConnInfo
}

type callerKey struct{}

// CallerFrom returns the caller a handler's context carries.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// ClientID returns the id of the calling client, or "" outside a handler.
func ClientID(ctx context.Context) string {
	c, _ := CallerFrom(ctx)
	return c.ID
}
