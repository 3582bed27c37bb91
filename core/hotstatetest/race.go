package hotstatetest

import (
	"encoding/json"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

type raced struct {
	N   int    `json:"n"`
	Tag string `json:"tag,omitempty"`
}

// follower is a peer that keeps a store's state the way PROTOCOL.md tells
// clients to, and records every state it reached by its (epoch, version).
type follower struct {
	p     *Peer
	has   bool
	epoch uint64
	ver   uint64
	state any
}

type stateKey struct{ epoch, version uint64 }

// testLifecycleUnderRace races Update, Set, Reset and Delete against
// subscribes, unsubscribes and resumes: every (epoch, version) any
// subscriber reaches must name one state, and everyone ends at the
// server's.
func testLifecycleUnderRace(t *testing.T, mount Mount) {
	srv := hotstate.New()
	store := hotstate.NewStore(srv, "Race", raced{})
	u := mount(t, srv, Options{})
	const writers, peers, steps = 3, 6, 2000

	seen := map[stateKey]string{}
	record := func(f *follower) {
		b, err := json.Marshal(f.state)
		if err != nil {
			t.Fatal(err)
		}
		k := stateKey{f.epoch, f.ver}
		if prev, ok := seen[k]; ok && prev != string(b) {
			t.Fatalf("epoch %x version %d is %s to one subscriber and %s to another", f.epoch, f.ver, prev, b)
		}
		seen[k] = string(b)
	}
	handle := func(f *follower, fr wire.Frame) {
		switch fr.Type {
		case wire.TypeSnap:
			f.has, f.epoch, f.ver, f.state = true, fr.Epoch, fr.Version, Decode(t, fr.Value)
			record(f)
		case wire.TypePatch:
			switch {
			case !f.has:
			case fr.Epoch == f.epoch && fr.Version <= f.ver: // a duplicate
			case fr.Epoch != f.epoch || fr.Version != f.ver+1:
				f.has = false
				f.p.Send(wire.EncodeSub("Race"))
			default:
				next, err := wire.Apply(f.state, fr.Ops)
				if err != nil {
					t.Fatalf("patch %+v does not apply to %v: %v", fr, f.state, err)
				}
				f.state, f.ver = next, fr.Version
				record(f)
			}
		case wire.TypeDel:
			f.has = false
		case wire.TypeErr:
			t.Fatalf("err frame %+v", fr)
		}
	}
	drain := func(f *follower) {
		for {
			select {
			case fr, ok := <-f.p.frames:
				if !ok {
					t.Fatalf("connection ended: %v", f.p.err)
				}
				handle(f, fr)
			default:
				return
			}
		}
	}

	fs := make([]*follower, peers)
	for i := range fs {
		fs[i] = &follower{p: Dial(t, u, nil)}
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				switch r := rng.IntN(20); {
				case r < 14:
					err = store.Update(func(s *raced) { s.N++ })
				case r < 16:
					err = store.Set(raced{N: rng.IntN(1000), Tag: "set"})
				case r < 18:
					store.Reset()
				default:
					store.Delete()
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for range steps {
		f := fs[rng.IntN(peers)]
		switch rng.IntN(4) {
		case 0:
			f.p.Send(wire.EncodeSub("Race"))
		case 1, 2:
			if f.has {
				f.p.Send(wire.EncodeResume("Race", f.epoch, f.ver))
			} else {
				f.p.Send(wire.EncodeSub("Race"))
			}
		default:
			f.p.Send(wire.EncodeUnsub("Race"))
		}
		// Give the answer a moment to arrive, then take what came.
		select {
		case fr, ok := <-f.p.frames:
			if ok {
				handle(f, fr)
			}
		case <-time.After(2 * time.Millisecond):
		}
		for _, f := range fs {
			drain(f)
		}
	}
	close(stop)
	wg.Wait()

	// Settled: a fresh subscription brings everyone to the server's state.
	want, err := json.Marshal(store.Get())
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range fs {
		f.has = false
		f.p.Send(wire.EncodeSub("Race"))
		deadline := time.After(wait)
		for {
			var got []byte
			if f.has {
				got, _ = json.Marshal(f.state)
			}
			if string(got) == string(want) {
				break
			}
			select {
			case fr, ok := <-f.p.frames:
				if !ok {
					t.Fatalf("peer %d: connection ended: %v", i, f.p.err)
				}
				handle(f, fr)
			case <-deadline:
				t.Fatalf("peer %d holds %s, server %s", i, got, want)
			}
		}
	}
	if len(seen) < steps/4 {
		t.Fatalf("only %d states observed", len(seen))
	}
}
