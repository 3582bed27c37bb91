// Package hotclient is the Go client of hotstate: it subscribes to stores
// whose state the server keeps in sync, calls server functions and listens
// to server events, over one WebSocket connection speaking the protocol of
// docs/PROTOCOL.md.
//
//	c, err := hotclient.Dial(ctx, "ws://localhost:4400")
//	if err != nil { ... }
//	defer c.Close()
//	todos := hotclient.SubscribeAs(c, "Todos", func(t Todos) { fmt.Println(t.Items) })
//	if err := todos.Ready(ctx); err != nil { ... }
//	var added Todo
//	err = c.Call(ctx, "todos.add", map[string]string{"text": "Buy milk"}, &added)
//	off := c.On("notification", func(data any) { fmt.Println(data) })
//
// # Connection
//
// New creates a client without connecting, so subscriptions and listeners
// can be set up first; Connect starts it, and Dial does both and waits for
// the connection. The client reconnects with exponential backoff and full
// jitter after a lost connection, resumes every live subscription (the
// server replays the patches it missed or sends a fresh snapshot), drops the
// optimistic overlays of calls the loss failed, and fails those calls once
// with ErrDisconnected. Close stops it for good.
//
// # State
//
// Store state is a generic tree, the shape encoding/json gives it:
// map[string]any, []any, string, bool, nil, int64 (uint64 above
// math.MaxInt64) and float64. Patches are applied with structural sharing:
// a change copies only the maps and slices on its path, and every other
// subtree is the one the previous state held. State values are therefore
// shared and must be treated as read-only. SubscribeAs decodes the tree into
// a type of yours with the rules of encoding/json instead.
//
// A patch that does not follow the version the client holds, comes from
// another epoch or does not apply makes the client ask for a fresh snapshot;
// until it arrives the last consistent state stays visible and later patches
// are ignored.
//
// # Refusals
//
// The server may refuse a subscription: the first sub, the resume after a
// reconnection, or the request for a fresh snapshot after a bad patch. A
// server with a rate limit refuses the resumes past its burst when a client
// with many stores reconnects. A refusal for now ("rate_limited", "busy")
// is retried while the connection lasts, with exponential backoff and full
// jitter from 100 ms up to the reconnection maximum (WithReconnectMax);
// the retry asks for a snapshot. Meanwhile the handle keeps its last state,
// Subscription.Stale reports true and Subscription.Ready keeps waiting. A
// disconnection drops the retry, since the next connection subscribes
// again. Any other refusal ("forbidden", "not_found",
// "too_many_subscriptions", ...) ends the store's handles: their last state
// stays readable, and Subscription.Err and Subscription.Ready return the
// *RemoteError. Both kinds reach the lifecycle listeners as a Failure, a
// refusal for now once until the store is served again.
//
// # Callbacks
//
// Every callback the client makes (the onChange of a subscription, event
// listeners of On, lifecycle listeners of OnLifecycle) runs on one goroutine
// per client, one at a time, in the order the frames that caused them
// arrived. Callbacks are queued without bound, so they never block the
// goroutine that reads from the network: a slow callback delays only the
// callbacks after it. A callback may call any method of the client,
// including Unsubscribe and Close. No callback starts after Close returns.
package hotclient
