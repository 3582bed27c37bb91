package hotinspect

import (
	"strconv"
	"strings"
	"sync"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
)

// entry is one line of the timeline.
type entry struct {
	// ID grows by one per entry, so the page can tell the new ones.
	ID uint64 `json:"id"`
	// At is when it happened, in Unix milliseconds.
	At int64 `json:"at"`
	// Kind is "change", "call", "event", "connect" or "disconnect".
	Kind string `json:"kind"`
	// Store is the instance changed, or the one an event went to.
	Store string `json:"store,omitempty"`
	// Function is the function called, or the event's channel.
	Function string `json:"function,omitempty"`
	// Client is the client that called, connected or disconnected, or the
	// one an event went to.
	Client string `json:"client,omitempty"`
	// Code is a call's result code, or a closed connection's close code.
	Code string `json:"code,omitempty"`
	// Ms is a call's duration in milliseconds.
	Ms float64 `json:"ms,omitempty"`
	// Version and Bytes describe a change.
	Version uint64 `json:"version,omitempty"`
	Bytes   int    `json:"bytes,omitempty"`
}

// recorder keeps what the Observer heard since the last refresh.
type recorder struct {
	keep int

	mu sync.Mutex // guards everything below
	// entries holds at most keep entries, oldest first.
	entries []entry
	nextID  uint64
	// changes counts changes per instance since the last refresh.
	changes map[string]int
}

func (r *recorder) add(e entry) {
	r.mu.Lock()
	r.nextID++
	e.ID = r.nextID
	if len(r.entries) >= r.keep {
		n := copy(r.entries, r.entries[len(r.entries)-r.keep+1:])
		r.entries = r.entries[:n]
	}
	r.entries = append(r.entries, e)
	if e.Kind == "change" {
		if r.changes == nil {
			r.changes = map[string]int{}
		}
		r.changes[e.Store]++
	}
	r.mu.Unlock()
}

// take returns the entries after id and the changes counted since the
// last take.
func (r *recorder) take() (entries []entry, last uint64, changes map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	entries = append([]entry(nil), r.entries...)
	changes, r.changes = r.changes, nil
	return entries, r.nextID, changes
}

// reset forgets the counts when nobody watches any more; the entries stay
// for the next page.
func (r *recorder) reset() {
	r.mu.Lock()
	r.changes = nil
	r.mu.Unlock()
}

func now() int64 { return time.Now().UnixMilli() }

// Observer returns the observer to give the server with
// hotstate.WithObserver. While no page is open each of its functions
// returns after one atomic load.
func (i *Inspector) Observer() *hotstate.Observer {
	return &hotstate.Observer{
		ConnOpened:     i.connOpened,
		ConnClosed:     i.connClosed,
		ChangeApplied:  i.changeApplied,
		CallDone:       i.callDone,
		EventEmitted:   i.eventEmitted,
		EngineAppended: i.engineAppended,
	}
}

func (i *Inspector) connOpened(c hotstate.ConnOpenedInfo) {
	if i.watchers.Load() == 0 {
		return
	}
	i.rec.add(entry{At: now(), Kind: "connect", Client: c.ClientID})
}

func (i *Inspector) connClosed(c hotstate.ConnClosedInfo) {
	if i.watchers.Load() == 0 {
		return
	}
	e := entry{At: now(), Kind: "disconnect", Client: c.ClientID}
	if c.Code != 0 {
		e.Code = strconv.Itoa(c.Code)
	}
	i.rec.add(e)
}

func (i *Inspector) changeApplied(c hotstate.ChangeInfo) {
	if i.watchers.Load() == 0 || strings.HasPrefix(c.Instance, systemPrefix) {
		return
	}
	i.rec.add(entry{At: now(), Kind: "change", Store: c.Instance, Version: c.Version, Bytes: c.Bytes})
}

func (i *Inspector) callDone(c hotstate.CallInfo) {
	if i.watchers.Load() == 0 {
		return
	}
	i.rec.add(entry{At: now(), Kind: "call", Function: c.Function, Client: c.ClientID, Code: c.Code, Ms: float64(c.Duration.Microseconds()) / 1000})
}

func (i *Inspector) eventEmitted(e hotstate.EventInfo) {
	if i.watchers.Load() == 0 {
		return
	}
	i.rec.add(entry{At: now(), Kind: "event", Function: e.Channel, Store: e.Store, Client: e.ClientID})
}

func (i *Inspector) engineAppended(a hotstate.AppendInfo) {
	if i.watchers.Load() == 0 || strings.HasPrefix(a.Instance, systemPrefix) {
		return
	}
	i.appends.Add(1)
	d := int64(a.Duration)
	i.appendNanos.Add(d)
	for m := i.maxAppend.Load(); d > m && !i.maxAppend.CompareAndSwap(m, d); m = i.maxAppend.Load() {
	}
	switch {
	case a.IsConflict():
		i.conflicts.Add(1)
	case a.Err != nil:
		i.appendErrs.Add(1)
	}
}
