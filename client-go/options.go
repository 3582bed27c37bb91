package hotclient

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// Option configures a Client. Options are values of an interface with an
// unexported method, so the set can grow without breaking anyone.
type Option interface {
	apply(*options)
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	reconnect      bool
	reconnectDelay time.Duration
	reconnectMax   time.Duration
	rpcTimeout     time.Duration
	dialTimeout    time.Duration
	readLimit      int64
	logger         *slog.Logger
	header         http.Header
	dialOptions    *websocket.DialOptions
}

func defaultOptions() options {
	return options{
		reconnect:      true,
		reconnectDelay: time.Second,
		reconnectMax:   10 * time.Second,
		rpcTimeout:     10 * time.Second,
		dialTimeout:    10 * time.Second,
		readLimit:      16 << 20,
		logger:         slog.New(slog.DiscardHandler),
	}
}

// WithReconnect turns automatic reconnection on or off. It is on by
// default; when off, the client stops for good after its first connection
// ends or fails.
func WithReconnect(on bool) Option {
	return optionFunc(func(o *options) { o.reconnect = on })
}

// WithReconnectDelay sets the base of the exponential backoff between
// reconnection attempts; the default is 1 s. Each wait is drawn uniformly
// from zero up to base·2^attempt, capped by WithReconnectMax (full jitter),
// so a crowd of clients does not return in lockstep.
func WithReconnectDelay(d time.Duration) Option {
	return optionFunc(func(o *options) {
		if d > 0 {
			o.reconnectDelay = d
		}
	})
}

// WithReconnectMax caps the backoff between reconnection attempts; the
// default is 10 s.
func WithReconnectMax(d time.Duration) Option {
	return optionFunc(func(o *options) {
		if d > 0 {
			o.reconnectMax = d
		}
	})
}

// WithRPCTimeout sets how long Call waits for an answer, including any
// wait for the connection, before it fails with ErrRPCTimeout; the default
// is 10 s. The context passed to Call can end it sooner.
func WithRPCTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) {
		if d > 0 {
			o.rpcTimeout = d
		}
	})
}

// WithDialTimeout bounds one connection attempt, from the TCP dial to the
// server's hello; the default is 10 s.
func WithDialTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) {
		if d > 0 {
			o.dialTimeout = d
		}
	})
}

// WithReadLimit sets the largest message the client accepts from the
// server, in bytes; the default is 16 MiB. A snapshot is one message, so
// the limit must exceed the encoded size of the largest store state.
func WithReadLimit(n int64) Option {
	return optionFunc(func(o *options) {
		if n > 0 {
			o.readLimit = n
		}
	})
}

// WithLogger sets the logger for connection failures and frames the client
// could not use. By default nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) {
		if l != nil {
			o.logger = l
		}
	})
}

// WithHeader adds HTTP headers to every handshake, such as an
// Authorization header. Headers set here win over those of
// WithDialOptions.
func WithHeader(h http.Header) Option {
	return optionFunc(func(o *options) {
		if o.header == nil {
			o.header = http.Header{}
		}
		for k, v := range h {
			o.header[k] = append([]string(nil), v...)
		}
	})
}

// WithDialOptions sets the options of every websocket.Dial, for a custom
// HTTP client (TLS, proxies, cookies) or subprotocols. The client copies
// them and never changes the value passed.
func WithDialOptions(d *websocket.DialOptions) Option {
	return optionFunc(func(o *options) { o.dialOptions = d })
}

// dial returns the websocket.DialOptions of one attempt.
func (o *options) dial() *websocket.DialOptions {
	var d websocket.DialOptions
	if o.dialOptions != nil {
		d = *o.dialOptions
	}
	if len(o.header) > 0 {
		h := d.HTTPHeader.Clone()
		if h == nil {
			h = http.Header{}
		}
		for k, v := range o.header {
			h[k] = v
		}
		d.HTTPHeader = h
	}
	return &d
}
