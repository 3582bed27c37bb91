package hotredis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/redis/go-redis/v9"
)

// ErrUnavailable is returned, wrapped, by the engine's calls while Redis
// cannot be reached. It wraps hotstate.ErrUnavailable, so callers of the
// server's functions are told "unavailable" and clients try again.
var ErrUnavailable = fmt.Errorf("hotstate: redis: unreachable: %w", hotstate.ErrUnavailable)

// down marks the errors that mean Redis cannot be reached, or cannot
// answer yet (loading its data after a restart), with
// hotstate.ErrUnavailable, so that callers are told to try again rather
// than shown the failure.
func down(err error) error {
	if unreachable(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// unreachable reports whether err means that Redis did not answer.
func unreachable(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, redis.ErrClosed) ||
		strings.HasPrefix(err.Error(), "LOADING") || strings.Contains(err.Error(), "connection pool timeout")
}

// Failing fast. A call to a Redis that stopped answering waits for
// go-redis's timeouts and retries (seconds with its defaults), and every
// call meanwhile would wait as long. So the first call that finds Redis
// unreachable takes the engine offline: until a PING is answered again,
// the engine's calls fail at once with ErrUnavailable and send nothing.
// Background work (watchers catching up, the heartbeat) keeps trying on
// its own, and go-redis's Pub/Sub reconnects by itself.
const (
	// probeEvery is how often an offline engine asks Redis whether it is
	// back, so calls resume at most this long after it is.
	probeEvery = 100 * time.Millisecond
	// probeTimeout bounds one PING.
	probeTimeout = time.Second
)

// down classifies err from a call made with ctx and, when it means Redis
// is unreachable, takes the engine offline. An error the caller's own
// deadline or cancellation caused says nothing about Redis.
func (e *Engine) down(ctx context.Context, err error) error {
	// An append too few replicas confirmed is unavailable, yet Redis
	// answered: only silence takes the engine offline.
	if unreachable(err) && ctx.Err() == nil && e.offline.CompareAndSwap(false, true) {
		if !e.spawn(e.probe) {
			e.offline.Store(false)
		}
	}
	return down(err)
}

// online returns nil while the engine believes Redis reachable, else
// ErrUnavailable naming the call that was not made.
func (e *Engine) online(op, name string) error {
	if !e.offline.Load() {
		return nil
	}
	return fmt.Errorf("%w: %s %q not sent", ErrUnavailable, op, name)
}

// probe pings Redis until it answers, then brings the engine back online.
func (e *Engine) probe() {
	e.every(probeEvery, func() bool {
		ctx, cancel := context.WithTimeout(e.ctx, probeTimeout)
		defer cancel()
		if e.rdb.Ping(ctx).Err() != nil {
			return false
		}
		e.offline.Store(false)
		return true
	})
}
