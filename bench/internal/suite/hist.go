package suite

import (
	"math/bits"
	"sync/atomic"
)

// histBuckets covers every uint64: 64 exact values, then 32 buckets per
// power of two, so a recorded value is off by at most 1/32 (3 %).
const histBuckets = 64 + 59*32

// hist is a lock-free latency histogram in nanoseconds; every reader
// goroutine of the load generator records into one.
type hist struct {
	counts [histBuckets]atomic.Uint64
}

func bucketOf(v uint64) int {
	if v < 64 {
		return int(v)
	}
	shift := bits.Len64(v) - 6 // keep the top six bits, 32..63
	return shift*32 + int(v>>shift)
}

// bucketValue is the middle of bucket i.
func bucketValue(i int) uint64 {
	if i < 64 {
		return uint64(i)
	}
	shift := i/32 - 1
	lo := uint64(i%32+32) << shift
	return lo + (uint64(1)<<shift)/2
}

func (h *hist) record(ns int64) {
	if ns < 0 {
		ns = 0
	}
	h.counts[bucketOf(uint64(ns))].Add(1)
}

func (h *hist) reset() {
	for i := range h.counts {
		h.counts[i].Store(0)
	}
}

// snapshot returns the counts, their total, and a quantile function over
// them in nanoseconds.
func (h *hist) snapshot() (total uint64, quantile func(q float64) float64) {
	var c [histBuckets]uint64
	for i := range h.counts {
		c[i] = h.counts[i].Load()
		total += c[i]
	}
	return total, func(q float64) float64 {
		if total == 0 {
			return 0
		}
		rank := uint64(q * float64(total))
		if rank >= total {
			rank = total - 1
		}
		var seen uint64
		for i, n := range c {
			seen += n
			if seen > rank {
				return float64(bucketValue(i))
			}
		}
		return 0
	}
}

// buckets returns the non-empty buckets, to send to another process.
func (h *hist) buckets() map[int]uint64 {
	out := map[int]uint64{}
	for i := range h.counts {
		if n := h.counts[i].Load(); n > 0 {
			out[i] = n
		}
	}
	return out
}

// add adds what buckets returned, perhaps in another process.
func (h *hist) add(counts map[int]uint64) {
	for i, n := range counts {
		if i >= 0 && i < histBuckets {
			h.counts[i].Add(n)
		}
	}
}
