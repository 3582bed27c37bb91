package hotstate

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"

	"github.com/hotstate/hotstate/core/wire"
)

// storeDef is a registered store as the server sees it, without its type:
// a static store ("Todos", whose only key is "") or a family ("Room:*").
type storeDef interface {
	pattern() string
	subscribe(s *session, key string, f wire.Frame) error
	names() []string
	getAny(key string) any
	has(key string) bool
	remove(key string) bool
	reset(key string)
	init(key string)
	isInitialized(key string) bool
	subscriberCount(key string) int
	allowed(c Caller, key string) bool
	presenceWho() func(Caller) (string, any)
	broadcast(key string, frame []byte)
	stats() []InstanceStats
}

// hookSet holds a family's lifecycle hooks.
type hookSet[T any] struct {
	onCreate    func(key string, state *T)
	onTerminate func(key string)
	onIdle      func(key string)
	allow       func(c Caller, key string) bool
	onSave      func(ctx context.Context, key string, state T) error
	presence    func(c Caller) (member string, meta any)
}

// family is the typed engine behind Store and Family: defaults, hooks and
// the live instances by key.
type family[T any] struct {
	srv      *Server
	name     string // "Todos" or "Room:*"
	prefix   string // "" or "Room:"
	defaults T

	hookMu  sync.RWMutex // guards hookSet
	hookSet hookSet[T]

	mu        sync.Mutex // guards instances
	instances map[string]*instance[T]
}

func newFamily[T any](srv *Server, name, prefix string, defaults T) *family[T] {
	// Every Update clones the state; a type Clone would copy unsafely is
	// refused now rather than panicking, or sharing memory, later.
	if err := wire.CheckClone(reflect.TypeFor[T]()); err != nil {
		panic(fmt.Sprintf("hotstate: store %q: %v", name, err))
	}
	f := &family[T]{
		srv:       srv,
		name:      name,
		prefix:    prefix,
		defaults:  wire.Clone(defaults),
		instances: map[string]*instance[T]{},
	}
	srv.addStore(f)
	return f
}

func (f *family[T]) pattern() string { return f.name }

func (f *family[T]) hooks() hookSet[T] {
	f.hookMu.RLock()
	defer f.hookMu.RUnlock()
	return f.hookSet
}

func (f *family[T]) setHook(fn func(*hookSet[T])) {
	f.hookMu.Lock()
	defer f.hookMu.Unlock()
	fn(&f.hookSet)
}

func (f *family[T]) fullName(key string) string {
	if f.prefix == "" {
		return f.name
	}
	return f.prefix + key
}

// acquire returns the instance for key, creating it uninitialised.
func (f *family[T]) acquire(key string) *instance[T] {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, ok := f.instances[key]
	if !ok {
		in = newInstance(f, key)
		f.instances[key] = in
	}
	return in
}

func (f *family[T]) existing(key string) (*instance[T], bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, ok := f.instances[key]
	return in, ok
}

func (f *family[T]) forget(in *instance[T]) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.instances[in.key] == in {
		delete(f.instances, in.key)
	}
}

func (f *family[T]) get(key string) T {
	in, ok := f.existing(key)
	if !ok {
		return wire.Clone(f.defaults)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return wire.Clone(in.state)
}

func (f *family[T]) getAny(key string) any { return f.get(key) }

// has reports whether key's instance exists on any node.
func (f *family[T]) has(key string) bool {
	if in, ok := f.existing(key); ok && in.exists() {
		return true
	}
	if !f.srv.opts.shared {
		return false
	}
	_, _, err := f.srv.opts.engine.Load(context.Background(), f.fullName(key))
	return err == nil
}

// find returns key's instance when it exists, loading it from the engine
// when another node made it, for Delete and Reset, which end an instance
// wherever it was created.
func (f *family[T]) find(key string) (*instance[T], bool) {
	in, ok := f.existing(key)
	if ok && (in.exists() || !f.srv.opts.shared) {
		return in, true // Delete and Reset see for themselves whether it is live
	}
	if !f.srv.opts.shared || (!ok && !f.has(key)) {
		return nil, false
	}
	in = f.acquire(key)
	in.watch()
	if _, _, err := in.load(); err != nil {
		f.srv.listeners.failed(err, "")
		return nil, false
	}
	return in, true
}

func (f *family[T]) remove(key string) bool {
	in, ok := f.find(key)
	return ok && in.remove()
}

func (f *family[T]) reset(key string) {
	if in, ok := f.find(key); ok {
		in.reset()
	}
}

func (f *family[T]) init(key string) {
	in := f.acquire(key)
	created, err := in.ensureInit("Init")
	if err != nil {
		panic(err)
	}
	if created {
		f.srv.listeners.created(in.name, key)
	}
}

func (f *family[T]) isInitialized(key string) bool {
	in, ok := f.existing(key)
	return ok && in.ready.Load()
}

// subscriberCount is the number of subscribers across every node, or this
// node's when the engine cannot say.
func (f *family[T]) subscriberCount(key string) int {
	if n, err := f.srv.opts.engine.AddSubscribers(context.Background(), f.fullName(key), 0); err == nil {
		return n
	}
	if in, ok := f.existing(key); ok {
		return in.topic.subscriberCount()
	}
	return 0
}

// local returns the full names of the instances that exist on this node.
func (f *family[T]) local() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for _, in := range f.instances {
		if in.exists() {
			names = append(names, in.name)
		}
	}
	return names
}

// names returns the full names of the instances that exist, on any node.
func (f *family[T]) names() []string {
	names := f.local()
	if f.srv.opts.shared {
		prefix := f.prefix
		if prefix == "" {
			prefix = f.name
		}
		all, err := f.srv.opts.engine.Names(context.Background(), prefix)
		if err != nil {
			f.srv.listeners.failed(fmt.Errorf("hotstate: store %q: listing instances: %w", f.name, err), "")
		}
		for _, n := range all {
			// Only this store's: not a longer static name, nor an
			// instance of a family with a longer prefix.
			if def, _, ok := f.srv.resolve(n); ok && def == storeDef(f) && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return names
}

func (f *family[T]) allowed(c Caller, key string) bool {
	allow := f.hooks().allow
	return f.srv.permits(func() bool { return allow(c, key) }, allow != nil)
}

func (f *family[T]) subscribe(s *session, key string, fr wire.Frame) error {
	return f.use(key, "subscribe", func(in *instance[T]) (bool, error) { return in.join(s, fr) })
}

// emit sends an event to the subscribers of key's instance on every node;
// on each, in order with the changes it applies.
func (f *family[T]) emit(key, channel string, data any) error {
	name := f.fullName(key)
	frame, err := encodeEvent(name, channel, data)
	if err != nil {
		return err
	}
	f.srv.opts.obs.emitted(channel, name, "")
	return f.srv.publish(toStore, name, frame)
}

// broadcast queues frame to this node's subscribers of key's instance.
func (f *family[T]) broadcast(key string, frame []byte) {
	if in, ok := f.existing(key); ok {
		in.mu.Lock()
		in.broadcastLocked(frame)
		in.mu.Unlock()
	}
}

func (f *family[T]) presenceWho() func(Caller) (string, any) { return f.hooks().presence }

// setPresence starts tracking the members of every instance by who.
func (f *family[T]) setPresence(who func(Caller) (string, any)) {
	if who == nil {
		panic(fmt.Sprintf("hotstate: store %q: Presence needs a rule", f.name))
	}
	f.srv.presenceFor()
	f.setHook(func(h *hookSet[T]) { h.presence = who })
}

// updatePresence changes the metadata of a member of key's instance.
func (f *family[T]) updatePresence(key, memberKey string, meta any) error {
	p := f.srv.presence.Load()
	if p == nil || f.presenceWho() == nil {
		return fmt.Errorf("hotstate: store %q has no presence", f.name)
	}
	return p.update(f.fullName(key), memberKey, meta)
}
