package hotstate_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails a run whose tests passed but left goroutines behind: every
// goroutine the server starts has an owner that waits for it, so when the
// tests are over only the runtime's and the test binary's own may remain.
// It is go.uber.org/goleak's VerifyTestMain in a few lines, kept here so
// that core's go.mod does not make everyone who imports core require
// goleak.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := leakedGoroutines(5 * time.Second); len(leaked) > 0 {
			fmt.Fprintf(os.Stderr, "goroutines still running after the tests passed:\n\n%s\n", strings.Join(leaked, "\n\n"))
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines returns the stacks of the goroutines still running other
// than this one and those of the runtime and the testing package, once they
// have had up to patience to end: a connection closed by the last test may
// still be on its way out.
func leakedGoroutines(patience time.Duration) []string {
	deadline := time.Now().Add(patience)
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		leaked := otherGoroutines()
		if len(leaked) == 0 || time.Now().After(deadline) {
			return leaked
		}
		time.Sleep(wait)
	}
}

// otherGoroutines returns the stack of every goroutine but the caller's and
// the ones the runtime, os/signal and testing start for themselves.
func otherGoroutines() []string {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	// runtime.Stack puts the caller's stack first and separates goroutines
	// with an empty line.
	stacks := strings.Split(strings.TrimSpace(string(buf)), "\n\n")
	var leaked []string
	for _, s := range stacks[1:] {
		if !ownedByToolchain(s) {
			leaked = append(leaked, s)
		}
	}
	return leaked
}

// ownedByToolchain reports whether the goroutine of stack belongs to the
// runtime, os/signal or testing rather than to the code under test: whether
// its innermost frame or the function that created it is theirs.
func ownedByToolchain(stack string) bool {
	toolchain := []string{"testing.", "os/signal.", "runtime.ensureSigM", "runtime/trace.", "runtime.ReadTrace"}
	lines := strings.Split(stack, "\n")
	var funcs []string
	if len(lines) > 1 {
		funcs = append(funcs, lines[1]) // the innermost frame
	}
	for _, l := range lines {
		if created, ok := strings.CutPrefix(l, "created by "); ok {
			funcs = append(funcs, created)
		}
	}
	for _, f := range funcs {
		for _, p := range toolchain {
			if strings.HasPrefix(f, p) {
				return true
			}
		}
	}
	return false
}
