package hotstate

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotstate/hotstate/core/wire"
)

// session is the server's side of one connection. Its goroutines: the
// caller of ServeConn reads, the writer drains its queue while frames wait,
// a timer pings, and each function call runs in its own; ServeConn waits
// for all of them.
type session struct {
	srv    *Server
	conn   Conn
	caller Caller
	w      *writer
	// ctx ends when the connection does.
	ctx    context.Context
	cancel context.CancelFunc
	// callCtx is ctx carrying the caller, for function handlers.
	callCtx context.Context
	// beat pings the peer; it runs only while a ping is due or in flight.
	beat  *heartbeat
	calls chan struct{} // semaphore: one slot per function call in flight
	wg    sync.WaitGroup
	// limit and funcLimits are used only by the reader goroutine.
	limit      *bucket
	funcLimits map[string]*bucket

	mu   sync.Mutex // guards subs
	subs map[string]subscription

	// received counts the frames read, for SessionInfo.
	received atomic.Uint64
}

// subscription is a store instance as a session holds it.
type subscription interface {
	unsubscribe(s *session)
}

func newClientID() string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func newSession(srv *Server, conn Conn) *session {
	ctx, cancel := context.WithCancel(context.Background())
	caller := Caller{ID: newClientID(), ConnInfo: conn.Info()}
	s := &session{
		srv:     srv,
		conn:    conn,
		caller:  caller,
		ctx:     ctx,
		cancel:  cancel,
		callCtx: context.WithValue(ctx, callerKey{}, caller),
		calls:   make(chan struct{}, srv.opts.maxInflight),
		subs:    make(map[string]subscription),

		limit:      newBucket(srv.opts.rate, srv.opts.burst),
		funcLimits: map[string]*bucket{},
	}
	s.w = newWriter(ctx, conn, caller.ID, &srv.opts, srv.logger(), &s.wg, cancel)
	return s
}

// run serves the connection until it ends and then releases everything the
// session held.
func (s *session) run() error {
	s.start()
	return s.end(s.readLoop())
}

// start greets the client and begins the connection's life: heartbeat,
// observer, listeners.
func (s *session) start() {
	s.srv.opts.obs.opened(s)
	s.w.push(wire.EncodeHello(s.caller.ID))
	if hb := s.srv.opts.heartbeat; hb > 0 {
		s.beat = startHeartbeat(s, hb)
	}
	s.srv.listeners.connected(s.caller)
}

// end releases everything the session held once reading has ended, and
// returns err.
func (s *session) end(err error) error {
	s.cancel()
	s.beat.stop()
	s.w.end() // no drain goroutine starts after this, so wg cannot grow
	s.wg.Wait()
	s.dropAll()
	s.srv.opts.obs.closed(s)
	s.srv.listeners.disconnected(s.caller)
	// Last: Shutdown returns once every session is forgotten, and by then
	// their OnDisconnect listeners have run.
	s.srv.forget(s)
	return err
}

func (s *session) readLoop() error {
	for {
		b, err := s.conn.Read(s.ctx)
		if err != nil {
			return s.readFailed(err)
		}
		if !s.message(b) {
			s.waitClosed()
			return nil
		}
	}
}

// message acts on one inbound message, which the session then owns, and
// reports whether the connection reads on: a message past the frame limit
// closes it with 1009.
func (s *session) message(b []byte) bool {
	if len(b) > s.srv.opts.maxFrameBytes {
		s.w.close(wire.CloseMessageTooBig, "frame too large", true)
		return false
	}
	s.received.Add(1)
	s.handle(b)
	return true
}

// readFailed answers the error that ended reading, closing the connection
// with 1003 for a text message, and returns what the session ends with:
// nil when the server closed the connection or the error came after.
func (s *session) readFailed(err error) error {
	if errors.Is(err, ErrTextFrame) {
		s.w.close(wire.CloseUnsupportedData, "binary frames only", false)
		s.waitClosed()
	}
	if err == nil || s.w.closing() || s.ctx.Err() != nil {
		return nil
	}
	return err
}

// waitClosed lets the writer send the requested close before the reader
// returns and tears the session down.
func (s *session) waitClosed() {
	select {
	case <-s.ctx.Done():
	case <-time.After(s.srv.opts.writeTimeout):
	}
}

// abandon ends the session at once for a Shutdown past its deadline: the
// connection is closed without waiting for the writer, and handlers see
// their context end. The session is released when its last handler returns.
func (s *session) abandon() {
	s.cancel()
	s.w.end()
	_ = s.conn.Close(wire.CloseGoingAway, "server shutting down")
}

// handle acts on one inbound frame. A panic in anything it calls (an Allow
// rule, a store hook, a listener) is logged and answered with an internal
// error where the client waits for it (the call's res, the subscription's
// err); the connection lives on.
func (s *session) handle(b []byte) {
	var f wire.Frame
	defer func() {
		if v := recover(); v != nil {
			s.srv.panicked(v, s.caller)
			if f.Type == wire.TypeRPC {
				s.w.push(wire.EncodeFailure(f.ID, internalError))
				return
			}
			s.w.push(wire.EncodeErr(f.Store, internalError))
		}
	}()
	if !s.limit.take(time.Now()) {
		s.refuse(b, wire.CodeRateLimited, "too many frames; slow down")
		return
	}
	var err error
	if f, err = wire.Decode(b); err != nil {
		s.reject("", wire.CodeBadFrame, err.Error())
		return
	}
	switch f.Type {
	case wire.TypeSub:
		s.subscribe(f)
	case wire.TypeUnsub:
		s.unsubscribe(f.Store)
	case wire.TypeRPC:
		s.call(f)
	default:
		s.reject("", wire.CodeUnknownType, fmt.Sprintf("frame type %d is not a client frame", f.Type))
	}
}

// reject sends an err frame and tells the error listeners.
func (s *session) reject(store, code, msg string) {
	s.srv.opts.obs.refused(code)
	s.w.push(wire.EncodeErr(store, wire.Error{Code: code, Message: msg}))
	s.srv.listeners.failed(fmt.Errorf("hotstate: client %s: %s: %s", s.caller.ID, code, msg), s.caller.ID)
}

// refuse answers a frame the server will not act on where its sender
// waits for the answer: a call by its id, a subscription by its store.
// Anything else gets an err frame without a store.
func (s *session) refuse(b []byte, code, msg string) {
	f, err := wire.Decode(b)
	switch {
	case err == nil && f.Type == wire.TypeRPC:
		s.fail(f.ID, code, msg)
		s.srv.listeners.failed(fmt.Errorf("hotstate: client %s: %s: %s", s.caller.ID, code, msg), s.caller.ID)
	case err == nil && f.Type == wire.TypeSub:
		s.reject(f.Store, code, msg)
	default:
		s.reject("", code, msg)
	}
}

func (s *session) subscribe(f wire.Frame) {
	if len(f.Store) > s.srv.opts.maxNameLen {
		// The name is echoed whole, as the client knows it: it came in
		// a frame within the inbound limit, so this amplifies nothing.
		s.reject(f.Store, wire.CodeNameTooLong, fmt.Sprintf("store name longer than %d bytes", s.srv.opts.maxNameLen))
		return
	}
	def, key, ok := s.srv.resolve(f.Store)
	if !ok {
		s.reject(f.Store, wire.CodeNotFound, fmt.Sprintf("store %q not found", f.Store))
		return
	}
	if !def.allowed(s.caller, key) {
		s.reject(f.Store, errForbidden.Code, errForbidden.Message)
		return
	}
	// Refuse before the store is created: an instance made for a refused
	// subscriber would have nobody to leave it, so OnIdle would never run.
	if err := s.canHold(f.Store); err != nil {
		s.reject(f.Store, err.Code, err.Message)
		return
	}
	if err := def.subscribe(s, key, f); err != nil {
		var e *Error
		if x, ok := engineError(err); ok {
			e = &x
		} else if !errors.As(err, &e) {
			s.srv.logger().Error("hotstate: subscribe failed", "store", f.Store, "err", err)
			e = &Error{Code: internalError.Code, Message: internalError.Message}
		}
		s.reject(f.Store, e.Code, e.Message)
		return
	}
	if who := def.presenceWho(); who != nil {
		s.srv.presenceFor().join(f.Store, who, s.caller)
	}
	s.srv.listeners.subscribed(f.Store, s.caller)
}

// canHold reports why the session may not subscribe to name, or nil.
func (s *session) canHold(name string) *Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.canHoldLocked(name)
}

func (s *session) canHoldLocked(name string) *Error {
	if _, ok := s.subs[name]; !ok && len(s.subs) >= s.srv.opts.maxSubs {
		return &Error{Code: wire.CodeTooManySubscriptions, Message: fmt.Sprintf("at most %d subscriptions per connection", s.srv.opts.maxSubs)}
	}
	return nil
}

// addSub records a subscription; it fails when the session is at its limit.
// Called with the instance's lock held.
func (s *session) addSub(name string, sub subscription) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.canHoldLocked(name); err != nil {
		return err
	}
	s.subs[name] = sub
	return nil
}

// holds reports whether the session holds sub as its subscription to name.
func (s *session) holds(name string, sub subscription) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subs[name] == sub
}

// dropSub forgets a subscription the instance ended (a deleted store).
// Called with the instance's lock held.
func (s *session) dropSub(name string, sub subscription) {
	s.mu.Lock()
	if s.subs[name] == sub {
		delete(s.subs, name)
		s.srv.opts.obs.unsubscribed(sub)
	}
	s.mu.Unlock()
}

func (s *session) unsubscribe(name string) {
	s.mu.Lock()
	sub, ok := s.subs[name]
	delete(s.subs, name)
	s.mu.Unlock()
	if ok {
		s.left(name, sub)
	}
}

// left ends a subscription the session let go of.
func (s *session) left(name string, sub subscription) {
	sub.unsubscribe(s)
	s.srv.opts.obs.unsubscribed(sub)
	if p := s.srv.presence.Load(); p != nil {
		p.leave(name, s.caller)
	}
	s.srv.listeners.unsubscribed(name, s.caller)
}

func (s *session) dropAll() {
	s.mu.Lock()
	subs := s.subs
	s.subs = map[string]subscription{}
	s.mu.Unlock()
	for name, sub := range subs {
		s.left(name, sub)
	}
}
