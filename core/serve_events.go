package hotstate

// Session is a connection served by events rather than by a goroutine
// reading in a loop: a transport that learns from the kernel when a socket
// has bytes (epoll) opens it with Server.Open, hands it each message with
// Message and ends it with Closed. Between messages it holds no goroutine.
//
// The events of one Session are calls in order, never concurrent: Message
// is not called during another Message, and Closed comes last, once. The
// Conn's Read is never called; Write, Ping and Close are, as under
// ServeConn.
type Session struct {
	s *session
}

// Open starts serving conn, whose messages the transport then delivers
// with Message: it greets the client and starts its heartbeat. After
// Shutdown has begun it closes conn with 1001 and returns ErrServerClosed.
//
// The session lives until the transport calls Closed. When the server
// closes the connection (Shutdown, a slow consumer, a missed heartbeat,
// an oversize message) it does so through Conn.Close, after which the
// transport calls Closed once the connection has ended.
func (s *Server) Open(conn Conn) (*Session, error) {
	ss, err := s.admit(conn)
	if err != nil {
		return nil, err
	}
	ss.start()
	return &Session{s: ss}, nil
}

// Message acts on one binary message, which the session then owns: it may
// keep parts of b while a function call runs. It reports whether the
// transport should read on; false means the server is closing the
// connection (the message was too large) and what arrives next may be
// discarded.
func (x *Session) Message(b []byte) bool {
	return x.s.message(b)
}

// Closed ends the session: reading has ended because the peer closed the
// connection (err is nil), the connection failed (err says why), or a
// message the server refuses arrived (err wraps ErrTextFrame, and Closed
// closes the connection with 1003 first). It waits for the session's
// function calls and writes to finish, releases its subscriptions, tells
// the listeners, and returns nil or the error the session ended with, as
// ServeConn would. The transport calls it once, on a goroutine that may
// wait: never from inside Conn.Close.
func (x *Session) Closed(err error) error {
	s := x.s
	return s.end(s.readFailed(err))
}
