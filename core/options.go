package hotstate

import (
	"io"
	"log/slog"
	"time"
)

// Option configures a Server. Options are values of an interface with an
// unexported method so the set can grow without breaking callers.
type Option interface {
	apply(*options)
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// options holds every setting of a Server; defaults come from defaultOptions.
type options struct {
	logger        *slog.Logger
	heartbeat     time.Duration
	maxFrameBytes int
	maxQueueBytes int
	maxInflight   int
	maxSubs       int
	maxNameLen    int
	writeTimeout  time.Duration
	historyCount  int
	historyBytes  int
	denyByDefault bool
	rate          float64
	burst         int
	engine        Engine
	// shared is set when the engine came from WithEngine, so other
	// servers may share it.
	shared    bool
	saveQuiet time.Duration
	saveMax   time.Duration
	obs       *Observer // nil unless WithObserver
}

func defaultOptions() options {
	return options{
		logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		heartbeat:     30 * time.Second,
		maxFrameBytes: 64 << 10,
		maxQueueBytes: 4 << 20,
		maxInflight:   32,
		maxSubs:       128,
		maxNameLen:    256,
		writeTimeout:  10 * time.Second,
		historyCount:  256,
		historyBytes:  256 << 10,
		saveQuiet:     2 * time.Second,
		saveMax:       10 * time.Second,
	}
}

// WithLogger sets the logger for connection failures, handler panics and
// listener panics. The default discards everything.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) {
		if l != nil {
			o.logger = l
		}
	})
}

// WithHeartbeat sets how often the server pings each client; a client that
// has not answered by the next ping is closed with 4001. The default is 30 s;
// 0 disables heartbeats.
func WithHeartbeat(d time.Duration) Option {
	return optionFunc(func(o *options) { o.heartbeat = max(d, 0) })
}

// WithMaxFrameBytes sets the largest inbound message; a larger one closes the
// connection with 1009. The default is 64 KiB. Transports read it back with
// Server.MaxFrameBytes to configure their WebSocket read limit.
func WithMaxFrameBytes(n int) Option {
	return optionFunc(func(o *options) {
		if n > 0 {
			o.maxFrameBytes = n
		}
	})
}

// WithMaxQueueBytes sets how many bytes may wait to be written to one client,
// behind the oldest queued frame, before it is closed as a slow consumer
// (4000). The oldest frame is not counted, so one frame larger than the
// limit (a big snapshot) still reaches a client that keeps up. The default
// is 4 MiB.
func WithMaxQueueBytes(n int) Option {
	return optionFunc(func(o *options) {
		if n > 0 {
			o.maxQueueBytes = n
		}
	})
}

// WithMaxInflight sets how many function calls one connection may have
// running at once; further calls fail at once with the code "busy". The
// default is 32.
func WithMaxInflight(n int) Option {
	return optionFunc(func(o *options) {
		if n > 0 {
			o.maxInflight = n
		}
	})
}

// WithMaxSubscriptions sets how many stores one connection may subscribe to.
// The default is 128.
func WithMaxSubscriptions(n int) Option {
	return optionFunc(func(o *options) {
		if n > 0 {
			o.maxSubs = n
		}
	})
}

// WithMaxNameLength sets the longest store or function name, in bytes, a
// client may send. The default is 256.
func WithMaxNameLength(n int) Option {
	return optionFunc(func(o *options) {
		if n > 0 {
			o.maxNameLen = n
		}
	})
}

// WithWriteTimeout bounds one write to a client; a client that takes longer
// is closed. The default is 10 s.
func WithWriteTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) {
		if d > 0 {
			o.writeTimeout = d
		}
	})
}

// WithHistory sets how many recent patches, and how many bytes of them,
// each store instance keeps so a reconnecting client can resume with the
// patches it missed instead of a snapshot. The default is 256 patches and
// 256 KiB; a count of 0 turns resuming off (clients always get snapshots).
func WithHistory(count, bytes int) Option {
	return optionFunc(func(o *options) {
		o.historyCount, o.historyBytes = max(count, 0), max(bytes, 0)
	})
}

// WithEngine commits every change of every store through e, which keeps
// the stores' logs and carries changes between nodes that share them. The
// default is a MemoryEngine: everything in this process, as many changes
// kept per instance as WithHistory says (at least 256 and 256 KiB).
func WithEngine(e Engine) Option {
	return optionFunc(func(o *options) { o.engine = e })
}
