package hotstate

import "time"

// bucket is a token bucket: it holds up to burst tokens and refills at rate
// per second. Each session owns its buckets and uses them only from its
// reader goroutine, so they need no lock.
type bucket struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate float64, burst int) *bucket {
	if rate <= 0 {
		return nil
	}
	b := float64(max(burst, 1))
	return &bucket{rate: rate, burst: b, tokens: b, last: time.Now()}
}

// take spends one token and reports whether there was one. A nil bucket
// means no limit.
func (b *bucket) take(now time.Time) bool {
	if b == nil {
		return true
	}
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
