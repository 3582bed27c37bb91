package hotclient_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"
	hotclient "github.com/hotstate/hotstate/client-go"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// A tiny MessagePack writer for frames no encoder of ours would produce.

func mpMap(n int) []byte {
	if n < 16 {
		return []byte{0x80 | byte(n)}
	}
	return []byte{0xde, byte(n >> 8), byte(n)}
}

func mpArr(n int) []byte {
	if n < 16 {
		return []byte{0x90 | byte(n)}
	}
	return []byte{0xdc, byte(n >> 8), byte(n)}
}

func mpStr(s string) []byte {
	switch n := len(s); {
	case n < 32:
		return append([]byte{0xa0 | byte(n)}, s...)
	case n < 256:
		return append([]byte{0xd9, byte(n)}, s...)
	default:
		return append([]byte{0xda, byte(n >> 8), byte(n)}, s...)
	}
}

func mpUint(u uint64) []byte {
	switch {
	case u < 128:
		return []byte{byte(u)}
	case u <= math.MaxUint32:
		return binary.BigEndian.AppendUint32([]byte{0xce}, uint32(u))
	default:
		return binary.BigEndian.AppendUint64([]byte{0xcf}, u)
	}
}

func mpInt(i int64) []byte { return binary.BigEndian.AppendUint64([]byte{0xd3}, uint64(i)) }

func mpFloat(f float64) []byte {
	return binary.BigEndian.AppendUint64([]byte{0xcb}, math.Float64bits(f))
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// nested returns depth arrays of one element around nil.
func nested(depth int) []byte {
	return append(bytes.Repeat([]byte{0x91}, depth), 0xc0)
}

// barrageCase is a hand-made input and what the server must answer.
type barrageCase struct {
	name  string
	frame []byte
	// code is the error code of the err frame, or of the res frame to the
	// call with id when id is not 0.
	code string
	id   uint64
}

func handMade() []barrageCase {
	sub := wire.EncodeSub("Todos")
	rpc, _ := wire.EncodeRPC(7, "echo", map[string]any{"text": "hi", "n": []any{int64(1), int64(2)}})
	resume := wire.EncodeResume("Room:x", 12345, 6)
	var cases []barrageCase
	for _, whole := range [][]byte{sub, rpc, resume} {
		for n := range len(whole) {
			cases = append(cases, barrageCase{fmt.Sprintf("truncated %x at %d", whole, n), whole[:n], wire.CodeBadFrame, 0})
		}
	}
	lies := map[string][]byte{
		"array32 of 2^26 items":           {0xdd, 0x04, 0x00, 0x00, 0x00},
		"array32 of 2^32-1 items":         {0xdd, 0xff, 0xff, 0xff, 0xff},
		"map32 of 2^32-1 pairs":           {0xdf, 0xff, 0xff, 0xff, 0xff},
		"map16 of 65535 pairs":            {0xde, 0xff, 0xff},
		"array16 of 65535 items":          {0xdc, 0xff, 0xff},
		"str32 of 4 GiB":                  {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'},
		"bin32 of 4 GiB":                  {0xc6, 0xff, 0xff, 0xff, 0xff},
		"ext32 of 4 GiB":                  {0xc9, 0xff, 0xff, 0xff, 0xff, 0x01},
		"key of 4 GiB":                    {0x81, 0xdb, 0xff, 0xff, 0xff, 0xff},
		"args of 1 GiB":                   cat(mpMap(4), mpStr("t"), mpUint(3), mpStr("i"), mpUint(1), mpStr("n"), mpStr("echo"), mpStr("a"), []byte{0xc6, 0x40, 0, 0, 0}),
		"ops of 2^32-1":                   cat(mpMap(2), mpStr("t"), mpUint(1), mpStr("o"), []byte{0xdd, 0xff, 0xff, 0xff, 0xff}),
		"trailing bytes":                  append(slices.Clone(sub), 0xc0),
		"nothing":                         {},
		"nil":                             {0xc0},
		"never-used byte":                 {0xc1},
		"an array":                        {0x93, 0x01, 0x02, 0x03},
		"a string":                        mpStr("t"),
		"an empty map":                    {0x80},
		"no t":                            cat(mpMap(1), mpStr("s"), mpStr("Todos")),
		"t a string":                      cat(mpMap(2), mpStr("t"), mpStr("1"), mpStr("s"), mpStr("Todos")),
		"t negative":                      cat(mpMap(1), mpStr("t"), mpInt(-1)),
		"t a float":                       cat(mpMap(1), mpStr("t"), mpFloat(1.5)),
		"t NaN":                           cat(mpMap(1), mpStr("t"), mpFloat(math.NaN())),
		"s an integer":                    cat(mpMap(2), mpStr("t"), mpUint(1), mpStr("s"), mpUint(5)),
		"s an array":                      cat(mpMap(2), mpStr("t"), mpUint(2), mpStr("s"), mpArr(0)),
		"e a string":                      cat(mpMap(4), mpStr("t"), mpUint(1), mpStr("s"), mpStr("Todos"), mpStr("e"), mpStr("x"), mpStr("v"), mpUint(1)),
		"i a string":                      cat(mpMap(3), mpStr("t"), mpUint(3), mpStr("i"), mpStr("x"), mpStr("n"), mpStr("echo")),
		"n an integer":                    cat(mpMap(3), mpStr("t"), mpUint(3), mpStr("i"), mpUint(1), mpStr("n"), mpUint(1)),
		"integer key":                     cat(mpMap(2), mpStr("t"), mpUint(1), mpUint(1), mpStr("Todos")),
		"nil key":                         cat(mpMap(1), []byte{0xc0}, mpUint(1)),
		"an extension":                    {0xd4, 0x01, 0x00},
		"t an extension":                  cat(mpMap(1), mpStr("t"), []byte{0xd6, 0xff, 0, 0, 0, 0}),
		"33 nested arrays in the args":    cat(mpMap(4), mpStr("t"), mpUint(3), mpStr("i"), mpUint(1), mpStr("n"), mpStr("echo"), mpStr("a"), nested(33)),
		"10 000 nested arrays":            nested(10_000),
		"60 000 nested maps":              bytes.Repeat([]byte{0x81, 0xa1, 'a'}, 20_000),
		"nesting in the key position":     cat(mpMap(1), nested(40)),
		"deep nesting in an unknown key":  cat(mpMap(2), mpStr("t"), mpUint(1), mpStr("z"), nested(100)),
		"a str8 key of 200 bytes, cut":    cat(mpMap(1), []byte{0xd9, 200}, bytes.Repeat([]byte{'k'}, 100)),
		"ops not an array":                cat(mpMap(2), mpStr("t"), mpUint(1), mpStr("o"), mpUint(1)),
		"x not a map":                     cat(mpMap(2), mpStr("t"), mpUint(1), mpStr("x"), mpUint(1)),
		"uint64 max t":                    cat(mpMap(1), mpStr("t"), mpUint(math.MaxUint64)),
		"a huge fixext":                   {0xd8, 0x01, 0x00},
		"float32 t":                       cat(mpMap(1), mpStr("t"), []byte{0xca, 0x3f, 0x80, 0, 0}),
		"duplicate t, the last a string":  cat(mpMap(2), mpStr("t"), mpUint(1), mpStr("t"), mpStr("x")),
		"duplicate s, the last an array":  cat(mpMap(3), mpStr("t"), mpUint(1), mpStr("s"), mpStr("Todos"), mpStr("s"), mpArr(0)),
		"map header promising 15 entries": {0x8f, 0xa1, 't', 0x01},
	}
	for _, name := range slices.Sorted(maps.Keys(lies)) {
		cases = append(cases, barrageCase{name, lies[name], wire.CodeBadFrame, 0})
	}
	// The decoder coerces some values of the wrong type, as msgpack's
	// lenient decoding does: nil reads as 0 or "", a negative integer as
	// its two's complement, bin as a string. The server acts on the
	// coerced frame; these only need an answer and a live connection.
	for name, frame := range map[string][]byte{
		"t nil":                        cat(mpMap(1), mpStr("t"), []byte{0xc0}),
		"v negative":                   cat(mpMap(4), mpStr("t"), mpUint(1), mpStr("s"), mpStr("Todos"), mpStr("e"), mpUint(1), mpStr("v"), mpInt(-5)),
		"i negative":                   cat(mpMap(3), mpStr("t"), mpUint(3), mpStr("i"), mpInt(-1), mpStr("n"), mpStr("echo")),
		"a bin where a string belongs": cat(mpMap(2), mpStr("t"), mpUint(1), mpStr("s"), []byte{0xc4, 0x05}, []byte("Todos")),
		"s nil":                        cat(mpMap(2), mpStr("t"), mpUint(1), mpStr("s"), []byte{0xc0}),
	} {
		cases = append(cases, barrageCase{"coerced: " + name, frame, "", 0})
	}
	cases = append(cases, barrageCase{"type 2^40", cat(mpMap(2), mpStr("t"), mpUint(1<<40), mpStr("s"), mpStr("Todos")), wire.CodeBadFrame, 0})
	for _, t := range []uint64{0, 4, 15, 16, 17, 18, 19, 20, 21, 22, 23, 127, 255} {
		cases = append(cases, barrageCase{fmt.Sprint("type ", t), cat(mpMap(2), mpStr("t"), mpUint(t), mpStr("s"), mpStr("Todos")), wire.CodeUnknownType, 0})
	}
	for _, name := range []string{"", "*", "Room:", "todos", "Todos ", "\x00", "__proto__", "Room", "Nope:x"} {
		cases = append(cases, barrageCase{fmt.Sprintf("sub %q", name), wire.EncodeSub(name), wire.CodeNotFound, 0})
	}
	cases = append(cases,
		barrageCase{"sub with a 1 000-byte name", wire.EncodeSub(strings.Repeat("R", 1000)), wire.CodeNameTooLong, 0},
		barrageCase{"rpc with a 1 000-byte name", mustRPC(9, strings.Repeat("f", 1000), nil), wire.CodeNameTooLong, 9},
		barrageCase{"rpc to nothing", mustRPC(10, "nothing", nil), wire.CodeUnknownFunction, 10},
		barrageCase{"rpc with bad args", mustRPC(11, "todos.add", []any{"x"}), wire.CodeBadArgs, 11},
		barrageCase{"rpc with an id of 2^64-1", mustRPC(math.MaxUint64, "echo", nil), "", math.MaxUint64},
		barrageCase{"unsub of nothing held", wire.EncodeUnsub("Room:never"), "", 0},
		barrageCase{"resume from a future version", wire.EncodeResume("Room:y", 1, math.MaxUint64), "", 0},
	)
	return cases
}

func mustRPC(id uint64, name string, args any) []byte {
	b, err := wire.EncodeRPC(id, name, args)
	if err != nil {
		panic(err)
	}
	return b
}

// seeds returns the protocol's golden frames and the wire fuzz corpus.
func seeds(t *testing.T) [][]byte {
	t.Helper()
	var out [][]byte
	vectors, err := filepath.Glob("../core/testdata/protocol/*.msgpack")
	if err != nil || len(vectors) == 0 {
		t.Fatalf("no protocol vectors: %v", err)
	}
	for _, p := range vectors {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	corpus := 0
	err = filepath.WalkDir("../core/wire/testdata/fuzz", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			for _, prefix := range []string{"[]byte(", "string("} {
				if lit, ok := strings.CutPrefix(line, prefix); ok {
					if s, err := strconv.Unquote(strings.TrimSuffix(lit, ")")); err == nil {
						out = append(out, []byte(s))
						corpus++
					}
				}
			}
		}
		return sc.Err()
	})
	if err != nil || corpus == 0 {
		t.Fatalf("no fuzz corpus: %v", err)
	}
	return out
}

// mutate returns a damaged copy of seed: bits flipped, bytes replaced by
// MessagePack's most troublesome values, cuts, insertions, deletions,
// repeats and splices with another seed.
func mutate(r *rand.Rand, seed []byte, all [][]byte) []byte {
	b := slices.Clone(seed)
	interesting := []byte{0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xc0, 0xc1, 0xc4, 0xc6, 0xc9, 0xcf, 0xd3, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xff}
	for range 1 + r.IntN(3) {
		if len(b) == 0 {
			b = append(b, interesting[r.IntN(len(interesting))])
			continue
		}
		i := r.IntN(len(b))
		switch r.IntN(7) {
		case 0:
			b[i] ^= 1 << r.IntN(8)
		case 1:
			b[i] = interesting[r.IntN(len(interesting))]
		case 2:
			b = b[:i]
		case 3:
			junk := make([]byte, 1+r.IntN(8))
			for k := range junk {
				junk[k] = byte(r.IntN(256))
			}
			b = slices.Insert(b, i, junk...)
		case 4:
			b = slices.Delete(b, i, min(len(b), i+1+r.IntN(4)))
		case 5:
			j := min(len(b), i+1+r.IntN(8))
			b = slices.Insert(b, j, slices.Clone(b[i:j])...)
		case 6:
			other := all[r.IntN(len(all))]
			if len(other) > 0 {
				b = append(b[:i], other[r.IntN(len(other)):]...)
			}
		}
	}
	return b
}

// barragePeer sends inputs one at a time, each followed by a ping call, so
// every answer is tied to its input and the connection is known to live.
type barragePeer struct {
	*rawPeer
	ping uint64
}

// exchange sends frame and returns the frames the server sent before the
// answer to the ping that follows it; with id set, it also waits for the
// res of that call.
func (p *barragePeer) exchange(frame []byte, id uint64) []wire.Frame {
	p.t.Helper()
	p.ping++
	ping := 1<<50 + p.ping
	p.mustSend(frame)
	p.mustSend(mustRPC(ping, "ping", nil))
	var got []wire.Frame
	pinged, answered := false, id == 0
	for !pinged || !answered {
		f := p.next()
		switch {
		case f.Type == wire.TypeRes && f.ID == ping:
			pinged = true
			continue
		case f.Type == wire.TypeRes && f.ID == id:
			answered = true
		}
		if !pinged || f.Type == wire.TypeRes && f.ID == id {
			got = append(got, f)
		}
	}
	return got
}

// TestBadInputBarrage throws the fuzz corpus, mutations of it and of the
// golden frames, and hand-made malicious frames at a live server while
// honest clients use it. The server must not panic, must answer every
// frame it cannot use with the documented error and keep the connection,
// close only for text and oversize messages with their codes, and the
// honest clients must lose nothing.
func TestBadInputBarrage(t *testing.T) {
	timed(t)
	log := newPanicLog(t)
	srv := hotstate.New(hotstate.WithLogger(log.logger()))
	srv.OnError(func(err error, _ string) {
		if strings.Contains(err.Error(), "panic") {
			t.Errorf("OnError: %v", err)
		}
	})
	todos := hotstate.NewStore(srv, "Todos", Todos{Items: []Todo{}})
	rooms := hotstate.NewFamily(srv, "Room:*", Room{Messages: []string{}})
	hotstate.Handle(srv, "ping", func(ctx context.Context, _ any) (string, error) { return "pong", nil })
	srv.HandleFunc("echo", func(ctx context.Context, args any) (any, error) { return args, nil })
	hotstate.Handle(srv, "todos.add", func(ctx context.Context, a struct {
		Text string `json:"text"`
	}) (int, error) {
		return 0, todos.Update(func(s *Todos) { s.Items = append(s.Items, Todo{Text: "barrage: " + a.Text}) })
	})
	hotstate.Handle(srv, "honest.add", func(ctx context.Context, text string) (int, error) {
		return 0, todos.Update(func(s *Todos) { s.Items = append(s.Items, Todo{Text: text}) })
	})
	addr, _ := serveOn(t, srv, "127.0.0.1:0")
	url := "ws://" + addr

	// Honest clients, and a raw peer that checks every version of Todos.
	var honest []*hotclient.Client
	var subs []*hotclient.Subscription
	var events []chan hotclient.Lifecycle
	for range 4 {
		c := dial(t, url)
		honest = append(honest, c)
		events = append(events, lifecycle(c))
		subs = append(subs, c.Subscribe("Todos", nil), c.Subscribe("Room:honest", nil))
	}
	for _, s := range subs {
		if err := s.Ready(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	tr := newTracker()
	watcher := dialRaw(t, url, nil, tr.onFrame)
	tr.subscribe("Todos")
	watcher.mustSend(wire.EncodeSub("Todos"))

	// The honest traffic runs during the whole barrage.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var added []string
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			text := fmt.Sprint("honest ", i)
			if err := honest[i%len(honest)].Call(ctxT(t), "honest.add", text, nil); err != nil {
				t.Errorf("honest call: %v", err)
				return
			}
			added = append(added, text)
			if err := rooms.Update("honest", func(r *Room) { r.Messages = append(r.Messages, text) }); err != nil {
				t.Error(err)
				return
			}
		}
	})

	// The hand-made frames, each with the answer it must get.
	cases := handMade()
	all := seeds(t)
	r := rand.New(rand.NewPCG(7, 7))
	var mutants [][]byte
	for _, s := range all {
		for range 40 {
			mutants = append(mutants, mutate(r, s, all))
		}
	}
	for range 300 {
		junk := make([]byte, 1+r.IntN(512))
		for i := range junk {
			junk[i] = byte(r.IntN(256))
		}
		mutants = append(mutants, junk)
	}
	const workers = 4
	var bwg sync.WaitGroup
	for w := range workers {
		bwg.Go(func() {
			p := &barragePeer{rawPeer: dialRaw(t, url, nil, nil)}
			for i := w; i < len(cases); i += workers {
				c := cases[i]
				got := p.exchange(c.frame, c.id)
				if c.code == "" {
					continue
				}
				if !slices.ContainsFunc(got, func(f wire.Frame) bool {
					return f.Err != nil && f.Err.Code == c.code && (c.id == 0) == (f.Type == wire.TypeErr)
				}) {
					t.Errorf("%s: got %+v, want %s", c.name, got, c.code)
				}
			}
			for i := w; i < len(mutants); i += workers {
				p.exchange(mutants[i], 0)
			}
		})
	}
	bwg.Wait()
	t.Logf("%d hand-made frames, %d mutants of %d seeds", len(cases), len(mutants), len(all))

	// Text and oversize messages end their connection with their codes.
	for _, tc := range []struct {
		name string
		typ  websocket.MessageType
		b    []byte
		code websocket.StatusCode
	}{
		{"text", websocket.MessageText, []byte("hello"), wire.CloseUnsupportedData},
		{"msgpack as text", websocket.MessageText, wire.EncodeSub("Todos"), wire.CloseUnsupportedData},
		{"empty text", websocket.MessageText, nil, wire.CloseUnsupportedData},
		{"oversize", websocket.MessageBinary, make([]byte, 64<<10+1), wire.CloseMessageTooBig},
		{"oversize text", websocket.MessageText, make([]byte, 64<<10+1), wire.CloseMessageTooBig},
	} {
		p := dialRaw(t, url, nil, nil)
		_ = p.sendType(tc.typ, tc.b)
		if got := websocket.CloseStatus(p.ended()); got != tc.code {
			t.Errorf("%s: close status %d, want %d", tc.name, got, tc.code)
		}
	}
	close(stop)
	wg.Wait()

	// Nothing the honest clients did was lost, and they never noticed.
	want := tree(t, todos.Get())
	for _, text := range added {
		if !slices.ContainsFunc(todos.Get().Items, func(it Todo) bool { return it.Text == text }) {
			t.Fatalf("%q is missing", text)
		}
	}
	wantRoom := tree(t, rooms.Get("honest"))
	for _, s := range subs {
		w := want
		if s.Name() == "Room:honest" {
			w = wantRoom
		}
		eventually(t, "honest subscription to converge", func() bool { return reflect.DeepEqual(s.State(), w) })
	}
	for _, ev := range events {
		noTrouble(t, ev)
	}
	tr.mu.Lock()
	tr.stores["Todos"].verify = true
	tr.subs++
	tr.mu.Unlock()
	watcher.mustSend(wire.EncodeSub("Todos"))
	eventually(t, "the watcher's snapshot", func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		return tr.snaps == tr.subs
	})
	tr.mu.Lock()
	if len(tr.violations) > 0 {
		t.Errorf("watcher: %q", tr.violations)
	}
	tr.mu.Unlock()
	t.Logf("%d honest updates, %d patches watched", len(added), tr.patches)
	if log.count() != 0 {
		t.Fatalf("panics: %s", log.text())
	}
}
