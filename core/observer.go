package hotstate

import (
	"context"
	"errors"
	"time"

	"github.com/hotstate/hotstate/core/wire"
)

// Observer receives what a server does, for metrics and tracing: a struct
// of optional functions in the manner of net/http/httptrace.ClientTrace, so
// that events can be added without breaking anyone. Install one with
// WithObserver; a nil field is skipped, and a server without an observer
// pays one nil check per event.
//
// The functions run synchronously on the server's hot paths: in the
// connection's reader, in the writer of every subscriber while a change is
// broadcast, and some (Subscribed, Unsubscribed, ChangeApplied,
// QueueChanged, SlowConsumer) while a store instance's lock is held. They
// must be fast, must not block, and must not call back into the server:
// count, add, observe, and return. They may be called from many goroutines
// at once.
//
// Store names are patterns ("Todos", "Room:*"), never the key of a family's
// instance, so they can label metrics without growing without bound.
type Observer struct {
	// ConnOpened is called when the server starts serving a connection.
	ConnOpened func(ConnOpenedInfo)
	// ConnClosed is called once a connection has ended and everything it
	// held was released.
	ConnClosed func(ConnClosedInfo)
	// Subscribed is called when a connection joined a store instance and
	// its snapshot or missed patches were queued.
	Subscribed func(SubscribedInfo)
	// Unsubscribed is called when a subscription ended: by unsub, by the
	// connection ending, or by the instance being deleted.
	Unsubscribed func(UnsubscribedInfo)
	// InstanceCreated is called when this node created a store instance
	// (its OnCreate hook ran here).
	InstanceCreated func(InstanceInfo)
	// InstanceDeleted is called when a store instance this node held was
	// deleted, here or on another node.
	InstanceDeleted func(InstanceInfo)
	// ChangeApplied is called for every change of a store instance that
	// the engine's log took and this node sends to its subscribers:
	// patches, snapshots (Set, creation, Reset), whether made here or
	// followed from another node. Deletions are InstanceDeleted.
	ChangeApplied func(ChangeInfo)
	// CallDone is called when a function call has returned and its result
	// is encoded, before it is written. Calls refused before they ran
	// (unknown function, forbidden, rate limited, busy) are FrameRefused.
	CallDone func(CallInfo)
	// FrameRefused is called for every frame from a client that the
	// server answered with an error instead of acting on it.
	FrameRefused func(RefusedInfo)
	// SlowConsumer is called when a connection is closed because its
	// outbound queue passed WithMaxQueueBytes.
	SlowConsumer func(SlowConsumerInfo)
	// QueueChanged is called whenever bytes enter or leave a connection's
	// outbound queue. The sum of every Delta is the number of bytes
	// waiting to be written to all clients.
	QueueChanged func(QueueInfo)
	// EngineAppended is called after every Engine.Append.
	EngineAppended func(AppendInfo)
	// EventEmitted is called when Emit, EmitTo or a store's Emit has
	// encoded an event and is about to send it.
	EventEmitted func(EventInfo)
}

// ConnOpenedInfo describes a connection the server started serving.
type ConnOpenedInfo struct {
	// ClientID is the id the server assigned to the client.
	ClientID string
}

// ConnClosedInfo describes a connection that ended.
type ConnClosedInfo struct {
	ClientID string
	// Code is the WebSocket close code the server closed the connection
	// with (4000 slow consumer, 4001 heartbeat, 1001 going away, 1009
	// frame too large, ...), or 0 when the server did not close it: the
	// client did, or the network failed.
	Code int
}

// SubscribedInfo describes a subscription the server accepted.
type SubscribedInfo struct {
	// Store is the store's pattern: "Todos" or "Room:*".
	Store string
	// Resumed is true when the client resumed from the version it held and
	// was sent only the patches it missed; false when it was sent a
	// snapshot.
	Resumed bool
	// Again is true when the connection already held the subscription (a
	// client subscribing anew to refresh it): no subscription was added.
	Again bool
}

// UnsubscribedInfo describes a subscription that ended.
type UnsubscribedInfo struct {
	// Store is the store's pattern.
	Store string
}

// InstanceInfo describes a store instance created or deleted.
type InstanceInfo struct {
	// Store is the store's pattern.
	Store string
}

// ChangeInfo describes one change sent to the subscribers of a store
// instance on this node.
type ChangeInfo struct {
	// Store is the store's pattern.
	Store string
	// Bytes is the size of the frame, encoded once for every subscriber.
	Bytes int
	// Subscribers is how many of this node's connections it was queued
	// to, so Bytes*Subscribers bytes were broadcast.
	Subscribers int
	// Instance is the instance's full name ("Room:general"): unlike
	// Store, one value per instance, so not for labelling metrics.
	Instance string
	// Version is the instance's version after the change.
	Version uint64
}

// CallInfo describes a function call that ran.
type CallInfo struct {
	// Function is the registered function's name.
	Function string
	// Duration is from the start of the handler to its result encoded.
	Duration time.Duration
	// Code is "ok" when the function returned a result, else the code its
	// caller was told: an *Error's code, bad_args, internal, unavailable,
	// busy, or error.
	Code string
	// ClientID is the id of the client that called.
	ClientID string
}

// RefusedInfo describes a frame the server refused.
type RefusedInfo struct {
	// Code is the error code the client was sent: rate_limited,
	// forbidden, bad_frame, not_found, unknown_function, busy,
	// too_many_subscriptions, name_too_long, unknown_type, or the code of
	// a subscription that failed.
	Code string
}

// EventInfo describes an event emitted.
type EventInfo struct {
	// Channel is the event's name.
	Channel string
	// Store is the full name of the store instance whose subscribers it
	// goes to, or "".
	Store string
	// ClientID is the client EmitTo sends it to, or "".
	ClientID string
}

// SlowConsumerInfo describes a connection closed as a slow consumer.
type SlowConsumerInfo struct {
	ClientID string
}

// QueueInfo describes a change of a connection's outbound queue.
type QueueInfo struct {
	// Delta is the bytes added (positive) or removed (negative).
	Delta int
}

// AppendInfo describes one Engine.Append.
type AppendInfo struct {
	// Instance is the full name of the instance appended to.
	Instance string
	// Duration is how long the engine took.
	Duration time.Duration
	// Err is what it returned; errors.Is(Err, ErrConflict) when another
	// writer committed first.
	Err error
}

// WithObserver installs o to hear the server's events. It may be given
// more than once: every observer hears every event, in the order given.
// The server keeps a copy of o, so changing o later has no effect.
func WithObserver(o *Observer) Option {
	return optionFunc(func(opts *options) {
		if o == nil {
			return
		}
		if opts.obs == nil {
			c := *o
			opts.obs = &c
			return
		}
		opts.obs = opts.obs.join(o)
	})
}

// join returns an observer that calls o's functions, then p's.
func (o *Observer) join(p *Observer) *Observer {
	return &Observer{
		ConnOpened:      both(o.ConnOpened, p.ConnOpened),
		ConnClosed:      both(o.ConnClosed, p.ConnClosed),
		Subscribed:      both(o.Subscribed, p.Subscribed),
		Unsubscribed:    both(o.Unsubscribed, p.Unsubscribed),
		InstanceCreated: both(o.InstanceCreated, p.InstanceCreated),
		InstanceDeleted: both(o.InstanceDeleted, p.InstanceDeleted),
		ChangeApplied:   both(o.ChangeApplied, p.ChangeApplied),
		CallDone:        both(o.CallDone, p.CallDone),
		FrameRefused:    both(o.FrameRefused, p.FrameRefused),
		SlowConsumer:    both(o.SlowConsumer, p.SlowConsumer),
		QueueChanged:    both(o.QueueChanged, p.QueueChanged),
		EngineAppended:  both(o.EngineAppended, p.EngineAppended),
		EventEmitted:    both(o.EventEmitted, p.EventEmitted),
	}
}

func both[I any](f, g func(I)) func(I) {
	switch {
	case f == nil:
		return g
	case g == nil:
		return f
	}
	return func(i I) { f(i); g(i) }
}

// The methods below are the server's call sites: each is safe on a nil
// *Observer, so a server without one pays a nil check, and builds nothing
// it would not otherwise build.

func (o *Observer) opened(s *session) {
	if o != nil && o.ConnOpened != nil {
		o.ConnOpened(ConnOpenedInfo{ClientID: s.caller.ID})
	}
}

// closed reports the end of a session, and the bytes left in its queue,
// which nobody will write now.
func (o *Observer) closed(s *session) {
	if o != nil {
		o.sessionEnded(s)
	}
}

func (o *Observer) sessionEnded(s *session) {
	s.w.mu.Lock()
	left, code := s.w.size, s.w.code
	s.w.mu.Unlock()
	o.queued(-left)
	if o.ConnClosed != nil {
		o.ConnClosed(ConnClosedInfo{ClientID: s.caller.ID, Code: code})
	}
}

// storePattern is the pattern of the store an instance belongs to.
func (in *instance[T]) storePattern() string { return in.fam.name }

// patternOf is the store pattern of a subscription.
func patternOf(sub subscription) string {
	if p, ok := sub.(interface{ storePattern() string }); ok {
		return p.storePattern()
	}
	return ""
}

func (o *Observer) subscribed(sub subscription, resumed, again bool) {
	if o != nil && o.Subscribed != nil {
		o.subscribedTo(sub, resumed, again)
	}
}

func (o *Observer) subscribedTo(sub subscription, resumed, again bool) {
	o.Subscribed(SubscribedInfo{Store: patternOf(sub), Resumed: resumed, Again: again})
}

func (o *Observer) unsubscribed(sub subscription) {
	if o != nil && o.Unsubscribed != nil {
		o.unsubscribedFrom(sub)
	}
}

func (o *Observer) unsubscribedFrom(sub subscription) {
	o.Unsubscribed(UnsubscribedInfo{Store: patternOf(sub)})
}

// created and deleted take the instance's full name, which listeners get.
func (o *Observer) created(s *Server, name string) {
	if o != nil && o.InstanceCreated != nil {
		o.InstanceCreated(InstanceInfo{Store: s.patternOf(name)})
	}
}

func (o *Observer) deleted(s *Server, name string) {
	if o != nil && o.InstanceDeleted != nil {
		o.InstanceDeleted(InstanceInfo{Store: s.patternOf(name)})
	}
}

// patternOf is the pattern of the store the instance name belongs to.
func (s *Server) patternOf(name string) string {
	if d, _, ok := s.resolve(name); ok {
		return d.pattern()
	}
	return ""
}

func (o *Observer) changed(store, instance string, c Change, subscribers int) {
	if o != nil && o.ChangeApplied != nil {
		o.changeApplied(store, instance, c, subscribers)
	}
}

func (o *Observer) changeApplied(store, instance string, c Change, subscribers int) {
	if wire.TypeOf(c.Frame) != wire.TypeDel {
		o.ChangeApplied(ChangeInfo{Store: store, Bytes: len(c.Frame), Subscribers: subscribers, Instance: instance, Version: c.Version})
	}
}

// start is when a call began, if anyone will ask.
func (o *Observer) start() time.Time {
	if o == nil || o.CallDone == nil {
		return time.Time{}
	}
	return time.Now()
}

func (o *Observer) called(function string, start time.Time, code, clientID string) {
	if o != nil && o.CallDone != nil {
		o.callDone(function, start, code, clientID)
	}
}

func (o *Observer) callDone(function string, start time.Time, code, clientID string) {
	o.CallDone(CallInfo{Function: function, Duration: time.Since(start), Code: code, ClientID: clientID})
}

func (o *Observer) emitted(channel, store, clientID string) {
	if o != nil && o.EventEmitted != nil {
		o.EventEmitted(EventInfo{Channel: channel, Store: store, ClientID: clientID})
	}
}

func (o *Observer) refused(code string) {
	if o != nil && o.FrameRefused != nil {
		o.FrameRefused(RefusedInfo{Code: code})
	}
}

func (o *Observer) slowConsumer(clientID string) {
	if o != nil && o.SlowConsumer != nil {
		o.SlowConsumer(SlowConsumerInfo{ClientID: clientID})
	}
}

func (o *Observer) queued(delta int) {
	if o != nil && o.QueueChanged != nil && delta != 0 {
		o.QueueChanged(QueueInfo{Delta: delta})
	}
}

// engine wraps e to time its appends, when someone listens.
func (o *Observer) engine(e Engine) Engine {
	if o == nil || o.EngineAppended == nil {
		return e
	}
	return observedEngine{Engine: e, appended: o.EngineAppended}
}

// observedEngine is an Engine whose appends are reported.
type observedEngine struct {
	Engine
	appended func(AppendInfo)
}

func (e observedEngine) Append(ctx context.Context, name string, prev Position, c Change) error {
	start := time.Now()
	err := e.Engine.Append(ctx, name, prev, c)
	e.appended(AppendInfo{Instance: name, Duration: time.Since(start), Err: err})
	return err
}

// IsConflict reports whether an append failed because another writer
// committed first; a shorthand for errors.Is(a.Err, ErrConflict).
func (a AppendInfo) IsConflict() bool { return errors.Is(a.Err, ErrConflict) }
