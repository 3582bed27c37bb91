// Package hotstate is a real-time state synchronisation engine: the server
// owns named stores, clients subscribe and receive a snapshot followed by
// JSON Patch deltas, call server functions and hear server events, over the
// binary MessagePack protocol of docs/PROTOCOL.md.
//
// The package imports no WebSocket library. A transport (hothttp, hotgin,
// hotecho, hotfiber) upgrades the HTTP request and hands the connection to
// Server.ServeConn through the Conn interface.
package hotstate

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hotstate/hotstate/core/wire"
)

// Server owns stores, functions and connected clients. Create it with New,
// register stores and functions, then mount a transport. Its methods are
// safe for concurrent use.
type Server struct {
	opts      options
	listeners listeners

	mu       sync.RWMutex // guards statics, families, funcs, events, sessions, closed, drained
	statics  map[string]storeDef
	families []storeDef
	funcs    map[string]*function
	events   map[string]reflect.Type // typed events (NewEvent), for Schema
	sessions map[string]*session
	closed   bool
	// drained is closed when the last session ends after Shutdown began.
	drained chan struct{}
	// saves holds the instances whose OnSave hook has changes to save.
	saves saves
	// presence tracks members for stores that asked for it; nil until one
	// did.
	presence     atomic.Pointer[presence]
	presenceOnce sync.Once
	// stopEvents stops delivering events published through the engine.
	stopEvents func()
}

// New returns a Server configured by opts. Defaults: heartbeat 30 s, inbound
// frame limit 64 KiB, outbound queue 4 MiB per client, 32 calls in flight and
// 128 subscriptions per client, names up to 256 bytes, write timeout 10 s,
// and a logger that discards everything.
func New(opts ...Option) *Server {
	s := &Server{
		opts:     defaultOptions(),
		statics:  map[string]storeDef{},
		funcs:    map[string]*function{},
		sessions: map[string]*session{},
	}
	for _, o := range opts {
		o.apply(&s.opts)
	}
	if s.opts.engine == nil {
		s.opts.engine = NewMemoryEngine(max(s.opts.historyCount, 256), max(s.opts.historyBytes, 256<<10))
	} else {
		s.opts.shared = true
	}
	s.opts.engine = s.opts.obs.engine(s.opts.engine)
	s.listeners.srv = s
	s.listenEvents()
	return s
}

func (s *Server) logger() *slog.Logger { return s.opts.logger }

// checkpointEvery is how many versions apart a store's snapshot is handed to
// the engine, so its log may be trimmed while Load still rebuilds the state.
func (s *Server) checkpointEvery() uint64 { return 128 }

// Logger returns the logger set with WithLogger, for transports to report
// failures of their own through.
func (s *Server) Logger() *slog.Logger { return s.opts.logger }

// newEpoch returns the epoch of a new instance lifetime: 64 random bits, so
// an (epoch, version) pair names one state across restarts and nodes; two
// lifetimes of one instance share an epoch with odds of 2^-63. The lowest
// bit tells the kind of lifetime, for nodes that load it from the log: set
// for one an OnCreate hook made (created), clear for the defaults Reset
// leaves, which the next use initialises anew.
func newEpoch(created bool) uint64 {
	for {
		e := rand.Uint64() &^ 1
		if created {
			e |= 1
		}
		if e != 0 {
			return e
		}
	}
}

// createdEpoch reports whether epoch began a lifetime an OnCreate hook made.
func createdEpoch(epoch uint64) bool { return epoch&1 == 1 }

// MaxFrameBytes is the inbound message limit a transport should configure.
func (s *Server) MaxFrameBytes() int { return s.opts.maxFrameBytes }

// ServeConn serves one connection until it closes and returns nil when it
// ended normally. Transports call it on the goroutine that upgraded the
// request. After Shutdown has begun it closes conn with 1001 and returns
// ErrServerClosed.
func (s *Server) ServeConn(ctx context.Context, conn Conn) error {
	ss, err := s.admit(conn)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() {
		ss.w.close(wire.CloseGoingAway, "going away", false)
	})
	defer stop()
	return ss.run()
}

// admit makes a session for conn and registers it, unless Shutdown has
// begun: then it closes conn with 1001 and returns ErrServerClosed.
func (s *Server) admit(conn Conn) (*session, error) {
	ss := newSession(s, conn)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = conn.Close(wire.CloseGoingAway, "server shutting down")
		return nil, ErrServerClosed
	}
	s.sessions[ss.caller.ID] = ss
	s.mu.Unlock()
	return ss, nil
}

func (s *Server) forget(ss *session) {
	s.mu.Lock()
	delete(s.sessions, ss.caller.ID)
	if s.drained != nil && len(s.sessions) == 0 {
		close(s.drained)
		s.drained = nil
	}
	s.mu.Unlock()
}

// Shutdown closes every connection with 1001 (going away), refuses new
// ones, and waits until all have ended, their OnDisconnect listeners
// included, or ctx is done. When ctx ends first
// it closes the remaining connections at once and returns ctx.Err() without
// waiting further: function handlers that ignore their context are
// abandoned (and logged), and their sessions end when they return. Either
// way it then runs the OnSave hooks of instances with unsaved changes.
func (s *Server) Shutdown(ctx context.Context) error {
	if p := s.presence.Load(); p != nil {
		p.stop()
	}
	defer s.stopEvents()
	s.mu.Lock()
	s.closed = true
	for _, ss := range s.sessions {
		ss.w.close(wire.CloseGoingAway, "server shutting down", false)
	}
	if len(s.sessions) == 0 {
		s.mu.Unlock()
		return s.saves.flushAll(ctx)
	}
	if s.drained == nil {
		s.drained = make(chan struct{})
	}
	drained := s.drained
	s.mu.Unlock()
	select {
	case <-drained:
		return s.saves.flushAll(ctx)
	case <-ctx.Done():
	}
	s.mu.RLock()
	left := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		left = append(left, ss)
	}
	s.mu.RUnlock()
	for _, ss := range left {
		ss.abandon()
	}
	if len(left) > 0 {
		s.logger().Warn("hotstate: shutdown deadline passed; abandoning connections", "connections", len(left), "err", ctx.Err())
	}
	// Last chance for unsaved changes; hooks see the ended ctx and may
	// still finish a quick write.
	_ = s.saves.flushAll(ctx)
	return ctx.Err()
}

func (s *Server) panicked(v any, c Caller) {
	s.logger().Error("hotstate: panic", "client", c.ID, "panic", v)
	s.listeners.failed(fmt.Errorf("hotstate: panic serving client %s", c.ID), c.ID)
}

// addStore registers a static store or a family ("Room:*").
func (s *Server) addStore(def storeDef) {
	name := def.pattern()
	static := !strings.HasSuffix(name, "*")
	if name == "" || name == "*" || (static && strings.Contains(name, "*")) || strings.Count(name, "*") > 1 {
		panic(fmt.Sprintf("hotstate: bad store name %q: use \"Name\" or \"Prefix:*\"", name))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	taken := s.statics[name] != nil || slices.ContainsFunc(s.families, func(d storeDef) bool { return d.pattern() == name })
	if taken {
		panic(fmt.Errorf("%w: store %q", ErrDuplicate, name))
	}
	if static {
		s.statics[name] = def
		return
	}
	s.families = append(s.families, def)
	// Longest prefix first, so "Org:Room:*" wins over "Org:*".
	slices.SortFunc(s.families, func(a, b storeDef) int { return len(b.pattern()) - len(a.pattern()) })
}

// resolve finds the store definition and instance key for a full name.
func (s *Server) resolve(name string) (storeDef, string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if d, ok := s.statics[name]; ok {
		return d, "", true
	}
	for _, d := range s.families {
		prefix := strings.TrimSuffix(d.pattern(), "*")
		if key, ok := strings.CutPrefix(name, prefix); ok && key != "" {
			return d, key, true
		}
	}
	return nil, "", false
}

// Lookup returns an untyped handle on the store instance with the full name
// ("Config", "Room:general"), whether or not it exists yet.
func (s *Server) Lookup(name string) (*Instance, bool) {
	d, key, ok := s.resolve(name)
	if !ok {
		return nil, false
	}
	return &Instance{def: d, key: key, name: name}, true
}

// HasStore reports whether the store instance with the full name exists.
func (s *Server) HasStore(name string) bool {
	d, key, ok := s.resolve(name)
	return ok && d.has(key)
}

// DeleteStore deletes the store instance with the full name and reports
// whether it existed.
func (s *Server) DeleteStore(name string) bool {
	d, key, ok := s.resolve(name)
	return ok && d.remove(key)
}

// ListStores returns the full names of every existing store instance, sorted.
func (s *Server) ListStores() []string {
	s.mu.RLock()
	defs := slices.Collect(func(yield func(storeDef) bool) {
		for _, d := range s.statics {
			if !yield(d) {
				return
			}
		}
		for _, d := range s.families {
			if !yield(d) {
				return
			}
		}
	})
	s.mu.RUnlock()
	var names []string
	for _, d := range defs {
		names = append(names, d.names()...)
	}
	slices.Sort(names)
	return names
}
