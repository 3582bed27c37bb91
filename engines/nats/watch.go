package hotnats

import (
	"context"
	"sync"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/nats-io/nats.go/jetstream"
)

// A watcher reads its instance's subject through an ordered consumer:
// the client library numbers what the server delivers, and on a gap (a
// message lost in flight), a missed heartbeat or a reconnection it makes
// a new consumer that starts after the last message delivered. So every
// stored change reaches fn once, in stream order, which is log order;
// messages refused by a conditional publish are never stored and never
// seen. Only changes the stream itself dropped (more than WithMaxChanges
// behind while the watcher could not read) are skipped, and the jump in
// version tells the caller to catch up with Since or Load.

// watcher is one Watch call.
type watcher struct {
	e    *Engine
	name string
	fn   func(hotstate.Change)

	// mu guards stopped and cc, and is held while fn runs, so that stop
	// returns only once fn is done and will not be called again.
	mu      sync.Mutex
	stopped bool
	cc      jetstream.ConsumeContext
}

// watchRetry is the first wait between attempts to start a watch while
// the server is unreachable; it doubles up to five seconds.
const watchRetry = 100 * time.Millisecond

// Watch implements hotstate.Engine. It reads where the instance's subject
// ends and makes a consumer starting after it before it returns. When the server cannot
// be reached, Watch returns anyway and keeps trying in the background;
// the consumer it makes then starts with the instance's latest stored
// change, which may predate the call: the caller skips what it has.
//
// fn runs on a goroutine of the client library, one call at a time; stop
// must not be called from fn.
func (e *Engine) Watch(name string, fn func(hotstate.Change)) (stop func()) {
	w := &watcher{e: e, name: name, fn: fn}
	if !e.addWatcher(w) {
		return func() {}
	}
	if err := w.start(false); err != nil {
		e.log.Warn("hotstate: nats: watch", "name", name, "err", err)
		e.spawn(w.retry)
	}
	return func() {
		w.stop()
		e.removeWatcher(w)
	}
}

// start makes the watcher's consumer and starts consuming after the
// subject's last message, or with it when withLast is set.
//
// The start is a sequence read first rather than the "deliver new"
// policy: the library makes a new consumer with the same policy when it
// resets one that has delivered nothing yet, and "new" then would skip
// what was stored in between.
func (w *watcher) start(withLast bool) error {
	if err := w.e.connected("watch", w.name); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(w.e.ctx, opTimeout)
	defer cancel()
	from := uint64(1)
	last, ok, err := w.e.lastStored(ctx, w.name)
	switch {
	case err != nil:
		return err
	case ok && withLast:
		from = last.seq
	case ok:
		from = last.seq + 1
	}
	cons, err := w.e.logs.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{w.e.logSubject(w.name)},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    from,
	})
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return nil
	}
	cc, err := cons.Consume(w.deliver, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		w.e.log.Debug("hotstate: nats: watch", "name", w.name, "err", err)
	}))
	if err != nil {
		return err
	}
	w.cc = cc
	return nil
}

// retry starts the watcher once the server answers.
func (w *watcher) retry() {
	wait := watchRetry
	for {
		select {
		case <-w.e.ctx.Done():
			return
		case <-time.After(wait):
		}
		w.mu.Lock()
		stopped := w.stopped
		w.mu.Unlock()
		if stopped {
			return
		}
		err := w.start(true)
		if err == nil {
			return
		}
		w.e.log.Debug("hotstate: nats: watch", "name", w.name, "err", err)
		wait = min(2*wait, 5*time.Second)
	}
}

func (w *watcher) deliver(m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		w.e.log.Warn("hotstate: nats: watch", "name", w.name, "err", err)
		return
	}
	s, err := parseStored(m.Headers(), m.Data(), md.Sequence.Stream)
	if err != nil {
		w.e.log.Warn("hotstate: nats: watch", "name", w.name, "err", err)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.fn(s.Change)
	}
}

// stop ends the consumer and waits, for a while, until the library's
// goroutines for it are done.
func (w *watcher) stop() {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	w.stopped = true
	cc := w.cc
	w.mu.Unlock()
	if cc == nil {
		return
	}
	cc.Stop()
	select {
	case <-cc.Closed():
	case <-time.After(opTimeout):
	}
}

func (e *Engine) addWatcher(w *watcher) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	if e.watchers == nil {
		e.watchers = map[*watcher]struct{}{}
	}
	e.watchers[w] = struct{}{}
	return true
}

func (e *Engine) removeWatcher(w *watcher) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.watchers, w)
}

// stopWatchers stops every watch still running, for Close.
func (e *Engine) stopWatchers() {
	e.mu.Lock()
	ws := make([]*watcher, 0, len(e.watchers))
	for w := range e.watchers {
		ws = append(ws, w)
	}
	e.watchers = nil
	e.mu.Unlock()
	for _, w := range ws {
		w.stop()
	}
}
