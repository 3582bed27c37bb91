package hotstate_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// subscribe connects to srv, subscribes to store and returns the client
// with the snap frame's data.
func subscribe(t *testing.T, srv *hotstate.Server, store string) (*client, any) {
	t.Helper()
	c := connect(t, srv)
	c.send(wire.EncodeSub(store))
	snap := c.expect(wire.TypeSnap)
	v, err := wire.DecodeAny(snap.Value)
	if err != nil {
		t.Fatal(err)
	}
	return c, v
}

type wallet struct {
	Owner   string   `json:"owner"`
	Balance *big.Int `json:"balance"`
}

// TestStoreBigIntInPlace is the regression test for in-place changes that
// reached the old state too: Diff compared two equal values, nothing was
// sent, and later subscribers got a stale snapshot.
func TestStoreBigIntInPlace(t *testing.T) {
	srv := hotstate.New()
	store := hotstate.NewStore(srv, "Wallet", wallet{Owner: "ann", Balance: big.NewInt(0)})
	c, snap := subscribe(t, srv, "Wallet")
	if !reflect.DeepEqual(snap, map[string]any{"owner": "ann", "balance": int64(0)}) {
		t.Fatalf("snap %v", snap)
	}
	one := big.NewInt(1)
	for i := range 3 {
		if err := store.Update(func(w *wallet) { w.Balance.Add(w.Balance, one) }); err != nil {
			t.Fatal(err)
		}
		p := c.expect(wire.TypePatch)
		want := []wire.Op{{Op: wire.OpReplace, Path: "/balance", Value: int64(i + 1)}}
		if p.Version != uint64(i+1) || !reflect.DeepEqual(p.Ops, want) {
			t.Fatalf("patch %d: v%d %v, want %v", i, p.Version, p.Ops, want)
		}
	}
	if got := store.Get().Balance; got.Int64() != 3 {
		t.Fatalf("Get balance %v, want 3", got)
	}
	if _, late := subscribe(t, srv, "Wallet"); !reflect.DeepEqual(late, map[string]any{"owner": "ann", "balance": int64(3)}) {
		t.Fatalf("late subscriber's snap %v", late)
	}
}

// memberSet keeps its members in an unexported map and crosses the wire as
// a sorted list.
type memberSet struct{ m map[string]bool }

func (s memberSet) Has(k string) bool { return s.m[k] }

func (s *memberSet) Add(k string) {
	if s.m == nil {
		s.m = map[string]bool{}
	}
	s.m[k] = true
}

func (s memberSet) MarshalJSON() ([]byte, error) {
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return json.Marshal(keys)
}

func (s *memberSet) UnmarshalJSON(b []byte) error {
	var keys []string
	if err := json.Unmarshal(b, &keys); err != nil {
		return err
	}
	*s = memberSet{}
	for _, k := range keys {
		s.Add(k)
	}
	return nil
}

type team struct {
	Members memberSet `json:"members"`
}

func TestStoreMarshalerSet(t *testing.T) {
	srv := hotstate.New()
	teams := hotstate.NewFamily(srv, "Team:*", team{})
	c, _ := subscribe(t, srv, "Team:a")
	if err := teams.Update("a", func(s *team) { s.Members.Add("ann") }); err != nil {
		t.Fatal(err)
	}
	p := c.expect(wire.TypePatch)
	if want := []wire.Op{{Op: wire.OpReplace, Path: "/members", Value: []any{"ann"}}}; !reflect.DeepEqual(p.Ops, want) {
		t.Fatalf("ops %v, want %v", p.Ops, want)
	}
	if err := teams.Update("a", func(s *team) { s.Members.Add("bob") }); err != nil {
		t.Fatal(err)
	}
	if p := c.expect(wire.TypePatch); len(p.Ops) != 1 || !reflect.DeepEqual(p.Ops[0].Value, []any{"ann", "bob"}) {
		t.Fatalf("second patch %v", p.Ops)
	}

	got := teams.Get("a")
	got.Members.Add("eve")
	if teams.Get("a").Members.Has("eve") {
		t.Fatal("changing Get's result changed the store")
	}

	// Readers of Get's copies and Update share nothing, which -race checks.
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 200 {
			_ = teams.Get("a").Members.Has("x")
		}
	})
	for i := range 200 {
		if err := teams.Update("a", func(s *team) { s.Members.Add(fmt.Sprint(i)) }); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}

type document struct {
	Body json.RawMessage `json:"body"`
	At   time.Time       `json:"at"`
}

func TestStoreRawMessageAndTime(t *testing.T) {
	srv := hotstate.New()
	docs := hotstate.NewStore(srv, "Doc", document{Body: json.RawMessage(`{}`)})
	c, _ := subscribe(t, srv, "Doc")
	at := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	if err := docs.Update(func(d *document) { d.Body = json.RawMessage(`{"a":[1]}`); d.At = at }); err != nil {
		t.Fatal(err)
	}
	p := c.expect(wire.TypePatch)
	ops := map[string]any{}
	for _, op := range p.Ops {
		ops[op.Path] = op.Value
	}
	if want := (map[string]any{"/body": map[string]any{"a": []any{int64(1)}}, "/at": at.Format(time.RFC3339Nano)}); !reflect.DeepEqual(ops, want) {
		t.Fatalf("ops %v, want %v", p.Ops, want)
	}
	got := docs.Get()
	if string(got.Body) != `{"a":[1]}` || !got.At.Equal(at) {
		t.Fatalf("Get %s %v", got.Body, got.At)
	}
	got.Body[2] = 'b'
	if string(docs.Get().Body) != `{"a":[1]}` {
		t.Fatal("changing Get's RawMessage changed the store")
	}
}

type roster struct {
	Name  string `json:"name"`
	seats map[string]int
}

func TestNewStoreRefusesHiddenReferences(t *testing.T) {
	srv := hotstate.New()
	for name, fn := range map[string]func(){
		"Roster":    func() { hotstate.NewStore(srv, "Roster", roster{}) },
		"Rosters:*": func() { hotstate.NewFamily(srv, "Rosters:*", []roster{}) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				for _, want := range []string{
					fmt.Sprintf("hotstate: store %q: cannot clone", name),
					"seats (map[string]int, in hotstate_test.roster)",
					"export the field", "json.Marshaler", "json.Unmarshaler",
				} {
					if !strings.Contains(msg, want) {
						t.Errorf("panic %q does not say %q", msg, want)
					}
				}
				probe := name
				if p, ok := strings.CutSuffix(name, "*"); ok {
					probe = p + "x"
				}
				if srv.HasStore(probe) {
					t.Error("refused store registered")
				}
			}()
			fn()
		})
	}
	// The type check is the one Clone applies.
	err := wire.CheckClone(reflect.TypeFor[roster]())
	var perr error
	func() {
		defer func() { perr, _ = recover().(error) }()
		wire.Clone(roster{seats: map[string]int{}})
	}()
	if err == nil || !errors.Is(perr, err) {
		t.Fatalf("CheckClone %v, Clone panicked with %v", err, perr)
	}
}
