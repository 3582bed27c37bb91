// Package hotinspect is a live inspector for a hotstate server: one web
// page, served by an http.Handler mounted next to the application, that
// shows the server's stores and instances, its sessions, a timeline of
// changes, calls and events, presence, and the engine.
//
//	insp := hotinspect.New(hotinspect.Authorize(isAdmin))
//	srv := hotstate.New(hotstate.WithObserver(insp.Observer()))
//	mux.Handle("/inspect/", http.StripPrefix("/inspect", insp.Handler(srv)))
//	defer insp.Close()
//
// The page is built on hotstate itself: the inspector registers two system
// stores on the server, "$inspect" (stores, sessions, presence, engine) and
// "$inspect.timeline" (the latest entries), and the page subscribes to them
// with the hotstate JavaScript client over a WebSocket the handler serves.
//
// It is locked by default. Every request to the handler, the page and its
// WebSocket alike, must pass the function given with Authorize; without one
// every request is refused with 403. Only connections made through the
// handler's WebSocket may subscribe to the system stores: a client of the
// application's own endpoint is refused them with "forbidden", whatever its
// identity. The page is read-only unless AllowActions is given.
//
// Nothing is collected while nobody watches: the Observer's functions
// check one atomic counter and return, and the goroutine that aggregates
// into the system stores runs only while a page is open.
package hotinspect

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
)

// The system stores' names. '$' starts no name an application would pick;
// Handler panics if the application took them.
const (
	overviewStore = "$inspect"
	timelineStore = "$inspect.timeline"
	systemPrefix  = "$inspect"
)

// Option configures an Inspector.
type Option interface{ apply(*Inspector) }

type optionFunc func(*Inspector)

func (f optionFunc) apply(i *Inspector) { f(i) }

// Authorize admits the requests for which allow returns true: the page,
// its WebSocket and, with AllowActions, its actions. Without it the
// inspector refuses every request with 403.
func Authorize(allow func(r *http.Request) bool) Option {
	return optionFunc(func(i *Inspector) { i.allow = allow })
}

// AllowActions lets the page reset and delete store instances and
// disconnect clients. Without it the page is read-only and the server
// refuses the actions with "forbidden".
func AllowActions() Option {
	return optionFunc(func(i *Inspector) { i.actions = true })
}

// WithInterval sets how often the system stores are refreshed while a page
// is open; 500 ms by default.
func WithInterval(d time.Duration) Option {
	return optionFunc(func(i *Inspector) {
		if d > 0 {
			i.interval = d
		}
	})
}

// WithTimelineSize sets how many entries the timeline keeps; 200 by
// default.
func WithTimelineSize(n int) Option {
	return optionFunc(func(i *Inspector) {
		if n > 0 {
			i.keep = n
		}
	})
}

// Token returns a rule for Authorize that admits requests carrying token
// as the query parameter "token" or as "Authorization: Bearer token". The
// page passes its own query on to its WebSocket, so opening
// /inspect/?token=... is enough. An empty token admits nobody.
func Token(token string) func(r *http.Request) bool {
	return func(r *http.Request) bool {
		got := r.URL.Query().Get("token")
		if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			got = b
		}
		return token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
	}
}

// Inspector collects what a server does while its page is watched and
// serves the page. Create it with New; its methods are safe for
// concurrent use.
type Inspector struct {
	allow    func(r *http.Request) bool
	actions  bool
	interval time.Duration
	keep     int

	// watchers counts the page's connections; everything the Observer
	// does first checks it.
	watchers atomic.Int32
	rec      recorder
	// appends, appendNanos, maxAppend, conflicts and appendErrs tally
	// Engine.Append while watched.
	appends, appendNanos, maxAppend, conflicts, appendErrs atomic.Int64

	mu       sync.Mutex // guards srv, overview, timeline, running, closed, stop, nodes.stop
	srv      *hotstate.Server
	overview *hotstate.Store[overview]
	timeline *hotstate.Store[timeline]
	running  bool
	closed   bool
	stop     chan struct{}
	// wg waits for the aggregating goroutine and for answers to other
	// nodes being published.
	wg sync.WaitGroup

	// loop is the aggregating goroutine's own.
	loop collector
	// nodes is what this node heard from the others.
	nodes nodes
}

// New returns an Inspector configured by opts. Give its Observer to the
// server and mount its Handler.
func New(opts ...Option) *Inspector {
	i := &Inspector{interval: 500 * time.Millisecond, keep: 200}
	for _, o := range opts {
		o.apply(i)
	}
	i.rec.keep = i.keep
	return i
}

// Close stops the aggregating goroutine, if it runs, stops listening to
// other nodes, and waits for its goroutines.
// The page's connections are the server's, which ends them on Shutdown.
func (i *Inspector) Close() {
	i.mu.Lock()
	i.closed = true
	if i.running {
		close(i.stop)
		i.running = false
	}
	stopNodes := i.nodes.stop
	i.mu.Unlock()
	if stopNodes != nil {
		stopNodes()
	}
	i.wg.Wait()
}

// watcher is the identity of the page's connections. Only the handler's
// WebSocket gives it, after the request passed Authorize; no transport of
// the application can produce a value of this unexported type.
type watcher struct{}

func isWatcher(c hotstate.Caller) bool {
	_, ok := c.Identity.(watcher)
	return ok
}

// watch starts aggregating when the first page connects.
func (i *Inspector) watch(c hotstate.Caller) {
	if !isWatcher(c) {
		return
	}
	i.watchers.Add(1)
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.running || i.closed || i.srv == nil {
		return
	}
	i.running = true
	i.stop = make(chan struct{})
	i.wg.Add(1)
	go i.run(i.stop)
}

func (i *Inspector) unwatch(c hotstate.Caller) {
	if isWatcher(c) {
		i.watchers.Add(-1)
	}
}

// run refreshes the system stores every interval until nobody watches or
// Close.
func (i *Inspector) run(stop chan struct{}) {
	defer i.wg.Done()
	t := time.NewTicker(i.interval)
	defer t.Stop()
	i.refresh()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		i.mu.Lock()
		if i.watchers.Load() == 0 && i.running && i.stop == stop {
			i.running = false
			i.mu.Unlock()
			i.rec.reset()
			return
		}
		i.mu.Unlock()
		i.refresh()
	}
}
