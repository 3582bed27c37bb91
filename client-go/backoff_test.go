package hotclient

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	base, max := 100*time.Millisecond, time.Second
	highest := func(n int64) int64 { return n - 1 }
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := backoff(i+1, base, max, highest); got != w*time.Millisecond-1 {
			t.Errorf("attempt %d: ceiling %v, want %v", i+1, got+1, w*time.Millisecond)
		}
	}
	// Full jitter reaches down to zero, and huge attempts do not overflow.
	if got := backoff(3, base, max, func(int64) int64 { return 0 }); got != 0 {
		t.Errorf("lowest draw %v", got)
	}
	if got := backoff(500, base, max, highest); got != max-1 {
		t.Errorf("attempt 500: %v", got)
	}
	if got := backoff(40, time.Hour, 24*time.Hour, highest); got != 24*time.Hour-1 {
		t.Errorf("overflowing shift: %v", got)
	}
}
