package apptest_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotstate/hotstate/examples/app/apptest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestExamples builds every framework example, starts it as its README
// says (with -addr on a free loopback port), adds a todo over REST while a
// WebSocket client watches, and stops it with an interrupt, which must end
// it cleanly.
func TestExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs every example")
	}
	bin := t.TempDir()
	for _, name := range []string{"nethttp", "gin", "echo", "echov5", "fiber", "fiberv3"} {
		t.Run(name, func(t *testing.T) {
			exe := filepath.Join(bin, name)
			if out, err := exec.Command("go", "build", "-o", exe, "../../"+name).CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
			addr, stop := start(t, exe, "-addr", "127.0.0.1:0")
			apptest.CheckTodoFlow(t, "http://"+addr)
			stop()
		})
	}
}

// start runs the example and returns the address it reports listening on,
// and a func that interrupts it and checks that it exits cleanly.
func start(t *testing.T, exe string, args ...string) (addr string, stop func()) {
	t.Helper()
	cmd := exec.Command(exe, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		log bytes.Buffer
	)
	output := func() string {
		mu.Lock()
		defer mu.Unlock()
		return log.String()
	}
	addrc := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			log.WriteString(line + "\n")
			mu.Unlock()
			if strings.Contains(line, "listening") {
				for field := range strings.FieldsSeq(line) {
					if a, ok := strings.CutPrefix(field, "addr="); ok {
						select {
						case addrc <- a:
						default:
						}
					}
				}
			}
		}
	}()
	waited := make(chan error, 1)
	finish := func() {
		<-scanned
		waited <- cmd.Wait()
	}
	select {
	case addr = <-addrc:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		finish()
		t.Fatalf("%s did not report listening:\n%s", exe, output())
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = cmd.Process.Kill()
			finish()
		}
	})
	return addr, func() {
		stopped = true
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		go finish()
		select {
		case err := <-waited:
			if err != nil {
				t.Fatalf("%s exited with %v:\n%s", exe, err, output())
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-waited
			t.Fatalf("%s still running 20s after an interrupt:\n%s", exe, output())
		}
	}
}
