package hotclient

import (
	"context"
	"sync"

	"github.com/hotstate/hotstate/core/wire"
)

// TypedSubscription is a Subscription whose state is decoded into T with
// the rules of encoding/json, so T's json tags name the fields as the
// server's type does. Create it with SubscribeAs.
type TypedSubscription[T any] struct {
	sub *Subscription

	mu     sync.Mutex // guards view, server
	view   decoded[T]
	server decoded[T]
}

// decoded caches the decoding of one generation of a store's state.
type decoded[T any] struct {
	gen   uint64
	valid bool
	value T
}

// SubscribeAs subscribes to the store name like Client.Subscribe, decoding
// its state into T. onChange, when not nil, receives each state as a fresh
// T it may keep and modify. A state that does not decode into T is reported
// to the lifecycle listeners as a Failure and shows as the zero T.
func SubscribeAs[T any](c *Client, name string, onChange func(state T)) *TypedSubscription[T] {
	ts := &TypedSubscription[T]{}
	var fn func(any)
	if onChange != nil {
		fn = func(state any) {
			var v T
			if err := wire.FromTree(state, &v); err != nil {
				c.failure(err, name)
				return
			}
			onChange(v)
		}
	}
	ts.sub = c.Subscribe(name, fn)
	return ts
}

// Name returns the store's full name.
func (ts *TypedSubscription[T]) Name() string { return ts.sub.name }

// State returns the state with optimistic overlays applied, decoded into a
// T the caller owns; the zero T before the first snapshot.
func (ts *TypedSubscription[T]) State() T {
	return ts.decode(&ts.view, true)
}

// ServerState returns the last state the server confirmed, decoded into a
// T the caller owns; the zero T before the first snapshot.
func (ts *TypedSubscription[T]) ServerState() T {
	return ts.decode(&ts.server, false)
}

// HasData is Subscription.HasData.
func (ts *TypedSubscription[T]) HasData() bool { return ts.sub.HasData() }

// Stale is Subscription.Stale.
func (ts *TypedSubscription[T]) Stale() bool { return ts.sub.Stale() }

// Err is Subscription.Err.
func (ts *TypedSubscription[T]) Err() error { return ts.sub.Err() }

// Ready is Subscription.Ready.
func (ts *TypedSubscription[T]) Ready(ctx context.Context) error { return ts.sub.Ready(ctx) }

// Unsubscribe is Subscription.Unsubscribe.
func (ts *TypedSubscription[T]) Unsubscribe() { ts.sub.Unsubscribe() }

// Untyped returns the underlying handle, whose State is the generic tree.
func (ts *TypedSubscription[T]) Untyped() *Subscription { return ts.sub }

// decode returns the current view or server state as T, decoding it only
// when the store changed since the cached decoding.
func (ts *TypedSubscription[T]) decode(cache *decoded[T], view bool) T {
	tree, gen, live := ts.sub.snapshot(view)
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if live && cache.valid && cache.gen == gen {
		return wire.Clone(cache.value)
	}
	var v T
	if tree != nil {
		if err := wire.FromTree(tree, &v); err != nil {
			ts.sub.c.failure(err, ts.sub.name)
			var zero T
			v = zero
		}
	}
	*cache = decoded[T]{gen: gen, valid: live, value: v}
	return wire.Clone(v)
}

// snapshot returns the view (or server state), the store's generation and
// whether the handle is still subscribed.
func (h *Subscription) snapshot(view bool) (tree any, gen uint64, live bool) {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	if st := h.st; st != nil {
		if view {
			return st.view, st.gen, true
		}
		return st.server, st.gen, true
	}
	if view {
		return h.last, 0, false
	}
	return h.lastServer, 0, false
}

// SubscribePresence subscribes to who is in the store instance name, as the
// server lists it in the store "presence:" + name: each member's key with
// its metadata decoded as M.
func SubscribePresence[M any](c *Client, name string, onChange func(members map[string]M)) *TypedSubscription[map[string]M] {
	return SubscribeAs(c, "presence:"+name, onChange)
}
