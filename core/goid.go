package hotstate

import (
	"bytes"
	"runtime"
)

// goroutineID returns the id of the calling goroutine, which the runtime
// prints in a stack's first line ("goroutine 7 [running]:") and exposes
// nowhere else. Only lifecycle steps that run a user hook record it, so a
// hook calling back into its own instance can be told apart from another
// goroutine that must wait for the step; it is never on a hot path.
func goroutineID() uint64 {
	var buf [32]byte
	b := bytes.TrimPrefix(buf[:runtime.Stack(buf[:], false)], []byte("goroutine "))
	var id uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}
