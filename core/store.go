package hotstate

import (
	"context"

	"github.com/hotstate/hotstate/core/wire"
)

// Store is a static store: one named instance of state T that clients
// subscribe to by its name. T crosses the wire by its json tags, so one type
// serves a REST API and hotstate alike.
//
// A store is lazy: NewStore registers it, and OnCreate runs on its first use
// (a subscribe, a mutation or Init). Functions passed to Update and
// UpdateOps run while other writers of the instance wait and must not
// change the same store; UpdateOps' function also holds off readers.
// Hooks run without any store lock and may call any store; the one
// exception is noted at OnCreate.
type Store[T any] struct{ f *family[T] }

// NewStore registers a static store named name whose instances start from a
// deep copy of defaults. It panics if the name is taken or contains '*', and
// if T cannot be deep-copied (see wire.CheckClone): a type with an
// unexported field holding a map, slice or pointer needs that field
// exported, or MarshalJSON and UnmarshalJSON methods to be copied by.
func NewStore[T any](srv *Server, name string, defaults T) *Store[T] {
	return &Store[T]{f: newFamily(srv, name, "", defaults)}
}

// OnCreate sets the hook that runs on first use and after every reset's
// next use: it receives a fresh copy of the defaults to change, the way the
// overrides it sets are merged over them.
// Other uses of the instance wait until it returns. It changes the state it
// is given rather than calling its own instance: Update, UpdateOps, Set,
// Init, Reset and Delete on the key being created return (or, without an
// error result, panic with) ErrReentrant. OnStoreCreated listeners run after
// the use that created the instance, and may delete it.
func (s *Store[T]) OnCreate(fn func(state *T)) *Store[T] {
	s.f.setHook(func(h *hookSet[T]) { h.onCreate = func(_ string, state *T) { fn(state) } })
	return s
}

// OnTerminate sets the hook that runs before Reset and Delete, while the
// state is still readable with Get. Other resets and deletes of the
// instance wait for it; its own Reset or Delete of the instance does
// nothing, since that instance is on its way out already.
func (s *Store[T]) OnTerminate(fn func()) *Store[T] {
	s.f.setHook(func(h *hookSet[T]) { h.onTerminate = func(string) { fn() } })
	return s
}

// OnIdle sets the hook that runs when the last subscriber leaves. The store
// is still alive; the hook may Reset it, Delete it or leave it. It runs
// once per idle transition, and subscribers arriving meanwhile wait until
// it returns, so it decides about an instance that is still idle.
func (s *Store[T]) OnIdle(fn func()) *Store[T] {
	s.f.setHook(func(h *hookSet[T]) { h.onIdle = func(string) { fn() } })
	return s
}

// OnSave sets the hook that stores the state in the application's own
// database. It runs with a copy of the state after changes: once they have
// stopped for a quiet period, and at least every so often while they keep
// coming (WithSaveDelay: 2 s and 10 s by default); before Reset and Delete
// when something is unsaved; and from Shutdown. It never runs twice at once
// for one instance. An error (or panic) is reported to OnError listeners
// and the save is retried, backing off. Load what it saved in OnCreate.
func (s *Store[T]) OnSave(fn func(ctx context.Context, state T) error) *Store[T] {
	s.f.setHook(func(h *hookSet[T]) {
		h.onSave = func(ctx context.Context, _ string, state T) error { return fn(ctx, state) }
	})
	return s
}

// Presence lists who is subscribed, as the store "presence:" + its name
// ("presence:Config"), which clients subscribe to like any other and which
// admits whoever this store admits. who names the member a connection
// counts as (a user id from Caller.Identity, so two tabs are one member,
// or Caller.ID for one entry per connection) and the metadata shown for
// it. A member whose last connection left stays listed for the heartbeat
// interval, so a quick reconnect does not flap the list.
func (s *Store[T]) Presence(who func(c Caller) (member string, meta any)) *Store[T] {
	s.f.setPresence(who)
	return s
}

// UpdatePresence changes the metadata shown for a member that is present.
func (s *Store[T]) UpdatePresence(member string, meta any) error {
	return s.f.updatePresence("", member, meta)
}

// Allow admits only subscribers for which allow returns true; the others
// get an err frame with the code "forbidden".
func (s *Store[T]) Allow(allow func(c Caller) bool) *Store[T] {
	s.f.setHook(func(h *hookSet[T]) { h.allow = func(c Caller, _ string) bool { return allow(c) } })
	return s
}

// Name returns the store's name.
func (s *Store[T]) Name() string { return s.f.name }

// Update changes the state through fn, which gets a deep copy to mutate,
// and sends subscribers the JSON Patch between the old and new state.
//
// fn may run more than once: when stores are shared between nodes, a writer
// that loses the race for the next version catches up and runs fn again on
// the newer state. So fn must change only the state it is given and take
// ids and times from that state or from randomness, never from a counter
// it increments. On a single node with the default engine it runs once.
// fn runs while other writers of the instance wait (readers and
// subscribers do not), so it must not change its own store.
func (s *Store[T]) Update(fn func(state *T)) error { return s.f.update("", fn) }

// UpdateOps changes the state in place through fn, which returns the
// operations that describe its change; no diff runs. The operations must be
// exactly what fn did, or subscribers drift from the server. Since there is
// no copy to fall back on, a change that cannot be encoded (a "__proto__"
// key, a NaN) returns its error but stays in the state; use Update where
// such values can come from callers. Like Update's, fn may run more than
// once when stores are shared between nodes: a change the log refused is
// replaced by the log's state, and fn runs again on it.
func (s *Store[T]) UpdateOps(fn func(state *T) []Op) error { return s.f.updateOps("", fn) }

// Set replaces the whole state and sends subscribers a snapshot.
func (s *Store[T]) Set(state T) error { return s.f.set("", state) }

// Get returns a deep copy of the current state; the defaults if the store
// was never used. It does not initialise the store.
func (s *Store[T]) Get() T { return s.f.get("") }

// Has reports whether the store exists: used since creation or last Delete.
func (s *Store[T]) Has() bool { return s.f.has("") }

// Delete runs OnTerminate, sends del to subscribers and forgets the state;
// the next use creates it anew. It reports whether the store existed.
func (s *Store[T]) Delete() bool { return s.f.remove("") }

// Reset runs OnTerminate and puts back the raw defaults, uninitialised:
// OnCreate runs again on next use, not now.
func (s *Store[T]) Reset() { s.f.reset("") }

// Init creates the store now, running OnCreate, instead of on first use.
func (s *Store[T]) Init() { s.f.init("") }

// IsInitialized reports whether OnCreate has run since creation or reset.
func (s *Store[T]) IsInitialized() bool { return s.f.isInitialized("") }

// SubscriberCount returns the number of connections subscribed, on every
// node sharing the engine.
func (s *Store[T]) SubscriberCount() int { return s.f.subscriberCount("") }

// Emit sends an event on channel to the store's subscribers only, encoded
// once, after every change already sent to them: typing indicators,
// cursors and other signals that do not belong in the state. Clients hear
// it with their usual event listeners; its frame names the store. The
// names Server.Emit refuses are refused here too.
func (s *Store[T]) Emit(channel string, data any) error { return s.f.emit("", channel, data) }

// Family is a dynamic store: a pattern such as "Room:*" whose instances are
// created on demand, one per key; clients subscribe to "Room:general". Its
// methods are Store's, taking the key first.
type Family[T any] struct{ f *family[T] }

// NewFamily registers a family; pattern must end in '*' after a non-empty
// prefix, such as "Room:*". It panics if the pattern is taken, and as
// NewStore does if T cannot be deep-copied.
func NewFamily[T any](srv *Server, pattern string, defaults T) *Family[T] {
	prefix := pattern
	if n := len(pattern); n > 0 && pattern[n-1] == '*' {
		prefix = pattern[:n-1]
	}
	return &Family[T]{f: newFamily(srv, pattern, prefix, defaults)}
}

// OnCreate is Store.OnCreate for every instance; it also receives the key.
func (s *Family[T]) OnCreate(fn func(key string, state *T)) *Family[T] {
	s.f.setHook(func(h *hookSet[T]) { h.onCreate = fn })
	return s
}

// OnTerminate is Store.OnTerminate for every instance; it receives the key.
func (s *Family[T]) OnTerminate(fn func(key string)) *Family[T] {
	s.f.setHook(func(h *hookSet[T]) { h.onTerminate = fn })
	return s
}

// OnIdle is Store.OnIdle for every instance; it receives the key.
func (s *Family[T]) OnIdle(fn func(key string)) *Family[T] {
	s.f.setHook(func(h *hookSet[T]) { h.onIdle = fn })
	return s
}

// Presence is Store.Presence for every instance: "presence:Room:general"
// lists the members of "Room:general".
func (s *Family[T]) Presence(who func(c Caller) (member string, meta any)) *Family[T] {
	s.f.setPresence(who)
	return s
}

// UpdatePresence is Store.UpdatePresence for the instance key.
func (s *Family[T]) UpdatePresence(key, member string, meta any) error {
	return s.f.updatePresence(key, member, meta)
}

// OnSave is Store.OnSave for every instance; it receives the key.
func (s *Family[T]) OnSave(fn func(ctx context.Context, key string, state T) error) *Family[T] {
	s.f.setHook(func(h *hookSet[T]) { h.onSave = fn })
	return s
}

// Allow is Store.Allow for every instance; it receives the key, so access
// can depend on which room is asked for.
func (s *Family[T]) Allow(allow func(c Caller, key string) bool) *Family[T] {
	s.f.setHook(func(h *hookSet[T]) { h.allow = allow })
	return s
}

// Pattern returns the family's pattern, such as "Room:*".
func (s *Family[T]) Pattern() string { return s.f.name }

// Update is Store.Update for the instance key.
func (s *Family[T]) Update(key string, fn func(state *T)) error { return s.f.update(key, fn) }

// UpdateOps is Store.UpdateOps for the instance key.
func (s *Family[T]) UpdateOps(key string, fn func(state *T) []Op) error {
	return s.f.updateOps(key, fn)
}

// Set is Store.Set for the instance key.
func (s *Family[T]) Set(key string, state T) error { return s.f.set(key, state) }

// Get is Store.Get for the instance key.
func (s *Family[T]) Get(key string) T { return s.f.get(key) }

// Has is Store.Has for the instance key.
func (s *Family[T]) Has(key string) bool { return s.f.has(key) }

// Delete is Store.Delete for the instance key.
func (s *Family[T]) Delete(key string) bool { return s.f.remove(key) }

// Reset is Store.Reset for the instance key.
func (s *Family[T]) Reset(key string) { s.f.reset(key) }

// Init is Store.Init for the instance key.
func (s *Family[T]) Init(key string) { s.f.init(key) }

// IsInitialized is Store.IsInitialized for the instance key.
func (s *Family[T]) IsInitialized(key string) bool { return s.f.isInitialized(key) }

// SubscriberCount is Store.SubscriberCount for the instance key.
func (s *Family[T]) SubscriberCount(key string) int { return s.f.subscriberCount(key) }

// Emit is Store.Emit for the subscribers of the instance key, such as the
// members of one room.
func (s *Family[T]) Emit(key, channel string, data any) error { return s.f.emit(key, channel, data) }

// Keys returns the keys of the family's existing instances.
func (s *Family[T]) Keys() []string {
	names := s.f.names()
	for i, n := range names {
		names[i] = n[len(s.f.prefix):]
	}
	return names
}

// Instance is an untyped handle on one store instance, found by its full name
// with Server.Lookup.
type Instance struct {
	def  storeDef
	key  string
	name string
}

// Name returns the full name of the instance.
func (h *Instance) Name() string { return h.name }

// Get returns a deep copy of the state as the store's own type T.
func (h *Instance) Get() any { return h.def.getAny(h.key) }

// Has reports whether the instance exists.
func (h *Instance) Has() bool { return h.def.has(h.key) }

// Delete deletes the instance and reports whether it existed.
func (h *Instance) Delete() bool { return h.def.remove(h.key) }

// Reset resets the instance.
func (h *Instance) Reset() { h.def.reset(h.key) }

// Init initialises the instance.
func (h *Instance) Init() { h.def.init(h.key) }

// IsInitialized reports whether the instance is initialised.
func (h *Instance) IsInitialized() bool { return h.def.isInitialized(h.key) }

// SubscriberCount returns the number of subscribed connections, on every
// node sharing the engine.
func (h *Instance) SubscriberCount() int { return h.def.subscriberCount(h.key) }

// Op is one JSON Patch operation for UpdateOps; build it with AddOp,
// RemoveOp or ReplaceOp.
type Op = wire.Op

// AddOp returns an add operation at the JSON Pointer path.
func AddOp(path string, value any) Op { return Op{Op: wire.OpAdd, Path: path, Value: value} }

// RemoveOp returns a remove operation at the JSON Pointer path.
func RemoveOp(path string) Op { return Op{Op: wire.OpRemove, Path: path} }

// ReplaceOp returns a replace operation at the JSON Pointer path.
func ReplaceOp(path string, value any) Op { return Op{Op: wire.OpReplace, Path: path, Value: value} }
