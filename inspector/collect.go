package hotinspect

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
)

// overview is the state of the "$inspect" store.
type overview struct {
	Engine   engineRow     `json:"engine"`
	Stores   []storeRow    `json:"stores"`
	Sessions []sessionRow  `json:"sessions"`
	Presence []presenceRow `json:"presence"`
	Nodes    []nodeRow     `json:"nodes"`
	// Actions tells the page whether to offer them.
	Actions bool `json:"actions"`
}

type engineRow struct {
	// Type is the engine's Go type: "*hotredis.Engine", say.
	Type string `json:"type"`
	// Appends and the rest count Engine.Append while a page was open.
	Appends   int64   `json:"appends"`
	AvgMs     float64 `json:"avgMs"`
	MaxMs     float64 `json:"maxMs"`
	Conflicts int64   `json:"conflicts"`
	Errors    int64   `json:"errors"`
}

type storeRow struct {
	Name  string `json:"name"`
	Store string `json:"store"`
	// Epoch is hexadecimal: 64 bits do not fit a JavaScript number.
	Epoch       string  `json:"epoch"`
	Version     uint64  `json:"version"`
	Subscribers int     `json:"subscribers"`
	Bytes       int     `json:"bytes"`
	Rate        float64 `json:"rate"` // changes per second
}

type sessionRow struct {
	ID        string   `json:"id"`
	Addr      string   `json:"addr"`
	Identity  string   `json:"identity"`
	Inspector bool     `json:"inspector"`
	Subs      []string `json:"subs"`
	Queue     int      `json:"queue"`
	In        uint64   `json:"in"`
	Out       uint64   `json:"out"`
	InRate    float64  `json:"inRate"` // frames per second
	OutRate   float64  `json:"outRate"`
}

type presenceRow struct {
	Store   string   `json:"store"`
	Members []member `json:"members"`
}

type member struct {
	Key  string `json:"key"`
	Meta any    `json:"meta"`
}

// timeline is the state of the "$inspect.timeline" store.
type timeline struct {
	Entries []entry `json:"entries"`
}

// collector is what the aggregating goroutine remembers between refreshes.
type collector struct {
	at        time.Time
	frames    map[string][2]uint64 // client id → frames in, out
	lastEntry uint64
}

// refresh brings the system stores up to date.
func (i *Inspector) refresh() {
	i.mu.Lock()
	srv, ov, tl := i.srv, i.overview, i.timeline
	i.mu.Unlock()
	c := &i.loop
	now := time.Now()
	secs := now.Sub(c.at).Seconds()
	if c.at.IsZero() {
		secs = 0
	}
	c.at = now
	entries, last, changes := i.rec.take()

	next := overview{Actions: i.actions, Engine: i.engineRow(srv), Nodes: i.ask()}
	if next.Nodes == nil {
		next.Nodes = []nodeRow{}
	}
	for _, in := range srv.Instances() {
		switch {
		case strings.HasPrefix(in.Name, systemPrefix):
			continue
		case strings.HasPrefix(in.Name, "presence:"):
			next.Presence = append(next.Presence, presenceOf(srv, in.Name))
			continue
		}
		next.Stores = append(next.Stores, storeRow{
			Name: in.Name, Store: in.Store, Epoch: strconv.FormatUint(in.Epoch, 16), Version: in.Version,
			Subscribers: in.Subscribers, Bytes: in.Bytes, Rate: rate(changes[in.Name], secs),
		})
	}
	frames := map[string][2]uint64{}
	for _, s := range srv.Sessions() {
		prev, seen := c.frames[s.ClientID]
		frames[s.ClientID] = [2]uint64{s.FramesIn, s.FramesOut}
		row := sessionRow{
			ID: s.ClientID, Addr: s.RemoteAddr, Identity: identity(s.Identity), Inspector: s.Identity == watcher{},
			Subs: s.Subscriptions, Queue: s.QueueBytes, In: s.FramesIn, Out: s.FramesOut,
		}
		if seen {
			row.InRate, row.OutRate = rate(int(s.FramesIn-prev[0]), secs), rate(int(s.FramesOut-prev[1]), secs)
		}
		if row.Subs == nil {
			row.Subs = []string{}
		}
		next.Sessions = append(next.Sessions, row)
	}
	c.frames = frames
	if next.Stores == nil {
		next.Stores = []storeRow{}
	}
	if next.Presence == nil {
		next.Presence = []presenceRow{}
	}
	if err := ov.Update(func(o *overview) { *o = next }); err != nil {
		srv.Logger().Warn("hotinspect: refreshing the overview", "err", err)
	}
	if last != c.lastEntry {
		c.lastEntry = last
		if err := tl.Set(timeline{Entries: entries}); err != nil {
			srv.Logger().Warn("hotinspect: refreshing the timeline", "err", err)
		}
	}
}

func (i *Inspector) engineRow(srv *hotstate.Server) engineRow {
	e := engineRow{
		Type:      fmt.Sprintf("%T", srv.Engine()),
		Appends:   i.appends.Load(),
		MaxMs:     ms(i.maxAppend.Load()),
		Conflicts: i.conflicts.Load(),
		Errors:    i.appendErrs.Load(),
	}
	if e.Appends > 0 {
		e.AvgMs = ms(i.appendNanos.Load() / e.Appends)
	}
	return e
}

// presenceOf lists the members of the presence store name.
func presenceOf(srv *hotstate.Server, name string) presenceRow {
	row := presenceRow{Store: strings.TrimPrefix(name, "presence:"), Members: []member{}}
	if h, ok := srv.Lookup(name); ok {
		if p, ok := h.Get().(hotstate.Presence); ok {
			for _, k := range slices.Sorted(maps.Keys(p)) {
				row.Members = append(row.Members, member{Key: k, Meta: p[k]})
			}
		}
	}
	return row
}

// identity shows what a transport's identity hook returned, briefly.
func identity(id any) string {
	switch id.(type) {
	case nil:
		return ""
	case watcher:
		return "inspector"
	}
	s := fmt.Sprint(id)
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// rate is n per second over secs, to one decimal, so that a steady rate
// does not patch the page every refresh.
func rate(n int, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return math.Round(float64(n)/secs*10) / 10
}

func ms(nanos int64) float64 { return math.Round(float64(nanos)/1e4) / 100 }
