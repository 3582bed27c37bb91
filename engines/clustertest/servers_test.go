package clustertest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// nodeBin is the node command, built once for every test.
var nodeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hotstate-cluster-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	nodeBin = filepath.Join(dir, "node")
	// Built with the race detector: the nodes are where the cluster's
	// concurrency runs.
	if out, err := exec.Command("go", "build", "-race", "-o", nodeBin, "./node").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the node command: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// engineServer is a private Redis or NATS server a test starts, stops and
// restarts; never the machine's shared one.
type engineServer struct {
	kind string // "redis" or "nats"
	port int
	dir  string
	args func(port int, dir string) []string
	cmd  *exec.Cmd
}

// nodeFlag is how a node is told to use this engine.
func (e *engineServer) nodeFlag() []string {
	if e.kind == "redis" {
		return []string{"-redis", "redis://127.0.0.1:" + strconv.Itoa(e.port)}
	}
	return []string{"-nats", "nats://127.0.0.1:" + strconv.Itoa(e.port)}
}

func (e *engineServer) start(t testing.TB) {
	t.Helper()
	e.cmd = exec.Command(e.kind+"-server", e.args(e.port, e.dir)...)
	if err := e.cmd.Start(); err != nil {
		t.Fatalf("starting %s-server: %v", e.kind, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(e.port), time.Second)
		if err == nil {
			c.Close()
			// NATS answers TCP before JetStream is ready.
			time.Sleep(100 * time.Millisecond)
			return
		}
		if time.Now().After(deadline) {
			e.stop()
			t.Fatalf("%s-server on port %d does not answer", e.kind, e.port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *engineServer) stop() {
	if e.cmd != nil && e.cmd.Process != nil {
		_ = e.cmd.Process.Signal(syscall.SIGTERM)
		_ = e.cmd.Wait()
	}
}

// restart stops the server as an operator does and starts it again on
// the same port and files.
func (e *engineServer) restart(t testing.TB, down time.Duration) {
	e.stop()
	time.Sleep(down)
	e.start(t)
}

// engines runs test once per engine, each with a private server: Redis
// keeping nothing on disk, NATS with JetStream's file storage.
func engines(t *testing.T, test func(t *testing.T, e *engineServer)) {
	enginesKeeping(t, false, test)
}

// enginesKeeping is engines with Redis keeping every write in its
// append-only file when durable is set.
func enginesKeeping(t *testing.T, durable bool, test func(t *testing.T, e *engineServer)) {
	aof := "no"
	if durable {
		aof = "yes"
	}
	for _, e := range []*engineServer{
		{kind: "redis", args: func(port int, dir string) []string {
			return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", aof, "--appendfsync", "always", "--dir", dir}
		}},
		{kind: "nats", args: func(port int, dir string) []string {
			return []string{"-js", "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-sd", dir}
		}},
	} {
		t.Run(e.kind, func(t *testing.T) {
			e.port, e.dir = freePort(t), t.TempDir()
			e.start(t)
			t.Cleanup(e.stop)
			test(t, e)
		})
	}
}

// node is one server process of the cluster.
type node struct {
	cmd  *exec.Cmd
	addr string
	logs *syncBuffer
	done chan struct{}
}

func (n *node) url() string { return "ws://" + n.addr + "/" }

// startNodes starts count nodes on e and stops them when the test ends,
// showing their logs if it failed.
func startNodes(t *testing.T, e *engineServer, count int) []*node {
	t.Helper()
	nodes := make([]*node, count)
	for i := range nodes {
		nodes[i] = startNode(t, e)
	}
	return nodes
}

func startNode(t *testing.T, e *engineServer) *node {
	t.Helper()
	n := &node{logs: &syncBuffer{}, done: make(chan struct{})}
	n.cmd = exec.Command(nodeBin, e.nodeFlag()...)
	n.cmd.Stderr = n.logs
	out, err := n.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = n.cmd.Wait()
		close(n.done)
	}()
	t.Cleanup(func() {
		n.stop()
		if t.Failed() && n.logs.Len() > 0 {
			t.Logf("node %s:\n%s", n.addr, n.logs.String())
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		n.stop()
		t.Fatalf("node did not start: %q %v\n%s", line, err, n.logs.String())
	}
	n.addr = addr
	return n
}

// stop ends the node as a deploy does (SIGTERM), killing it if it does not
// end within 10 s.
func (n *node) stop() {
	if n.cmd.ProcessState != nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.done
	}
}

// kill ends the node the way a crash does.
func (n *node) kill() {
	_ = n.cmd.Process.Kill()
	<-n.done
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Len()
}

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
