package hotstate

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestTallyCoalesces: deltas queued while a call is under way go out
// together in the next one, every waiter is answered by a call that
// carried its delta, and the engine ends with the sum.
func TestTallyCoalesces(t *testing.T) {
	var (
		tl     tally
		engine atomic.Int64 // the engine's count
		calls  atomic.Int64
	)
	add := func(delta int) (int, error) {
		calls.Add(1)
		time.Sleep(time.Millisecond) // an engine round trip
		return int(engine.Add(int64(delta))), nil
	}
	const joiners = 500
	var wg sync.WaitGroup
	for range joiners {
		wg.Go(func() {
			tk := tl.queue(1)
			if n, err := tl.wait(tk, add); err != nil || n < 1 {
				t.Errorf("ticket %d answered with %d, %v: a call that did not carry it", tk, n, err)
			}
		})
	}
	wg.Wait()
	if n := engine.Load(); n != joiners {
		t.Fatalf("the engine counts %d, want %d", n, joiners)
	}
	if c := calls.Load(); c >= joiners/2 {
		t.Fatalf("%d calls for %d joins, want them coalesced", c, joiners)
	}
	t.Logf("%d joins in %d calls", joiners, calls.Load())
}

// TestTallyLastLeaveSeesEveryLeave: leaves queued in order are answered
// in order, so the last one sees zero however the calls interleave.
func TestTallyLastLeaveSeesEveryLeave(t *testing.T) {
	for range 50 {
		var tl tally
		var engine atomic.Int64
		engine.Store(8)
		add := func(delta int) (int, error) {
			time.Sleep(50 * time.Microsecond)
			return int(engine.Add(int64(delta))), nil
		}
		var mu sync.Mutex // the instance's lock
		left := 8
		var zeros atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				mu.Lock()
				left--
				idle := left == 0
				tk := tl.queue(-1)
				mu.Unlock()
				n, _ := tl.wait(tk, add)
				if idle && n == 0 {
					zeros.Add(1)
				}
			})
		}
		wg.Wait()
		if zeros.Load() != 1 {
			t.Fatalf("the last leave saw zero %d times, want once", zeros.Load())
		}
	}
}

// TestTallyError: a failed call answers every ticket it carried with its
// error, and the next delta goes out on its own.
func TestTallyError(t *testing.T) {
	var tl tally
	fail := errors.New("engine down")
	if _, err := tl.wait(tl.queue(1), func(int) (int, error) { return 0, fail }); !errors.Is(err, fail) {
		t.Fatalf("wait = %v, want the call's error", err)
	}
	n, err := tl.wait(tl.queue(1), func(d int) (int, error) { return d, nil })
	if err != nil || n != 1 {
		t.Fatalf("wait after a failure = %d, %v; want 1 carried alone", n, err)
	}
}
