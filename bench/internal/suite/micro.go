package suite

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"sync"
	"time"

	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
	"github.com/wI2L/jsondiff"
)

// MicroResult holds the single-process measurements: update cost against
// jsondiff, frame sizes, and MessagePack against JSON.
type MicroResult struct {
	// UpdateItems is the size of the store in the update cost measurement.
	UpdateItems int `json:"updateItems"`
	// UpdateNs is Store.Update changing one field of a store of UpdateItems
	// items: deep copy, the change, diff, patch frame, history.
	UpdateNs     float64 `json:"updateNs"`
	UpdateAllocs float64 `json:"updateAllocs"`
	// DiffNs is wire.Clone + wire.Diff + wire.EncodeOps, the path
	// bench/diff_test.go measures.
	DiffNs float64 `json:"diffNs"`
	// JSONDiffNs is jsondiff.Compare of the same two states.
	JSONDiffNs     float64 `json:"jsondiffNs"`
	JSONDiffAllocs float64 `json:"jsondiffAllocs"`
	// Speedup is JSONDiffNs / UpdateNs.
	Speedup float64 `json:"speedup"`
	// SpecReplaceBytes is the example frame of docs/PROTOCOL.md:
	// {t:18, s:"Todos", e:2863311530, v:12, o:[[2, "/items/3/done", true]]}.
	SpecReplaceBytes int `json:"specReplaceBytes"`
	// LiveReplaceBytes is the patch frame a real server sent a real client
	// for one toggled "done" in the todo store; the WebSocket header adds 2.
	LiveReplaceBytes int `json:"liveReplaceBytes"`
	// The realistic sequence: todo adds, toggles, edits and removes and
	// chat messages, as patch frames in MessagePack and the same frames
	// in JSON.
	SequenceUpdates int     `json:"sequenceUpdates"`
	SequenceMsgpack int     `json:"sequenceMsgpackBytes"`
	SequenceJSON    int     `json:"sequenceJsonBytes"`
	MsgpackToJSON   float64 `json:"msgpackToJson"`
}

// The fixtures of bench/diff_test.go.
type diffItem struct {
	ID   int      `json:"id"`
	Text string   `json:"text"`
	Done bool     `json:"done"`
	Tags []string `json:"tags"`
}

type diffState struct {
	Items []diffItem `json:"items"`
}

func newDiffState(n int) diffState {
	s := diffState{Items: make([]diffItem, n)}
	for i := range s.Items {
		s.Items[i] = diffItem{ID: i, Text: "item number " + strconv.Itoa(i), Done: i%3 == 0, Tags: []string{"home", "t" + strconv.Itoa(i%7)}}
	}
	return s
}

// timed runs fn for about d (at least once) and returns nanoseconds and
// allocations per call.
func timed(d time.Duration, fn func(i int)) (ns, allocs float64) {
	fn(0) // warm up
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	start := time.Now()
	n := 0
	for time.Since(start) < d || n == 0 {
		fn(n)
		n++
	}
	el := time.Since(start)
	runtime.ReadMemStats(&m1)
	return float64(el.Nanoseconds()) / float64(n), float64(m1.Mallocs-m0.Mallocs) / float64(n)
}

// Micro runs the single-process measurements, each for about d.
func Micro(ctx context.Context, d time.Duration) (*MicroResult, error) {
	const n = 10_000
	r := &MicroResult{UpdateItems: n}

	srv := hotstate.New()
	store := hotstate.NewStore(srv, "Items", newDiffState(n))
	var uerr error
	r.UpdateNs, r.UpdateAllocs = timed(d, func(i int) {
		if err := store.Update(func(s *diffState) {
			it := &s.Items[(i*7919)%n]
			it.Done = !it.Done
		}); err != nil {
			uerr = err
		}
	})
	if uerr != nil {
		return nil, uerr
	}

	cur := newDiffState(n)
	var derr error
	r.DiffNs, _ = timed(d, func(i int) {
		next := wire.Clone(cur)
		it := &next.Items[(i*7919)%n]
		it.Done = !it.Done
		ops, err := wire.Diff(cur, next)
		if err == nil && len(ops) != 1 {
			err = fmt.Errorf("suite: diff made %d ops", len(ops))
		}
		if err == nil {
			_, err = wire.EncodePatch("Items", 1, uint64(i), ops)
		}
		if err != nil {
			derr = err
		}
		cur = next
	})
	if derr != nil {
		return nil, derr
	}

	a := newDiffState(n)
	b := wire.Clone(a)
	b.Items[n/2].Done = !b.Items[n/2].Done
	r.JSONDiffNs, r.JSONDiffAllocs = timed(d, func(int) {
		patch, err := jsondiff.Compare(a, b)
		if err == nil && len(patch) != 1 {
			err = fmt.Errorf("suite: jsondiff made %d ops", len(patch))
		}
		if err != nil {
			derr = err
		}
	})
	if derr != nil {
		return nil, derr
	}
	r.Speedup = r.JSONDiffNs / r.UpdateNs

	spec, err := wire.EncodePatch("Todos", 0x9e3779b97f4a7c15, 12, []wire.Op{{Op: wire.OpReplace, Path: "/items/3/done", Value: true}})
	if err != nil {
		return nil, err
	}
	r.SpecReplaceBytes = len(spec)
	if r.LiveReplaceBytes, err = liveReplaceFrame(ctx); err != nil {
		return nil, err
	}
	if err := sequenceBytes(r); err != nil {
		return nil, err
	}
	return r, nil
}

// Todo and Room are the shapes of examples/app's stores.
type Todo struct {
	ID   int64  `json:"id"`
	Text string `json:"text"`
	Done bool   `json:"done"`
}

type Todos struct {
	Items []Todo `json:"items"`
}

type ChatMessage struct {
	From string `json:"from"`
	Text string `json:"text"`
	TS   int64  `json:"ts"`
}

type Room struct {
	Name     string        `json:"name"`
	Messages []ChatMessage `json:"messages"`
	Users    []string      `json:"users"`
}

// liveReplaceFrame runs a real server and client on loopback, toggles one
// todo, and returns the size of the patch frame the client received.
func liveReplaceFrame(ctx context.Context) (int, error) {
	srv := hotstate.New()
	todos := hotstate.NewStore(srv, "Todos", Todos{Items: []Todo{
		{ID: 1, Text: "buy milk"}, {ID: 2, Text: "write the report"}, {ID: 3, Text: "call mum"}, {ID: 4, Text: "water the plants"},
	}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = hothttp.ServeListener(ctx, srv, ln) })
	defer wg.Wait()
	defer cancel()

	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	ws, err := dialWS(dctx, ln.Addr().String(), "/", nil, nil)
	if err != nil {
		return 0, err
	}
	defer ws.close()
	_ = ws.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	c := &client{ws: ws, sys: Hotstate}
	if err := c.expectType(wire.TypeHello); err != nil {
		return 0, err
	}
	if err := ws.send(wire.EncodeSub("Todos")); err != nil {
		return 0, err
	}
	if err := c.expectType(wire.TypeSnap); err != nil {
		return 0, err
	}
	for v := range 12 { // reach a realistic version number
		if err := todos.Update(func(t *Todos) { t.Items[v%4].Text += "." }); err != nil {
			return 0, err
		}
		if err := c.expectType(wire.TypePatch); err != nil {
			return 0, err
		}
	}
	if err := todos.Update(func(t *Todos) { t.Items[3].Done = true }); err != nil {
		return 0, err
	}
	msg, err := ws.next()
	if err != nil {
		return 0, err
	}
	f, err := wire.Decode(msg)
	if err != nil {
		return 0, err
	}
	if f.Type != wire.TypePatch || len(f.Ops) != 1 || f.Ops[0].Path != "/items/3/done" {
		return 0, fmt.Errorf("suite: unexpected frame %+v", f)
	}
	return len(msg), nil
}

// jsonFrame is a patch frame as JSON, for the size comparison.
type jsonFrame struct {
	T int     `json:"t"`
	S string  `json:"s"`
	E string  `json:"e"`
	V uint64  `json:"v"`
	O [][]any `json:"o"`
}

// sequenceBytes plays a day of the todo app and a chat room through the
// differ and sums the patch frames in MessagePack and in JSON.
func sequenceBytes(r *MicroResult) error {
	const epoch = 0x9e3779b97f4a7c15 // 64 random bits, as servers draw them
	users := []string{"ana", "ben", "chloé", "dmitri", "eve", "farid"}
	texts := []string{"buy milk", "write the quarterly report", "call mum back", "water the plants", "book the dentist", "fix the bike's rear light"}
	todos := Todos{Items: []Todo{}}
	room := Room{Name: "general", Users: users[:3]}
	var tv, rv uint64
	total := func(name string, v uint64, old, new any) error {
		ops, err := wire.Diff(old, new)
		if err != nil || len(ops) == 0 {
			return err
		}
		mp, err := wire.EncodePatch(name, epoch, v, ops)
		if err != nil {
			return err
		}
		// A JSON protocol would carry the epoch as hex digits too.
		jf := jsonFrame{T: int(wire.TypePatch), S: name, E: strconv.FormatUint(epoch, 16), V: v}
		for _, op := range ops {
			o := []any{int(op.Op), op.Path}
			if op.Op != wire.OpRemove {
				o = append(o, op.Value)
			}
			jf.O = append(jf.O, o)
		}
		js, err := json.Marshal(jf)
		if err != nil {
			return err
		}
		r.SequenceUpdates++
		r.SequenceMsgpack += len(mp)
		r.SequenceJSON += len(js)
		return nil
	}
	for i := range 300 {
		switch i % 6 {
		case 0, 3: // add a todo
			next := wire.Clone(todos)
			next.Items = append(next.Items, Todo{ID: 1_700_000_000_000 + int64(i)*1_000_003, Text: texts[i%len(texts)]})
			tv++
			if err := total("Todos", tv, todos, next); err != nil {
				return err
			}
			todos = next
		case 1: // toggle one
			next := wire.Clone(todos)
			it := &next.Items[(i*7)%len(next.Items)]
			it.Done = !it.Done
			tv++
			if err := total("Todos", tv, todos, next); err != nil {
				return err
			}
			todos = next
		case 2: // a chat message
			next := wire.Clone(room)
			next.Messages = append(next.Messages, ChatMessage{From: users[i%len(users)], Text: "see you at " + strconv.Itoa(9+i%9) + " o'clock", TS: 1_700_000_000_000 + int64(i)*997})
			if len(next.Messages) > 50 {
				next.Messages = next.Messages[1:]
			}
			rv++
			if err := total("Room:general", rv, room, next); err != nil {
				return err
			}
			room = next
		case 4: // edit a todo's text
			next := wire.Clone(todos)
			it := &next.Items[(i*5)%len(next.Items)]
			it.Text += " (urgent)"
			tv++
			if err := total("Todos", tv, todos, next); err != nil {
				return err
			}
			todos = next
		case 5: // remove the oldest done, or the first; someone joins the room
			next := wire.Clone(todos)
			next.Items = next.Items[1:]
			tv++
			if err := total("Todos", tv, todos, next); err != nil {
				return err
			}
			todos = next
			nr := wire.Clone(room)
			if len(nr.Users) < len(users) {
				nr.Users = append(nr.Users, users[len(nr.Users)])
				rv++
				if err := total("Room:general", rv, room, nr); err != nil {
					return err
				}
				room = nr
			}
		}
	}
	r.MsgpackToJSON = float64(r.SequenceMsgpack) / float64(r.SequenceJSON)
	return nil
}
