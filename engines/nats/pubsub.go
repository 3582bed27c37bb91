package hotnats

import (
	"context"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
)

// Publish implements hotstate.Engine with a core NATS publish on the
// channel's subject: a message reaches the nodes listening when it is
// published, and no other; nothing is stored.
func (e *Engine) Publish(_ context.Context, channel string, msg []byte) error {
	if err := e.connected("publish on", channel); err != nil {
		return err
	}
	if err := e.nc.Publish(e.msgSubject(channel), msg); err != nil {
		return fmt.Errorf("hotstate: nats: publish on %q: %w", channel, err)
	}
	return nil
}

// listener is one Listen call.
type listener struct {
	fn func([]byte)
	// mu is held while fn runs and guards stopped, so that stop returns
	// only once fn is done and will not be called again.
	mu      sync.Mutex
	stopped bool
}

func (l *listener) deliver(m *nats.Msg) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.fn(m.Data)
	}
}

// Listen implements hotstate.Engine with a core NATS subscription, which
// the client library renews on every reconnection. It returns once the
// server has the subscription (a flush), unless the connection is down.
// fn runs on the subscription's goroutine, one call at a time; stop must
// not be called from fn.
func (e *Engine) Listen(channel string, fn func(msg []byte)) (stop func()) {
	l := &listener{fn: fn}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return func() {}
	}
	sub, err := e.nc.Subscribe(e.msgSubject(channel), l.deliver)
	if err != nil {
		e.mu.Unlock()
		e.log.Warn("hotstate: nats: listen", "channel", channel, "err", err)
		return func() {}
	}
	if e.listeners == nil {
		e.listeners = map[*listener]*nats.Subscription{}
	}
	e.listeners[l] = sub
	e.mu.Unlock()
	if e.nc.IsConnected() {
		if err := e.nc.FlushTimeout(opTimeout); err != nil {
			e.log.Warn("hotstate: nats: listen not confirmed", "channel", channel, "err", err)
		}
	}
	return func() {
		e.mu.Lock()
		delete(e.listeners, l)
		e.mu.Unlock()
		l.stop(sub)
	}
}

func (l *listener) stop(sub *nats.Subscription) {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
	_ = sub.Unsubscribe()
}

// stopListeners stops every listen still running, for Close.
func (e *Engine) stopListeners() {
	e.mu.Lock()
	ls := e.listeners
	e.listeners = nil
	e.mu.Unlock()
	for l, sub := range ls {
		l.stop(sub)
	}
}
