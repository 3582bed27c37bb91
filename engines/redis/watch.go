package hotredis

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/redis/go-redis/v9"
)

// Pub/Sub drops what is published while a connection is down, so a
// watcher never trusts it to hold every change: the stream, read from the
// last version delivered, is what the watcher falls back on. A wake-up
// (a notice) says which change was appended after which, and carries the
// change's frame when it is small: a watcher just before that change
// delivers it from the notice, and so does a watcher on the node that
// appended it, from Append; any other watcher reads the stream. A lost
// wake-up delays changes until the next one (every resubscription is
// one); it never loses them.

// channelSubs is what listens on one Pub/Sub channel: the watchers of one
// instance, or the listeners of one Publish channel. Both slices are
// replaced, never changed in place, so the reader may use them unlocked.
type channelSubs struct {
	watchers  []*watcher
	listeners []*listener
	// acked is closed when Redis confirms the subscription.
	acked chan struct{}
}

// subscribeWait bounds how long Watch and Listen wait for Redis to confirm
// a subscription. Past it they return anyway; go-redis keeps subscribing.
const subscribeWait = 5 * time.Second

// join adds a watcher or a listener to channel ch through add, subscribing
// first if nobody on this node listened there, and returns once Redis has
// confirmed the subscription, so that nothing published after is missed.
func (e *Engine) join(ch string, add func(*channelSubs)) {
	e.subMu.Lock()
	defer e.subMu.Unlock()
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	s := e.subs[ch]
	fresh := s == nil
	if fresh {
		s = &channelSubs{acked: make(chan struct{})}
		e.subs[ch] = s
	}
	add(s)
	ps, acked := e.pubsubLocked(), s.acked
	e.mu.Unlock()
	if !fresh {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), subscribeWait)
	defer cancel()
	// On an error go-redis still records the channel and subscribes when
	// it reconnects; the confirmation then wakes the watchers.
	if err := ps.Subscribe(ctx, ch); err != nil {
		e.log.Warn("hotstate: redis: subscribe", "channel", ch, "err", err)
		return
	}
	select {
	case <-acked:
	case <-ctx.Done():
		e.log.Warn("hotstate: redis: subscription not confirmed", "channel", ch)
	case <-e.ctx.Done():
	}
}

// leave removes what remove removes from channel ch, and leaves the
// channel when nothing of this node listens there any more.
func (e *Engine) leave(ch string, remove func(*channelSubs)) {
	e.subMu.Lock()
	defer e.subMu.Unlock()
	e.mu.Lock()
	s := e.subs[ch]
	if s == nil {
		e.mu.Unlock()
		return
	}
	remove(s)
	empty := len(s.watchers) == 0 && len(s.listeners) == 0
	if empty {
		delete(e.subs, ch)
	}
	ps, closed := e.ps, e.closed
	e.mu.Unlock()
	if empty && ps != nil && !closed {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if err := ps.Unsubscribe(ctx, ch); err != nil {
			e.log.Warn("hotstate: redis: unsubscribe", "channel", ch, "err", err)
		}
	}
}

// pubsubLocked returns the engine's one Pub/Sub connection, opening it and
// starting its reader on first use, so an engine nobody watches through
// holds no connection.
func (e *Engine) pubsubLocked() *redis.PubSub {
	if e.ps != nil {
		return e.ps
	}
	e.ps = e.rdb.Subscribe(context.Background())
	msgs := e.ps.ChannelWithSubscriptions(redis.WithChannelSize(1024))
	e.wg.Go(func() { e.read(msgs) }) // under mu: Close has not begun waiting
	return e.ps
}

// read dispatches what the Pub/Sub connection receives until Close closes
// it.
func (e *Engine) read(msgs <-chan any) {
	for m := range msgs {
		switch m := m.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			e.mu.Lock()
			s := e.subs[m.Channel]
			var ws []*watcher
			if s != nil {
				if s.acked != nil {
					close(s.acked)
					s.acked = nil
				}
				ws = s.watchers
			}
			e.mu.Unlock()
			// A subscription confirmed again follows a lost connection,
			// whose wake-ups are lost: read the streams now.
			for _, w := range ws {
				w.wake()
			}
		case *redis.Message:
			// The slices are replaced, never changed in place: taken
			// under the lock, they may be used without it.
			e.mu.Lock()
			var watchers []*watcher
			var listeners []*listener
			if s := e.subs[m.Channel]; s != nil {
				watchers, listeners = s.watchers, s.listeners
			}
			e.mu.Unlock()
			if len(watchers) > 0 {
				n, ok := parseNotice(m.Payload)
				switch {
				case !ok: // not ours to read: read the stream
					for _, w := range watchers {
						w.wake()
					}
				case !e.leftToAppend(n.nonce):
					for _, w := range watchers {
						w.offer(&n)
					}
				}
			}
			for _, l := range listeners {
				l.deliver([]byte(m.Payload))
			}
		}
	}
}

// maxNoticeFrame is the largest frame a wake-up carries: larger ones are
// read from the stream, which keeps Pub/Sub messages to every node small.
const maxNoticeFrame = 4 << 10

// notice is a wake-up: the change that took the stream from one place to
// the next, with its frame when frame is set. Its head travels as text,
// "h1 <from epoch> <from next> <to epoch> <to next> <epoch> <version>
// <nonce>", then a newline and the frame when the frame is small enough.
type notice struct {
	// from is the zero place when the change follows no change (a new
	// instance): a watcher then reads the stream.
	from, to place
	change   hotstate.Change
	frame    bool
	// nonce names the Append that wrote the change.
	nonce string
}

// head is the notice without its frame, which the append script adds.
func (n *notice) head() string {
	return strings.Join([]string{"h1",
		u(n.from.epoch), u(n.from.next), u(n.to.epoch), u(n.to.next),
		u(n.change.Epoch), u(n.change.Version), n.nonce}, " ")
}

// parseNotice reads a wake-up; ok is false for anything else, such as the
// bare stream id earlier versions published, after which the watchers
// read the stream.
func parseNotice(msg string) (n notice, ok bool) {
	head, frame, hasFrame := strings.Cut(msg, "\n")
	f := strings.Split(head, " ")
	if len(f) != 8 || f[0] != "h1" {
		return notice{}, false
	}
	var nums [6]uint64
	for i := range nums {
		v, err := strconv.ParseUint(f[i+1], 10, 64)
		if err != nil {
			return notice{}, false
		}
		nums[i] = v
	}
	n = notice{
		from:  place{nums[0], nums[1]},
		to:    place{nums[2], nums[3]},
		frame: hasFrame,
		nonce: f[7],
	}
	n.change.Epoch, n.change.Version = nums[4], nums[5]
	if hasFrame {
		n.change.Frame = []byte(frame)
	}
	return n, true
}

// pend records an append of this engine under way, before it can wake
// anyone.
func (e *Engine) pend(nonce string) {
	e.pmu.Lock()
	e.pending[nonce] = false
	e.pmu.Unlock()
}

// leftToAppend reports whether the wake-up of the append named nonce is
// left to that append, still under way on this engine, and notes that it
// came.
func (e *Engine) leftToAppend(nonce string) bool {
	e.pmu.Lock()
	defer e.pmu.Unlock()
	if _, ok := e.pending[nonce]; !ok {
		return false
	}
	e.pending[nonce] = true
	return true
}

// settle ends the append n names: when it appended, it offers the change
// to this node's watchers of the channel, which deliver it or read the
// stream, before the append stops being pending, so that the reader then
// finds them past it. Otherwise a wake-up left to it (the script may have
// run though Append failed) wakes the watchers.
func (e *Engine) settle(ch string, n *notice, appended bool) {
	if appended {
		for _, w := range e.watchers(ch) {
			w.offer(n)
		}
	}
	e.pmu.Lock()
	woke := e.pending[n.nonce]
	delete(e.pending, n.nonce)
	e.pmu.Unlock()
	if !appended && woke {
		for _, w := range e.watchers(ch) {
			w.wake()
		}
	}
}

// watchers returns this node's watchers on channel ch.
func (e *Engine) watchers(ch string) []*watcher {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s := e.subs[ch]; s != nil {
		return s.watchers
	}
	return nil
}

// place is where a watcher stands in a stream: the lifetime and the first
// version (of stream ids) it has not delivered.
type place struct{ epoch, next uint64 }

// reached reports whether a watcher at p has delivered what lies before q.
func (p place) reached(q place) bool { return p.epoch == q.epoch && p.next >= q.next }

// watcher follows one instance's stream for one Watch call.
type watcher struct {
	e    *Engine
	name string
	keys keys
	fn   func(hotstate.Change)

	// mu guards ready, running, again, stopped, known and at.
	mu sync.Mutex
	// ready is set once the watcher knows where the stream ended when
	// Watch was called; wake-ups before only set again.
	ready   bool
	running bool // a fetch goroutine runs
	again   bool // fetch once more: a wake-up came during the last
	stopped bool
	// known is false until the end of the stream at Watch time is read.
	known bool
	// at is past the last change delivered: the stream's entries of its
	// lifetime from its version on are what fn has not seen. Only a
	// delivery moves it on, from the place it was at (see advance).
	at place

	// deliverMu is held while fn runs, so that stop returns only once fn
	// is done and will not be called again.
	deliverMu sync.Mutex
}

// fetchBatch is how many entries one read of a stream returns at most.
const fetchBatch = 256

// Watch implements hotstate.Engine. A change appended through this engine
// reaches fn from Append itself, and one announced with its frame from
// the wake-up, when the watcher has delivered the change before it;
// otherwise changes come from the instance's stream, read from the last
// version delivered whenever its channel wakes the watcher. A watcher
// that falls further behind than the stream keeps (or than a deleted
// instance's stream stays) receives the next change the stream holds: the
// jump in version or epoch tells the caller to catch up with Since or
// Load.
//
// fn runs one call at a time, on a goroutine of the engine or in a call
// of Append on this engine, after the change is in the log; stop must not
// be called from fn.
func (e *Engine) Watch(name string, fn func(hotstate.Change)) (stop func()) {
	w := &watcher{e: e, name: name, keys: e.keys(name), fn: fn}
	e.join(w.keys.wake, func(s *channelSubs) {
		s.watchers = append(slices.Clip(s.watchers), w)
	})
	w.start()
	return func() {
		w.deliverMu.Lock()
		w.mu.Lock()
		w.stopped = true
		w.mu.Unlock()
		w.deliverMu.Unlock()
		e.leave(w.keys.wake, func(s *channelSubs) {
			s.watchers = slices.DeleteFunc(slices.Clone(s.watchers), func(x *watcher) bool { return x == w })
		})
	}
}

// start reads where the stream ends now, after the subscription: anything
// appended later both wakes the watcher and lies after that end.
func (w *watcher) start() {
	ctx, cancel := context.WithTimeout(w.e.ctx, opTimeout)
	defer cancel()
	err := w.readEnd(ctx)
	w.mu.Lock()
	w.ready = true
	w.mu.Unlock()
	if err != nil {
		// fetch reads the end again; what was appended in between shows
		// up as a jump in version.
		w.e.log.Warn("hotstate: redis: watch", "name", w.name, "err", err)
	}
	// One fetch for what came between the subscription and now.
	w.wake()
}

// readEnd sets the watcher after the stream's last entry.
func (w *watcher) readEnd(ctx context.Context) error {
	last, err := w.e.rdb.XRevRangeN(ctx, w.keys.stream, "+", "-", 1).Result()
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.known = true
	if len(last) == 0 {
		return nil
	}
	c, err := changes(last)
	if err != nil {
		return err
	}
	w.at = place{c[0].Epoch, idVersion(last[0].ID) + 1}
	return nil
}

// wake has the watcher read its stream, starting a fetch goroutine unless
// one runs, which then reads once more.
func (w *watcher) wake() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.again = true
	if !w.ready || w.running || w.stopped {
		return
	}
	w.running = w.e.spawn(w.run)
}

func (w *watcher) run() {
	backoff := 50 * time.Millisecond
	for {
		w.mu.Lock()
		if !w.again || w.stopped {
			w.running = false
			w.mu.Unlock()
			return
		}
		w.again = false
		w.mu.Unlock()
		err := w.fetch()
		if err == nil {
			backoff = 50 * time.Millisecond
			continue
		}
		w.e.log.Warn("hotstate: redis: watch", "name", w.name, "err", err)
		// Nothing may wake the watcher again soon: retry on its own.
		w.mu.Lock()
		w.again = true
		w.mu.Unlock()
		select {
		case <-w.e.ctx.Done():
			w.mu.Lock()
			w.running = false
			w.mu.Unlock()
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// fetch delivers what the stream holds after the last change delivered.
func (w *watcher) fetch() error {
	ctx, cancel := context.WithTimeout(w.e.ctx, opTimeout)
	defer cancel()
	w.mu.Lock()
	known, at := w.known, w.at
	w.mu.Unlock()
	if !known {
		return w.readEnd(ctx)
	}
	read := at // where to read: at, or the start of a new lifetime
	for {
		var from, first *redis.XMessageSliceCmd
		_, err := w.e.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			from = p.XRangeN(ctx, w.keys.stream, u(read.next)+"-0", "+", fetchBatch)
			first = p.XRangeN(ctx, w.keys.stream, "-", "+", 1)
			return nil
		})
		if err != nil {
			return err
		}
		if len(first.Val()) == 0 {
			return nil // no stream: nothing created since, or gone
		}
		head, err := changes(first.Val())
		if err != nil {
			return err
		}
		if head[0].Epoch != read.epoch {
			// A new lifetime restarted the stream, ids and all: deliver
			// it from its beginning.
			read = place{head[0].Epoch, 0}
			continue
		}
		xs := from.Val()
		cs, err := changes(xs)
		if err != nil {
			return err
		}
		for i, c := range cs {
			to := place{read.epoch, idVersion(xs[i].ID) + 1}
			if at.reached(to) {
				continue // a notice delivered it
			}
			now, ok := w.advance(at, to, c)
			switch {
			case ok:
				at = to
			case now.reached(to):
				// A notice delivered it meanwhile.
				at = now
			default:
				// Stopped, or moved past what this read holds by a
				// notice: read again from there.
				w.mu.Lock()
				w.again = true
				w.mu.Unlock()
				return nil
			}
		}
		if len(xs) < fetchBatch {
			return nil
		}
		read = at
	}
}

// advance calls fn with c and moves the watcher to place to, if it is at
// place from and not stopped. Otherwise it returns where the watcher is.
func (w *watcher) advance(from, to place, c hotstate.Change) (place, bool) {
	w.deliverMu.Lock()
	defer w.deliverMu.Unlock()
	w.mu.Lock()
	if w.stopped || w.at != from {
		at := w.at
		w.mu.Unlock()
		return at, false
	}
	w.at = to
	w.mu.Unlock()
	w.fn(c)
	return to, true
}

// offer hands the watcher the change n announces: a watcher just before
// it delivers it, if n carries its frame; one past it does nothing; any
// other reads the stream.
func (w *watcher) offer(n *notice) {
	w.mu.Lock()
	known, at, stopped := w.known, w.at, w.stopped
	w.mu.Unlock()
	switch {
	case stopped || known && at.reached(n.to):
		return
	case known && n.frame && n.from != (place{}) && at == n.from:
		if _, ok := w.advance(n.from, n.to, n.change); ok {
			return
		}
		// Something moved it meanwhile: the stream knows.
	}
	w.wake()
}

// idVersion is the version in a stream id made by entryID.
func idVersion(id string) uint64 {
	ms, _, _ := strings.Cut(id, "-")
	v, _ := strconv.ParseUint(ms, 10, 64)
	return v
}

// listener is one Listen call.
type listener struct {
	fn func([]byte)
	// mu is held while fn runs and guards stopped, so that stop returns
	// only once fn is done and will not be called again.
	mu      sync.Mutex
	stopped bool
}

func (l *listener) deliver(msg []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.fn(msg)
	}
}

func (e *Engine) msgChannel(channel string) string { return e.prefix + ":msg:" + channel }

// Publish implements hotstate.Engine on a Pub/Sub channel: a message
// reaches the nodes listening when it is published, and no other.
func (e *Engine) Publish(ctx context.Context, channel string, msg []byte) error {
	if err := e.online("publish on", channel); err != nil {
		return err
	}
	ch := e.msgChannel(channel)
	var via redis.Cmdable = e.rdb
	if cc, ok := e.rdb.(*redis.ClusterClient); ok {
		// A Cluster client sends PUBLISH to any node, and each node relays
		// it to the others on its own bus: two messages sent through two
		// nodes may arrive in either order. Sent through the master of
		// the channel's slot, one channel's messages keep their order.
		node, err := cc.MasterForKey(ctx, ch)
		if err != nil {
			return fmt.Errorf("hotstate: redis: publish on %q: %w", channel, e.down(ctx, err))
		}
		via = node
	}
	if err := via.Publish(ctx, ch, msg).Err(); err != nil {
		return fmt.Errorf("hotstate: redis: publish on %q: %w", channel, e.down(ctx, err))
	}
	return nil
}

// Listen implements hotstate.Engine. fn runs on the engine's Pub/Sub
// reader, which it holds up while it runs; stop must not be called from
// fn.
func (e *Engine) Listen(channel string, fn func(msg []byte)) (stop func()) {
	l := &listener{fn: fn}
	ch := e.msgChannel(channel)
	e.join(ch, func(s *channelSubs) {
		s.listeners = append(slices.Clip(s.listeners), l)
	})
	return func() {
		l.mu.Lock()
		l.stopped = true
		l.mu.Unlock()
		e.leave(ch, func(s *channelSubs) {
			s.listeners = slices.DeleteFunc(slices.Clone(s.listeners), func(x *listener) bool { return x == l })
		})
	}
}
