package hotclient

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/hotstate/hotstate/core/wire"
)

// store is one wire subscription, shared by every Subscription handle on
// the same name. All its fields are guarded by Client.mu.
type store struct {
	name    string
	handles []*Subscription
	// ready is closed by the first snapshot, or earlier by a refusal or a
	// deletion, which err then records.
	ready       chan struct{}
	readyClosed bool
	err         error

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

func (st *store) closeReadyLocked(err error) {
	if !st.readyClosed {
		st.readyClosed = true
		st.err = err
		close(st.ready)
	}
}

// Subscription is one handle on a store, returned by Client.Subscribe.
// Handles on the same store share its state and one server subscription,
// but each lives until its own Unsubscribe.
type Subscription struct {
	c        *Client
	name     string
	onChange func(state any)
	ready    chan struct{} // the store's
	ended    chan struct{} // closed by Unsubscribe or a deletion
	live     atomic.Bool

	// Guarded by Client.mu: st while subscribed; after Unsubscribe or a
	// deletion, the last values the handle saw.
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

// HasData reports whether the first snapshot has arrived.
func (h *Subscription) HasData() bool {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	if h.st != nil {
		return h.st.hasData
	}
	return h.hadData
}

// Ready returns nil once the first snapshot has arrived. It returns a
// *RemoteError when the server cannot serve the store (not_found,
// forbidden, ...), ErrStoreDeleted when the store was deleted first,
// ErrClosed when the client was closed first, an error when the handle was
// unsubscribed first, or ctx's error.
func (h *Subscription) Ready(ctx context.Context) error {
	select {
	case <-h.ready:
	case <-h.ended:
	case <-h.c.closedCh:
	case <-ctx.Done():
		return ctx.Err()
	}
	c := h.c
	c.mu.Lock()
	defer c.mu.Unlock()
	st := h.st
	switch {
	case st != nil && st.hasData, st == nil && h.hadData:
		return nil
	case st != nil && st.err != nil:
		return st.err
	case st == nil && h.endErr != nil:
		return h.endErr
	}
	return ErrClosed
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
		if c.conn != nil {
			c.conn.send(wire.EncodeUnsub(h.name))
		}
	}
}

// endLocked detaches the handle from its store, keeping what it last saw;
// err is what Ready returns if no snapshot had arrived.
func (h *Subscription) endLocked(err error) {
	st := h.st
	h.live.Store(false)
	h.last, h.lastServer, h.hadData = st.view, st.server, st.hasData
	h.endErr = err
	if st.err != nil {
		h.endErr = st.err
	}
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
	st.hasData, st.resync, st.err = true, false, nil
	st.closeReadyLocked(nil)
	c.refreshLocked(st)
}

func (c *Client) onPatchLocked(f wire.Frame) {
	st := c.stores[f.Store]
	if st == nil || !st.hasData || st.resync {
		return // unsubscribed, or waiting for a snapshot
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
	delete(c.stores, name)
	st.closeReadyLocked(ErrStoreDeleted)
	for _, h := range st.handles {
		h.endLocked(ErrStoreDeleted)
	}
	st.handles = nil
	c.emitLocked(Lifecycle{Kind: StoreDeleted, Store: name})
}

func (c *Client) onErrLocked(f wire.Frame) {
	x := f.Err
	if x == nil {
		x = &wire.Error{Code: wire.CodeBadFrame, Message: "err frame without an error"}
	}
	err := &RemoteError{Store: f.Store, Code: x.Code, Message: x.Message}
	if st := c.stores[f.Store]; st != nil && !st.hasData {
		st.closeReadyLocked(err)
	}
	c.emitLocked(Lifecycle{Kind: Failure, Store: f.Store, Err: err})
}

// errUnsubscribed is what Ready returns for a handle unsubscribed before
// its first snapshot.
var errUnsubscribed = errors.New("hotstate: unsubscribed")
