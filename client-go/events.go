package hotclient

import (
	"sync/atomic"
	"time"

	"github.com/hotstate/hotstate/core/wire"
)

// listener is one On registration.
type listener struct {
	fn   func(data any)
	live atomic.Bool
}

// On calls fn with the data of every event the server sends on channel, to
// every client or to this one. Events are not stored: only those arriving
// while connected are seen. data is a generic tree shared by every listener
// of the event; treat it as read-only. The returned function removes the
// listener; fn is not called after it returns, except by a callback
// already running.
func (c *Client) On(channel string, fn func(data any)) (off func()) {
	l := &listener{fn: fn}
	l.live.Store(true)
	c.mu.Lock()
	c.listeners[channel] = append(c.listeners[channel], l)
	c.mu.Unlock()
	return func() {
		l.live.Store(false)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.listeners[channel] = remove(c.listeners[channel], l)
		if len(c.listeners[channel]) == 0 {
			delete(c.listeners, channel)
		}
	}
}

// OnAs is On with the event data decoded into T with the rules of
// encoding/json. Data that does not decode is reported to the lifecycle
// listeners as a Failure and not passed to fn.
func OnAs[T any](c *Client, channel string, fn func(data T)) (off func()) {
	return c.On(channel, func(data any) {
		var v T
		if err := wire.FromTree(data, &v); err != nil {
			c.failure(err, "")
			return
		}
		fn(v)
	})
}

// onEventLocked queues the listeners of one evt frame.
func (c *Client) onEventLocked(channel string, data any) {
	for _, l := range c.listeners[channel] {
		c.disp.push(func() {
			if l.live.Load() {
				l.fn(data)
			}
		})
	}
}

// LifecycleKind names a change in the client's connection or stores. Its
// values are the names the hotstate clients share for these notifications.
type LifecycleKind string

// The lifecycle notifications.
const (
	// Connected: a connection opened and the server's hello arrived;
	// Lifecycle.ClientID holds the id it gave the client.
	Connected LifecycleKind = "connected"
	// Disconnected: the open connection ended; Lifecycle.Err says why.
	Disconnected LifecycleKind = "disconnected"
	// Reconnecting: the client waits Lifecycle.Delay before attempt number
	// Lifecycle.Attempt; Lifecycle.Err is the failure that led here.
	Reconnecting LifecycleKind = "reconnecting"
	// Failure: something went wrong without ending the connection, or a
	// connection attempt failed: a subscription the server refused
	// (Lifecycle.Store names it and Err is a *RemoteError; a refusal for
	// good has ended the store's handles, one for now is reported once
	// until a retry is served), another err frame, a frame the client
	// cannot decode, a typed value that does not decode.
	Failure LifecycleKind = "error"
	// StoreDeleted: the server deleted the store Lifecycle.Store; its
	// subscriptions receive no more updates.
	StoreDeleted LifecycleKind = "storeDeleted"
)

// Lifecycle is one lifecycle notification. Which fields are set depends on
// Kind, as its constants describe.
type Lifecycle struct {
	Kind     LifecycleKind
	ClientID string
	Store    string
	Err      error
	Attempt  int
	Delay    time.Duration
}

// lifecycleListener is one OnLifecycle registration.
type lifecycleListener struct {
	fn   func(Lifecycle)
	live atomic.Bool
}

// OnLifecycle calls fn with every lifecycle notification: Connected,
// Disconnected, Reconnecting, Failure and StoreDeleted. They are kept apart
// from server events, so no event channel name is reserved. The returned
// function removes the listener.
func (c *Client) OnLifecycle(fn func(Lifecycle)) (off func()) {
	l := &lifecycleListener{fn: fn}
	l.live.Store(true)
	c.mu.Lock()
	c.lifecycle = append(c.lifecycle, l)
	c.mu.Unlock()
	return func() {
		l.live.Store(false)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.lifecycle = remove(c.lifecycle, l)
	}
}

// emitLocked logs e and queues it for the lifecycle listeners.
func (c *Client) emitLocked(e Lifecycle) {
	log := c.opts.logger
	switch e.Kind {
	case Failure:
		log.Warn("hotstate: client error", "store", e.Store, "err", e.Err)
	case Disconnected:
		log.Info("hotstate: disconnected", "err", e.Err)
	case Reconnecting:
		log.Info("hotstate: reconnecting", "attempt", e.Attempt, "delay", e.Delay)
	default:
		log.Debug("hotstate: "+string(e.Kind), "client", e.ClientID, "store", e.Store)
	}
	for _, l := range c.lifecycle {
		c.disp.push(func() {
			if l.live.Load() {
				l.fn(e)
			}
		})
	}
}

// failure reports err as a Failure notification.
func (c *Client) failure(err error, store string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.emitLocked(Lifecycle{Kind: Failure, Err: err, Store: store})
}

// remove returns s without x, keeping the order of the others.
func remove[E comparable](s []E, x E) []E {
	for i, e := range s {
		if e == x {
			return append(s[:i:i], s[i+1:]...)
		}
	}
	return s
}
