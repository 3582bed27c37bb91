package suite

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"
)

// serverStats is what the control endpoint reports about the server process.
type serverStats struct {
	Mallocs    uint64 `json:"mallocs"`
	TotalAlloc uint64 `json:"totalAlloc"`
	HeapInuse  uint64 `json:"heapInuse"`
	StackInuse uint64 `json:"stackInuse"`
	Sys        uint64 `json:"sys"`
	NumGC      uint32 `json:"numGC"`
	Goroutines int    `json:"goroutines"`
	Published  uint64 `json:"published"`
	Subs       int    `json:"subs"`
}

// Serve runs the named system on wsLn, hotstate through transport, and its
// control endpoint on ctlLn until ctx ends or the system fails.
//
// The control endpoint speaks lines. "pub K" publishes K changes back to
// back and answers nothing; "rate R N" publishes N changes at R per second
// and answers "ok"; "stats" answers a JSON serverStats; "gc" collects
// garbage, returns memory to the OS and answers "ok"; "subs" answers the
// subscriber count; "heap PATH" writes a heap profile to PATH.heap.pprof;
// "prof PATH" starts a CPU profile and "unprof" writes it
// and an allocation profile beside it, each answering "ok".
func Serve(ctx context.Context, name, transport string, wsLn, ctlLn net.Listener) error {
	sys, err := newSystem(name, transport)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	serveErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cancel()
		serveErr <- sys.serve(ctx, wsLn)
	}()
	c := &control{sys: sys, conns: map[net.Conn]struct{}{}}
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.accept(ctlLn)
	}()
	<-ctx.Done()
	_ = ctlLn.Close()
	c.closeAll()
	wg.Wait()
	return <-serveErr
}

// control serves the control endpoint of one server.
type control struct {
	sys system
	wg  sync.WaitGroup // the connection handlers

	pubMu     sync.Mutex // guards seq and published; serialises publishes
	seq       uint64
	published uint64

	profMu   sync.Mutex // guards profPath and profFile
	profPath string
	profFile *os.File

	mu     sync.Mutex // guards conns and closed
	conns  map[net.Conn]struct{}
	closed bool
}

func (c *control) accept(ln net.Listener) {
	defer c.wg.Wait()
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			nc.Close()
			return
		}
		c.conns[nc] = struct{}{}
		c.wg.Add(1)
		c.mu.Unlock()
		go func() {
			defer c.wg.Done()
			c.handle(nc)
			c.mu.Lock()
			delete(c.conns, nc)
			c.mu.Unlock()
			nc.Close()
		}()
	}
}

func (c *control) closeAll() {
	c.mu.Lock()
	c.closed = true
	for nc := range c.conns {
		nc.Close()
	}
	c.mu.Unlock()
	c.stopProfile()
}

func (c *control) handle(nc net.Conn) {
	r := bufio.NewReader(nc)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		answer, err := c.command(strings.Fields(line))
		if err != nil {
			answer = "error " + err.Error()
		}
		if answer == "" {
			continue
		}
		if _, err := nc.Write([]byte(answer + "\n")); err != nil {
			return
		}
	}
}

func (c *control) command(f []string) (string, error) {
	if len(f) == 0 {
		return "", fmt.Errorf("empty command")
	}
	switch f[0] {
	case "pub":
		if len(f) != 2 {
			return "", fmt.Errorf("pub K")
		}
		k, err := strconv.Atoi(f[1])
		if err != nil {
			return "", err
		}
		for range k {
			if err := c.publish(); err != nil {
				return "", err
			}
		}
		return "", nil
	case "rate":
		if len(f) != 3 {
			return "", fmt.Errorf("rate R N")
		}
		rate, err := strconv.ParseFloat(f[1], 64)
		if err != nil || rate <= 0 {
			return "", fmt.Errorf("bad rate %q", f[1])
		}
		n, err := strconv.Atoi(f[2])
		if err != nil {
			return "", err
		}
		start := time.Now()
		for i := range n {
			time.Sleep(time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))))
			if err := c.publish(); err != nil {
				return "", err
			}
		}
		return "ok", nil
	case "stats":
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		c.pubMu.Lock()
		pub := c.published
		c.pubMu.Unlock()
		b, err := json.Marshal(serverStats{
			Mallocs: ms.Mallocs, TotalAlloc: ms.TotalAlloc, HeapInuse: ms.HeapInuse,
			StackInuse: ms.StackInuse, Sys: ms.Sys, NumGC: ms.NumGC,
			Goroutines: runtime.NumGoroutine(), Published: pub, Subs: c.sys.subscribers(),
		})
		return string(b), err
	case "gc":
		runtime.GC()
		debug.FreeOSMemory()
		return "ok", nil
	case "subs":
		return strconv.Itoa(c.sys.subscribers()), nil
	case "prof":
		if len(f) != 2 {
			return "", fmt.Errorf("prof PATH")
		}
		return "ok", c.startProfile(f[1])
	case "unprof":
		return "ok", c.stopProfile()
	case "heap":
		if len(f) != 2 {
			return "", fmt.Errorf("heap PATH")
		}
		return "ok", writeHeapProfile(f[1])
	}
	return "", fmt.Errorf("unknown command %q", f[0])
}

func (c *control) publish() error {
	c.pubMu.Lock()
	defer c.pubMu.Unlock()
	c.seq++
	if err := c.sys.publish(c.seq, time.Now().UnixNano()); err != nil {
		return err
	}
	c.published++
	return nil
}

func (c *control) startProfile(path string) error {
	c.profMu.Lock()
	defer c.profMu.Unlock()
	if c.profFile != nil {
		return fmt.Errorf("a profile is running")
	}
	// The allocation profile is cumulative: keep its state at the start so
	// the phase's allocations are the difference (pprof -diff_base).
	if err := writeProfile("allocs", path+".allocs0.pprof"); err != nil {
		return err
	}
	f, err := os.Create(path + ".cpu.pprof")
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	c.profPath, c.profFile = path, f
	return nil
}

func (c *control) stopProfile() error {
	c.profMu.Lock()
	defer c.profMu.Unlock()
	if c.profFile == nil {
		return nil
	}
	pprof.StopCPUProfile()
	err := c.profFile.Close()
	c.profFile = nil
	if perr := writeProfile("allocs", c.profPath+".allocs.pprof"); perr != nil {
		return perr
	}
	return err
}

func writeProfile(name, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeHeapProfile(path string) error {
	runtime.GC()
	return writeProfile("heap", path+".heap.pprof")
}
