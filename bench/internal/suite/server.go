package suite

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
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
// and an allocation profile beside it, each answering "ok". On hotstate,
// "update W D" runs W writers changing the counter store for D and
// answers a JSON UpdateResult; on a cluster, "rtt D" measures round trips
// to the engine server for D and answers a JSON RTTResult.
func Serve(ctx context.Context, name, transport string, shared sharedEngine, wsLn, ctlLn net.Listener) error {
	sys, err := newSystem(ctx, name, transport, shared)
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
	c := &control{ctx: ctx, sys: sys, engineURL: shared.URL, conns: map[net.Conn]struct{}{}}
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
	ctx       context.Context // ends with the server
	sys       system
	engineURL string         // the shared engine's server, or ""
	wg        sync.WaitGroup // the connection handlers

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
	case "update":
		h, ok := c.sys.(*hotSystem)
		if len(f) != 3 || !ok {
			return "", fmt.Errorf("update W D, on hotstate")
		}
		w, err := strconv.Atoi(f[1])
		if err != nil || w <= 0 {
			return "", fmt.Errorf("bad writer count %q", f[1])
		}
		d, err := time.ParseDuration(f[2])
		if err != nil {
			return "", err
		}
		res, err := runWriters(c.ctx, h, w, d)
		if err != nil {
			return "", err
		}
		b, err := json.Marshal(res)
		return string(b), err
	case "rtt":
		if len(f) != 2 || c.engineURL == "" {
			return "", fmt.Errorf("rtt D, on a cluster")
		}
		d, err := time.ParseDuration(f[1])
		if err != nil {
			return "", err
		}
		res, err := engineRTT(c.ctx, c.engineURL, d)
		if err != nil {
			return "", err
		}
		b, err := json.Marshal(res)
		return string(b), err
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

// UpdateResult is what "update" measured on one node: Store.Update of the
// counter store in a closed loop by Writers goroutines.
type UpdateResult struct {
	Writers int     `json:"writers"`
	Updates uint64  `json:"updates"`
	Seconds float64 `json:"seconds"`
	// Runs counts the mutation's runs: more than Updates when a writer
	// lost the race for the next version to another node and ran again.
	Runs uint64 `json:"runs"`
	// GaveUp counts updates that returned ErrConflict: they lost the race
	// to other nodes as many times as hotstate retries, and changed
	// nothing.
	GaveUp uint64  `json:"gaveUp"`
	P50us  float64 `json:"p50us"`
	P99us  float64 `json:"p99us"`
	MeanUs float64 `json:"meanUs"`
	// Hist holds the latencies as hist buckets, so that the nodes' can be
	// added up.
	Hist map[int]uint64 `json:"hist"`
}

// runWriters changes the counter from writers goroutines for d, timing
// every Update.
func runWriters(ctx context.Context, h *hotSystem, writers int, d time.Duration) (*UpdateResult, error) {
	var (
		lat     hist
		runs    atomic.Uint64
		updates atomic.Uint64
		gaveUp  atomic.Uint64
		totalNs atomic.Int64
		wg      sync.WaitGroup
		errMu   sync.Mutex // guards firstErr
		first   error
	)
	start := time.Now()
	end := start.Add(d)
	for range writers {
		wg.Go(func() {
			for time.Now().Before(end) && ctx.Err() == nil {
				t0 := time.Now()
				err := h.increment(&runs)
				if errors.Is(err, hotstate.ErrConflict) {
					gaveUp.Add(1)
					continue
				}
				if err != nil {
					errMu.Lock()
					if first == nil {
						first = err
					}
					errMu.Unlock()
					return
				}
				el := time.Since(t0)
				lat.record(int64(el))
				totalNs.Add(int64(el))
				updates.Add(1)
			}
		})
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	res := &UpdateResult{Writers: writers, Updates: updates.Load(), Runs: runs.Load(), GaveUp: gaveUp.Load(), Seconds: time.Since(start).Seconds()}
	_, q := lat.snapshot()
	res.P50us, res.P99us = q(0.5)/1e3, q(0.99)/1e3
	res.Hist = lat.buckets()
	if res.Updates > 0 {
		res.MeanUs = float64(totalNs.Load()) / float64(res.Updates) / 1e3
	}
	return res, nil
}
