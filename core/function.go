package hotstate

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/hotstate/hotstate/core/wire"
)

// HandlerFunc is an untyped function handler: args is the decoded argument
// tree (map[string]any, []any, string, bool, nil, int64, uint64 or float64)
// and the result is encoded like encoding/json would encode it.
type HandlerFunc func(ctx context.Context, args any) (any, error)

// handler is what every registered function becomes: raw arguments in, a
// value to encode out.
type handler func(ctx context.Context, args []byte) (any, error)

// errBadArgs marks argument decoding failures so they get the bad_args code.
var errBadArgs = errors.New("hotstate: arguments do not match")

// badArgs marks err, a *wire.ArgsError, for callError. The caller is told
// only the ArgsError's own message; the decoder's error behind it names Go
// types and fields, or says whatever an UnmarshalJSON method said, so it
// goes to the log instead, where the function's author can find it.
func (s *Server) badArgs(ctx context.Context, name string, err error) error {
	client := ""
	if c, ok := CallerFrom(ctx); ok {
		client = c.ID
	}
	s.logger().Debug("hotstate: bad arguments", "function", name, "client", client, "err", errors.Unwrap(err), "sent", err.Error())
	return fmt.Errorf("%w: %w", errBadArgs, err)
}

// HandleFunc registers an untyped function under name. It panics if the name
// is empty or already taken, like http.ServeMux does for patterns.
func (s *Server) HandleFunc(name string, fn HandlerFunc, opts ...FuncOption) {
	if fn == nil {
		panic("hotstate: function " + name + " has no handler")
	}
	s.register(name, opts, nil, nil, func(ctx context.Context, raw []byte) (any, error) {
		var args any
		if err := wire.DecodeArgs(raw, &args); err != nil {
			return nil, s.badArgs(ctx, name, err)
		}
		return fn(ctx, args)
	})
}

// Handle registers a typed function under name: the caller's arguments are
// decoded into A with the rules of encoding/json, and the R it returns is
// sent back. It panics if the name is empty or already taken.
func Handle[A, R any](s *Server, name string, fn func(ctx context.Context, args A) (R, error), opts ...FuncOption) {
	if fn == nil {
		panic("hotstate: function " + name + " has no handler")
	}
	s.register(name, opts, reflect.TypeFor[A](), reflect.TypeFor[R](), func(ctx context.Context, raw []byte) (any, error) {
		var args A
		if len(raw) > 0 {
			if err := wire.DecodeArgs(raw, &args); err != nil {
				return nil, s.badArgs(ctx, name, err)
			}
		}
		return fn(ctx, args)
	})
}

func (s *Server) register(name string, opts []FuncOption, args, result reflect.Type, h handler) {
	if name == "" {
		panic("hotstate: function needs a name")
	}
	fn := &function{call: h, args: args, result: result}
	for _, o := range opts {
		o.applyFunc(fn)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.funcs[name]; dup {
		panic(fmt.Errorf("%w: function %q", ErrDuplicate, name))
	}
	s.funcs[name] = fn
}

func (s *Server) function(name string) (*function, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	h, ok := s.funcs[name]
	return h, ok
}

// call starts a function call without blocking the reader; at most
// maxInflight run at once per session.
func (s *session) call(f wire.Frame) {
	if len(f.Name) > s.srv.opts.maxNameLen {
		s.fail(f.ID, wire.CodeNameTooLong, fmt.Sprintf("function name longer than %d bytes", s.srv.opts.maxNameLen))
		return
	}
	fn, ok := s.srv.function(f.Name)
	if !ok {
		s.fail(f.ID, wire.CodeUnknownFunction, fmt.Sprintf("unknown function %q", f.Name))
		return
	}
	if !s.srv.permits(func() bool { return fn.allow(s.caller) }, fn.allow != nil) {
		s.fail(f.ID, errForbidden.Code, errForbidden.Message)
		return
	}
	if !s.funcBucket(f.Name, fn).take(time.Now()) {
		s.fail(f.ID, wire.CodeRateLimited, fmt.Sprintf("function %q is over its rate limit", f.Name))
		return
	}
	select {
	case s.calls <- struct{}{}:
	default:
		s.fail(f.ID, wire.CodeBusy, fmt.Sprintf("more than %d calls in flight", cap(s.calls)))
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.calls }()
		s.answer(f.Name, f.ID, fn.call, f.Value)
	}()
}

// answer runs one call and sends its res frame.
func (s *session) answer(name string, id uint64, h handler, args []byte) {
	start := s.srv.opts.obs.start()
	frame, code := s.result(id, h, args)
	s.srv.opts.obs.called(name, start, code, s.caller.ID)
	s.w.sendNow(frame)
}

// result runs one call and returns its res frame and the code its caller
// is told, "ok" for a result.
func (s *session) result(id uint64, h handler, args []byte) (frame []byte, code string) {
	result, err := s.invoke(s.callCtx, h, args)
	if err != nil {
		e := callError(err)
		return wire.EncodeFailure(id, e), e.Code
	}
	frame, err = wire.EncodeResult(id, result)
	if err != nil {
		s.srv.listeners.failed(fmt.Errorf("hotstate: encoding a result: %w", err), s.caller.ID)
		return wire.EncodeFailure(id, internalError), internalError.Code
	}
	return frame, "ok"
}

// callError is what the caller of a failed function is told: the code and
// message of an *Error, bad_args with a message in JSON terms for arguments
// that do not decode, a bare internal error for a panic, unavailable or
// busy for an engine's failure, and the error's text otherwise.
func callError(err error) wire.Error {
	var e *Error
	var args *wire.ArgsError
	switch {
	case errors.As(err, &e):
		return wire.Error{Code: e.Code, Message: e.Message}
	case errors.Is(err, errBadArgs) && errors.As(err, &args):
		return wire.Error{Code: wire.CodeBadArgs, Message: args.Error()}
	case errors.Is(err, errBadArgs):
		return wire.Error{Code: wire.CodeBadArgs, Message: "arguments do not match"}
	case errors.Is(err, errPanicked):
		return internalError
	}
	if e, ok := engineError(err); ok {
		return e
	}
	return wire.Error{Code: wire.CodeError, Message: err.Error()}
}

// engineError is what a client is told of an engine's failure: that the
// stores are unavailable, or that one changes too fast to get a word in,
// both worth trying again; never the engine's own words.
func engineError(err error) (wire.Error, bool) {
	switch {
	case errors.Is(err, ErrUnavailable):
		return wire.Error{Code: wire.CodeUnavailable, Message: "stores are unavailable; try again"}, true
	case errors.Is(err, ErrConflict):
		return wire.Error{Code: wire.CodeBusy, Message: "the store is changing too fast; try again"}, true
	}
	return wire.Error{}, false
}

var errPanicked = errors.New("hotstate: handler panicked")

// internalError is all a client learns of a panic or a result that could
// not be encoded.
var internalError = wire.Error{Code: wire.CodeInternal, Message: "internal server error"}

// invoke calls h and turns a panic into errPanicked, logging the value
// instead of sending it anywhere.
func (s *session) invoke(ctx context.Context, h handler, args []byte) (result any, err error) {
	defer func() {
		if v := recover(); v != nil {
			s.srv.panicked(v, s.caller)
			result, err = nil, errPanicked
		}
	}()
	return h(ctx, args)
}

// funcBucket returns this session's bucket for a rate-limited function.
func (s *session) funcBucket(name string, fn *function) *bucket {
	if fn.rate <= 0 {
		return nil
	}
	b, ok := s.funcLimits[name]
	if !ok {
		b = newBucket(fn.rate, fn.burst)
		s.funcLimits[name] = b
	}
	return b
}

func (s *session) fail(id uint64, code, msg string) {
	s.srv.opts.obs.refused(code)
	s.w.push(wire.EncodeFailure(id, wire.Error{Code: code, Message: msg}))
}
