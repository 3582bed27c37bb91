package hotstate

import (
	"fmt"
	"slices"
	"sync"

	"github.com/hotstate/hotstate/core/wire"
)

// reservedEvents are the JS client's lifecycle events, which share the one
// `on` namespace with server events: a server event by one of these names
// would fire the client's lifecycle listeners.
var reservedEvents = [...]string{"connected", "disconnected", "reconnecting", "error", "storeDeleted"}

// encodeEvent builds an evt frame, for the subscribers of store when it is
// not "", refusing the reserved channel names.
func encodeEvent(store, channel string, data any) ([]byte, error) {
	if slices.Contains(reservedEvents[:], channel) {
		return nil, fmt.Errorf("%w: %q", ErrReservedEvent, channel)
	}
	frame, err := wire.EncodeStoreEvent(store, channel, data)
	if err != nil {
		return nil, fmt.Errorf("hotstate: event %q: %w", channel, err)
	}
	return frame, nil
}

// Emit sends an event on channel to every connected client, on every node
// sharing the engine. data is encoded once, as encoding/json would shape
// it. The channels clients use for their own lifecycle (connected,
// disconnected, reconnecting, error, storeDeleted) are refused with
// ErrReservedEvent.
func (s *Server) Emit(channel string, data any) error {
	frame, err := encodeEvent("", channel, data)
	if err != nil {
		return err
	}
	s.opts.obs.emitted(channel, "", "")
	return s.publish(toAll, "", frame)
}

// EmitTo sends an event to the one client with the given id, on whichever
// node holds it, and refuses the names Emit refuses. With the default
// engine, which nothing else shares, it returns an error wrapping
// ErrUnknownClient when that client is not connected; with a shared engine
// a client this node does not hold is sent the event through the engine,
// and one connected nowhere does not receive it.
func (s *Server) EmitTo(clientID, channel string, data any) error {
	s.mu.RLock()
	ss, ok := s.sessions[clientID]
	s.mu.RUnlock()
	if !ok && !s.opts.shared {
		return fmt.Errorf("%w: %q", ErrUnknownClient, clientID)
	}
	frame, err := encodeEvent("", channel, data)
	if err != nil {
		return err
	}
	s.opts.obs.emitted(channel, "", clientID)
	if ok {
		ss.w.push(frame)
		return nil
	}
	return s.publish(toClient, clientID, frame)
}

// listeners holds the server's lifecycle listeners. Each runs synchronously
// on the goroutine where its event happened; a panic in one is logged and
// does not stop the others.
type listeners struct {
	srv *Server

	mu           sync.RWMutex // guards every slice below
	connect      []func(Caller)
	disconnect   []func(Caller)
	subscribe    []func(store string, c Caller)
	unsubscribe  []func(store string, c Caller)
	storeCreated []func(name, key string)
	storeDeleted []func(name string)
	errs         []func(err error, clientID string)
}

// OnConnect adds a listener called when a client has connected, after its
// hello was queued, so events it emits reach the new client too.
func (s *Server) OnConnect(fn func(c Caller)) { add(s, &s.listeners.connect, fn) }

// OnDisconnect adds a listener called after a client's connection ended and
// its subscriptions were released.
func (s *Server) OnDisconnect(fn func(c Caller)) { add(s, &s.listeners.disconnect, fn) }

// OnSubscribe adds a listener called when a client subscribed to a store;
// store is the full name, such as "Room:general".
func (s *Server) OnSubscribe(fn func(store string, c Caller)) {
	add(s, &s.listeners.subscribe, fn)
}

// OnUnsubscribe adds a listener called when a subscription ended by unsub
// or disconnect.
func (s *Server) OnUnsubscribe(fn func(store string, c Caller)) {
	add(s, &s.listeners.unsubscribe, fn)
}

// OnStoreCreated adds a listener called when a store instance was
// initialised (its OnCreate hook ran); key is "" for a static store.
func (s *Server) OnStoreCreated(fn func(name, key string)) { add(s, &s.listeners.storeCreated, fn) }

// OnStoreDeleted adds a listener called when a store instance was deleted.
func (s *Server) OnStoreDeleted(fn func(name string)) { add(s, &s.listeners.storeDeleted, fn) }

// OnError adds a listener called for failures the server handled on its
// own: bad frames, handler panics, results that could not be encoded.
// clientID is "" when no client was involved.
func (s *Server) OnError(fn func(err error, clientID string)) { add(s, &s.listeners.errs, fn) }

func add[F any](s *Server, list *[]F, fn F) {
	s.listeners.mu.Lock()
	defer s.listeners.mu.Unlock()
	*list = append(*list, fn)
}

// each calls fn for a snapshot of list, recovering panics.
func each[F any](l *listeners, list *[]F, call func(F)) {
	l.mu.RLock()
	fns := *list
	l.mu.RUnlock()
	for _, fn := range fns {
		func() {
			defer func() {
				if v := recover(); v != nil {
					l.srv.logger().Error("hotstate: listener panicked", "panic", v)
				}
			}()
			call(fn)
		}()
	}
}

func (l *listeners) connected(c Caller) { each(l, &l.connect, func(f func(Caller)) { f(c) }) }
func (l *listeners) disconnected(c Caller) {
	each(l, &l.disconnect, func(f func(Caller)) { f(c) })
}
func (l *listeners) subscribed(store string, c Caller) {
	each(l, &l.subscribe, func(f func(string, Caller)) { f(store, c) })
}
func (l *listeners) unsubscribed(store string, c Caller) {
	each(l, &l.unsubscribe, func(f func(string, Caller)) { f(store, c) })
}
func (l *listeners) created(name, key string) {
	l.srv.opts.obs.created(l.srv, name)
	each(l, &l.storeCreated, func(f func(string, string)) { f(name, key) })
}
func (l *listeners) deleted(name string) {
	l.srv.opts.obs.deleted(l.srv, name)
	each(l, &l.storeDeleted, func(f func(string)) { f(name) })
}
func (l *listeners) failed(err error, clientID string) {
	each(l, &l.errs, func(f func(error, string)) { f(err, clientID) })
}
