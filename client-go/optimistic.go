package hotclient

import (
	"fmt"

	"github.com/hotstate/hotstate/core/wire"
)

// WithOptimistic shows the expected outcome of the call in store at once:
// fn receives the store's state (a deep copy it may modify) and returns the
// state to show. Subscription.State includes the overlay and ServerState
// does not, until the call is answered, fails, times out or is lost to a
// disconnection; then the overlay is dropped and the server's state, which
// by then holds the real change, shows alone. The overlay is re-applied on
// top of every server change that arrives meanwhile, so fn must be a pure
// function of its argument. It runs with the client locked: it must not
// call the client.
func WithOptimistic(store string, fn func(state any) any) CallOption {
	return callOptionFunc(func(c *callConfig) {
		c.store = store
		c.optimistic = func(state any) (any, error) { return fn(state), nil }
	})
}

// WithOptimisticAs is WithOptimistic with the state decoded into T and the
// result encoded back, with the rules of encoding/json.
func WithOptimisticAs[T any](store string, fn func(state T) T) CallOption {
	return callOptionFunc(func(c *callConfig) {
		c.store = store
		c.optimistic = func(state any) (any, error) {
			var v T
			if err := wire.FromTree(state, &v); err != nil {
				return nil, err
			}
			return wire.ToTree(fn(v))
		}
	})
}

// addOverlayLocked starts showing cl's overlay, if it has one.
func (c *Client) addOverlayLocked(cl *call) {
	if cl.optimistic == nil {
		return
	}
	c.overlays[cl.store] = append(c.overlays[cl.store], cl)
	if st := c.stores[cl.store]; st != nil {
		c.refreshLocked(st)
	}
}

// dropOverlayLocked stops showing cl's overlay, if it has one.
func (c *Client) dropOverlayLocked(cl *call) {
	if cl.optimistic == nil {
		return
	}
	list := remove(c.overlays[cl.store], cl)
	if len(list) == 0 {
		delete(c.overlays, cl.store)
	} else {
		c.overlays[cl.store] = list
	}
	if st := c.stores[cl.store]; st != nil {
		c.refreshLocked(st)
	}
}

// overlaidLocked returns state with the overlays of store applied in call
// order. An overlay that fails or panics is skipped and reported.
func (c *Client) overlaidLocked(store string, state any) any {
	for _, cl := range c.overlays[store] {
		next, err := applyOverlay(cl.optimistic, state)
		if err != nil {
			c.emitLocked(Lifecycle{Kind: Failure, Store: store, Err: fmt.Errorf("hotstate: optimistic update: %w", err)})
			continue
		}
		state = next
	}
	return state
}

func applyOverlay(fn func(any) (any, error), state any) (next any, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return fn(wire.Clone(state))
}
