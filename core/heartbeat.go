package hotstate

import (
	"context"
	"sync"
	"time"

	"github.com/hotstate/hotstate/core/wire"
)

// heartbeat pings one session's peer every interval. It holds no goroutine
// between pings: a timer starts one when a ping is due, and it ends when the
// pong arrives, which keeps an idle connection to its reader and writer.
type heartbeat struct {
	s     *session
	every time.Duration
	wg    sync.WaitGroup // a ping in flight

	mu sync.Mutex // guards timer's assignment and stopped
	// timer is set under mu, so a ping due before startHeartbeat returned
	// still sees it.
	timer   *time.Timer
	stopped bool
}

func startHeartbeat(s *session, every time.Duration) *heartbeat {
	h := &heartbeat{s: s, every: every}
	h.mu.Lock()
	h.timer = time.AfterFunc(every, h.ping)
	h.mu.Unlock()
	return h
}

func (h *heartbeat) ping() {
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return
	}
	h.wg.Add(1)
	h.mu.Unlock()
	defer h.wg.Done()

	ctx, cancel := context.WithTimeout(h.s.ctx, h.every)
	err := h.s.conn.Ping(ctx)
	cancel()
	if err != nil {
		if h.s.ctx.Err() == nil {
			h.s.w.close(wire.CloseHeartbeat, "heartbeat timeout", true)
		}
		return
	}
	h.timer.Reset(h.every)
}

// stop ends the heartbeat and waits for a ping in flight; the session's
// context must be cancelled first so that ping returns at once. A nil
// heartbeat (heartbeats off) stops trivially.
func (h *heartbeat) stop() {
	if h == nil {
		return
	}
	h.mu.Lock()
	h.stopped = true
	h.mu.Unlock()
	h.timer.Stop()
	h.wg.Wait()
}
