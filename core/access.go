package hotstate

import (
	"reflect"

	"github.com/hotstate/hotstate/core/wire"
)

// FuncOption configures one function at registration.
type FuncOption interface {
	applyFunc(*function)
}

type funcOptionFunc func(*function)

func (f funcOptionFunc) applyFunc(fn *function) { f(fn) }

// function is a registered function with its access rules.
type function struct {
	call  handler
	allow func(c Caller) bool
	rate  float64
	burst int
	// args and result are Handle's A and R, for Schema; nil for HandleFunc.
	args, result reflect.Type
}

// AllowCalls admits only callers of the function for which allow returns
// true; the others get the code "forbidden". The caller carries the
// identity the transport's authentication produced. (Stores have their own
// rule: Store.Allow and Family.Allow.)
func AllowCalls(allow func(c Caller) bool) FuncOption {
	return funcOptionFunc(func(fn *function) { fn.allow = allow })
}

// LimitCalls limits each connection to perSecond calls of this function,
// with bursts of up to burst; calls beyond it get the code "rate_limited".
// (WithRateLimit limits every frame of a connection.)
func LimitCalls(perSecond float64, burst int) FuncOption {
	return funcOptionFunc(func(fn *function) { fn.rate, fn.burst = perSecond, burst })
}

// WithDenyByDefault refuses every subscription and call that no Allow rule
// admits: a store or function without one is closed to everyone until it
// gets one.
func WithDenyByDefault() Option {
	return optionFunc(func(o *options) { o.denyByDefault = true })
}

// WithRateLimit limits every connection to perSecond inbound frames with
// bursts of up to burst; a frame beyond it is not acted on and refused with
// "rate_limited" where its sender waits: a call gets its res, a
// subscription an err naming its store. The default is no limit.
func WithRateLimit(perSecond float64, burst int) Option {
	return optionFunc(func(o *options) { o.rate, o.burst = perSecond, burst })
}

// permits applies an Allow rule, or the server's default where there is none.
func (s *Server) permits(rule func() bool, defined bool) bool {
	if !defined {
		return !s.opts.denyByDefault
	}
	return rule()
}

var errForbidden = &Error{Code: wire.CodeForbidden, Message: "not allowed"}
