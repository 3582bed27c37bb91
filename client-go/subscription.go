package hotclient

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/hotstate/hotstate/core/wire"
)

// retryDelay is the base of the backoff between retries of a subscription
// the server refused for now; WithReconnectMax caps it. It is far below the
// reconnection delay: the connection works, and a server's token bucket
// refills in fractions of a second.
const retryDelay = 100 * time.Millisecond

// store is one wire subscription, shared by every Subscription handle on
// the same name. All its fields are guarded by Client.mu.
type store struct {
	name    string
	handles []*Subscription
	// ready is closed by the first snapshot.
	ready       chan struct{}
	readyClosed bool

	hasData bool
	server  any // the last state the server confirmed
	view    any // server with the optimistic overlays applied
	epoch   uint64
	version uint64
	// resync is set after a patch the client could not use; a fresh
	// snapshot was asked for and patches are ignored until it arrives.
	resync bool
	// gen counts changes of view, so typed handles decode once per change.
	gen uint64

	// served is set once the current connection carried a snapshot or a
	// patch for the store: the server holds its subscription.
	served bool
	// refused is the transient refusal being retried, from the server's err
	// until the snapshot the retry asks for or the next connection.
	refused *RemoteError
	// retry is the pending retry, nil when there is none; retries counts
	// the retries since refused was set, for the backoff.
	retry   *time.Timer
	retries int
}

func newStore(name string) *store {
	return &store{name: name, ready: make(chan struct{})}
}

// subFrameLocked returns the sub frame that (re)subscribes: a resume offering
// the held epoch and version when there is a consistent state to resume.
func (st *store) subFrameLocked() []byte {
	if st.hasData && !st.resync {
		return wire.EncodeResume(st.name, st.epoch, st.version)
	}
	return wire.EncodeSub(st.name)
}

func (st *store) closeReadyLocked() {
	if !st.readyClosed {
		st.readyClosed = true
		close(st.ready)
	}
}

func (st *store) stopRetryLocked() {
	if st.retry != nil {
		st.retry.Stop()
		st.retry = nil
	}
}

// Subscription is one handle on a store, returned by Client.Subscribe.
// Handles on the same store share its state and one server subscription,
// but each lives until it ends: by its own Unsubscribe, by the deletion of
// the store, by a refusal of the server that retrying cannot fix, or by
// Close. An ended handle gets no more updates and keeps the last state it
// saw; Err says why it ended. A refusal the server may lift ("rate_limited",
// "busy") does not end it: the client asks again, as the package
// documentation describes under Refusals, and Stale reports true meanwhile.
type Subscription struct {
	c        *Client
	name     string
	onChange func(state any)
	ready    chan struct{} // the store's
	ended    chan struct{} // closed when the handle ends
	live     atomic.Bool

	// Guarded by Client.mu: st while subscribed; once the handle ended,
	// the last values it saw and why it ended.
	st         *store
	last       any
	lastServer any
	hadData    bool
	endErr     error
}

// Subscribe subscribes to the store name, such as "Todos" or
// "Room:general", and returns its handle at once; it may be called before
// Connect. onChange, when not nil, is called with the state (optimistic
// overlays included) on every change, starting with the first snapshot, or
// at once when another handle already holds one. Several handles on one
// store are independent; the server is told once, and the unsubscription is
// sent when the last handle goes.
func (c *Client) Subscribe(name string, onChange func(state any)) *Subscription {
	h := &Subscription{c: c, name: name, onChange: onChange, ended: make(chan struct{})}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		h.ready = h.ended
		h.endErr = ErrClosed
		close(h.ended)
		return h
	}
	st := c.stores[name]
	if st == nil {
		st = newStore(name)
		c.stores[name] = st
		if c.conn != nil {
			c.conn.send(wire.EncodeSub(name))
		}
	}
	st.handles = append(st.handles, h)
	h.st = st
	h.ready = st.ready
	h.live.Store(true)
	if st.hasData {
		h.notifyLocked(st.view)
	}
	return h
}

// Name returns the store's full name.
func (h *Subscription) Name() string { return h.name }

// State returns the state with the optimistic overlays of pending calls
// applied; nil until the first snapshot. It is shared: do not modify it.
func (h *Subscription) State() any {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	if h.st != nil {
		return h.st.view
	}
	return h.last
}

// ServerState returns the last state the server confirmed, without
// optimistic overlays; nil until the first snapshot.
func (h *Subscription) ServerState() any {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	if h.st != nil {
		return h.st.server
	}
	return h.lastServer
}

// HasData reports whether the first snapshot has arrived. It stays true
// once it is, even while the state is stale or after the handle ended.
func (h *Subscription) HasData() bool {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	if h.st != nil {
		return h.st.hasData
	}
	return h.hadData
}

// Stale reports whether the handle has data that is not being kept up to
// date: the client is disconnected or closed, the server refused the
// subscription for now and a retry is pending, a fresh snapshot is awaited
// after a patch the client could not use, or the handle ended. It is false
// before the first snapshot, when there is no state to be stale. Once
// reconnected, a resumed store counts as current again: the server answers
// a resume only with what was missed, or with a refusal.
func (h *Subscription) Stale() bool {
	c := h.c
	c.mu.Lock()
	defer c.mu.Unlock()
	st := h.st
	if st == nil {
		return h.hadData
	}
	return st.hasData && (c.conn == nil || c.closed || st.resync || st.refused != nil)
}

// Err returns why the handle ended, or nil while it lives (including while
// a refused subscription is retried) and after its own Unsubscribe: a
// *RemoteError when the server refused the store for good ("forbidden",
// "not_found", "too_many_subscriptions", ...), ErrStoreDeleted when the
// server deleted it, ErrClosed once the client is closed.
func (h *Subscription) Err() error {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	return h.errLocked()
}

func (h *Subscription) errLocked() error {
	switch {
	case h.st == nil && h.endErr != errUnsubscribed:
		return h.endErr
	case h.st != nil && h.c.closed:
		return ErrClosed
	}
	return nil
}

// Ready waits for the first snapshot and returns nil once the handle has
// data. Once the handle ended with an error it returns Err, even if data
// had arrived: a *RemoteError when the server refused the store for good,
// ErrStoreDeleted, or ErrClosed. It returns an error when the handle was
// unsubscribed before its first snapshot, and ctx's error when ctx ends
// first; a transient refusal does not end the wait, which then names it
// with ctx's error.
func (h *Subscription) Ready(ctx context.Context) error {
	c := h.c
	select {
	case <-h.ready:
	case <-h.ended:
	case <-c.closedCh:
	case <-ctx.Done():
		c.mu.Lock()
		defer c.mu.Unlock()
		if st := h.st; st != nil && st.refused != nil {
			return fmt.Errorf("%w (the server refused the subscription for now: %v)", ctx.Err(), st.refused)
		}
		return ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := h.errLocked(); err != nil {
		return err
	}
	if h.st != nil || h.hadData {
		return nil
	}
	return errUnsubscribed
}

// Unsubscribe ends this handle: its onChange is not called after it
// returns, except by a callback already running. The last handle of a store
// unsubscribes from the server. Calling it again is harmless.
func (h *Subscription) Unsubscribe() {
	c := h.c
	c.mu.Lock()
	defer c.mu.Unlock()
	st := h.st
	if st == nil {
		return
	}
	h.endLocked(errUnsubscribed)
	st.handles = remove(st.handles, h)
	if len(st.handles) == 0 && c.stores[h.name] == st {
		delete(c.stores, h.name)
		st.stopRetryLocked()
		if c.conn != nil {
			c.conn.send(wire.EncodeUnsub(h.name))
		}
	}
}

// endLocked detaches the handle from its store, keeping what it last saw
// and err, why it ended.
func (h *Subscription) endLocked(err error) {
	st := h.st
	h.live.Store(false)
	h.last, h.lastServer, h.hadData = st.view, st.server, st.hasData
	h.endErr = err
	h.st = nil
	close(h.ended)
}

// notifyLocked queues the handle's onChange with state.
func (h *Subscription) notifyLocked(state any) {
	if h.onChange == nil {
		return
	}
	h.c.disp.push(func() {
		if h.live.Load() {
			h.onChange(state)
		}
	})
}

// refreshLocked recomputes the store's view and tells its handles.
func (c *Client) refreshLocked(st *store) {
	if !st.hasData {
		return
	}
	st.view = c.overlaidLocked(st.name, st.server)
	st.gen++
	for _, h := range st.handles {
		h.notifyLocked(st.view)
	}
}

func (c *Client) onSnapLocked(f wire.Frame, state any) {
	st := c.stores[f.Store]
	if st == nil {
		return // unsubscribed meanwhile
	}
	st.server, st.epoch, st.version = state, f.Epoch, f.Version
	st.hasData, st.resync, st.served = true, false, true
	// The snapshot answers whichever sub a pending retry would repeat.
	st.refused, st.retries = nil, 0
	st.stopRetryLocked()
	st.closeReadyLocked()
	c.refreshLocked(st)
}

func (c *Client) onPatchLocked(f wire.Frame) {
	st := c.stores[f.Store]
	if st == nil {
		return // unsubscribed meanwhile
	}
	st.served = true
	if !st.hasData || st.resync {
		return // waiting for a snapshot
	}
	if f.Epoch == st.epoch && f.Version <= st.version {
		return // a duplicate
	}
	if f.Epoch != st.epoch || f.Version != st.version+1 {
		c.resyncLocked(st, "version gap or new epoch", nil)
		return
	}
	next, err := wire.Apply(st.server, f.Ops)
	if err != nil {
		c.resyncLocked(st, "patch does not apply", err)
		return
	}
	st.server, st.version = next, f.Version
	c.refreshLocked(st)
}

// resyncLocked drops the store's claim to be current and asks for a fresh
// snapshot; the last consistent state stays visible until it arrives.
func (c *Client) resyncLocked(st *store, why string, err error) {
	c.opts.logger.Debug("hotstate: resubscribing for a fresh snapshot", "store", st.name, "why", why, "err", err)
	st.resync = true
	if c.conn != nil {
		c.conn.send(wire.EncodeSub(st.name))
	}
}

func (c *Client) onDelLocked(name string) {
	st := c.stores[name]
	if st == nil {
		return
	}
	c.endStoreLocked(st, ErrStoreDeleted)
	c.emitLocked(Lifecycle{Kind: StoreDeleted, Store: name})
}

// endStoreLocked forgets st and ends its handles with err.
func (c *Client) endStoreLocked(st *store, err error) {
	if c.stores[st.name] == st {
		delete(c.stores, st.name)
	}
	st.stopRetryLocked()
	for _, h := range st.handles {
		h.endLocked(err)
	}
	st.handles = nil
}

func (c *Client) onErrLocked(f wire.Frame) {
	x := f.Err
	if x == nil {
		x = &wire.Error{Code: wire.CodeBadFrame, Message: "err frame without an error"}
	}
	err := &RemoteError{Store: f.Store, Code: x.Code, Message: x.Message}
	if st := c.stores[f.Store]; st != nil {
		c.refusedLocked(st, err)
		return
	}
	c.emitLocked(Lifecycle{Kind: Failure, Store: f.Store, Err: err})
}

// refusedLocked acts on the server's refusal of a sub for st, whichever it
// was: the first, a resume after a reconnection, or a resync. A transient
// refusal is retried while this connection lasts; any other ends the store.
func (c *Client) refusedLocked(st *store, err *RemoteError) {
	if !transient(err.Code) {
		c.endStoreLocked(st, err)
		if st.served && c.conn != nil {
			// Only a resync can be refused on a connection that served
			// the store, and the server still holds that subscription.
			c.conn.send(wire.EncodeUnsub(st.name))
		}
		c.emitLocked(Lifecycle{Kind: Failure, Store: st.name, Err: err})
		return
	}
	if st.refused == nil {
		c.emitLocked(Lifecycle{Kind: Failure, Store: st.name, Err: err})
	} else {
		c.opts.logger.Debug("hotstate: subscription refused again", "store", st.name, "err", err)
	}
	st.refused = err
	c.retryLocked(st)
}

// transient reports whether a refusal with code may succeed when asked
// again later on the same connection.
func transient(code string) bool {
	return code == wire.CodeRateLimited || code == wire.CodeBusy || code == wire.CodeUnavailable
}

// retryLocked subscribes st again after the backoff of its refusals, on
// this connection only. The retry asks for a snapshot rather than resuming,
// because a resume with nothing missed gets no answer and the handle could
// not tell when it is current again.
func (c *Client) retryLocked(st *store) {
	cn := c.conn
	if cn == nil || st.retry != nil {
		return
	}
	st.retries++
	delay := backoff(st.retries, retryDelay, c.opts.reconnectMax, rand.Int64N)
	var t *time.Timer
	t = time.AfterFunc(delay, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if st.retry != t {
			return // stopped after it fired
		}
		st.retry = nil
		if c.conn == cn && !c.closed && c.stores[st.name] == st {
			cn.send(wire.EncodeSub(st.name))
		}
	})
	st.retry = t
}

// errUnsubscribed is what Ready returns for a handle unsubscribed before
// its first snapshot.
var errUnsubscribed = errors.New("hotstate: unsubscribed")
