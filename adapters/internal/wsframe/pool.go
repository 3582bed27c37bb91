package wsframe

import "sync"

// The buffers messages are gathered in come from pools by size, powers of
// two from minBuffer to maxPooled; larger ones are made for the message
// and left to the garbage collector.
const (
	minBuffer = 512
	maxPooled = 64 << 10
	classes   = 8 // 512 B to 64 KiB
)

// buffers holds one pool per size class. A pool holds *[]byte, so that
// putting a buffer back allocates nothing; the Reader keeps that pointer
// (its box) with the buffer while it uses it.
var buffers [classes]sync.Pool

// class returns the index of the smallest class that holds n bytes, or
// classes when none does.
func class(n int) int {
	c, size := 0, minBuffer
	for size < n && c < classes {
		c++
		size <<= 1
	}
	return c
}

// getBuffer returns an empty buffer with room for n bytes, and its box
// when it came from a pool.
func getBuffer(n int) ([]byte, *[]byte) {
	c := class(n)
	if c == classes {
		return make([]byte, 0, n), nil
	}
	if box, _ := buffers[c].Get().(*[]byte); box != nil {
		return (*box)[:0], box
	}
	return make([]byte, 0, minBuffer<<c), nil
}

// putBuffer gives buf back to the pool of its size, in box if it has one.
func putBuffer(buf []byte, box *[]byte) {
	c := class(cap(buf))
	if c == classes || minBuffer<<c != cap(buf) {
		return // not one of the pools' sizes
	}
	if box == nil {
		box = new([]byte)
	}
	*box = buf[:0]
	buffers[c].Put(box)
}
