package hotstate_test

import (
	"math"
	"sync"
	"testing"

	hotstate "github.com/hotstate/hotstate/core"
)

type floats struct {
	N int       `json:"n"`
	F []float64 `json:"f"`
}

// TestBatchedWritersStayApart: writers that queue for one instance are
// committed together, yet each gets its own outcome: a function that
// panics raises its panic in its own caller only, a state that cannot be
// encoded fails only the Update that made it, and every other change
// lands once.
func TestBatchedWritersStayApart(t *testing.T) {
	srv := hotstate.New()
	s := hotstate.NewStore(srv, "F", floats{})
	s.Init()
	const writers = 64
	var wg sync.WaitGroup
	var mu sync.Mutex
	panics, failures := 0, 0
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if v := recover(); v != nil {
					if v != "boom" {
						t.Errorf("writer %d raised %v", i, v)
					}
					mu.Lock()
					panics++
					mu.Unlock()
				}
			}()
			err := s.Update(func(f *floats) {
				switch i % 8 {
				case 3:
					panic("boom")
				case 5:
					f.F = append(f.F, math.NaN())
				default:
					f.N++
				}
			})
			if err != nil {
				mu.Lock()
				failures++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if want := writers / 8; panics != want || failures != want {
		t.Fatalf("%d panics and %d failures, want %d of each", panics, failures, want)
	}
	if got, want := s.Get(), writers*6/8; got.N != want || len(got.F) != 0 {
		t.Fatalf("state %+v, want n = %d and no floats", got, want)
	}
}
