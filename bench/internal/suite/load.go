package suite

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Load generator modes.
const (
	ModeFanout = "fanout"
	ModeRPC    = "rpc"
)

// LoadParams tells a load generator what to measure against one server.
type LoadParams struct {
	System    string `json:"system"`
	WS        string `json:"ws"`  // host:port of the WebSocket endpoint
	Ctl       string `json:"ctl"` // host:port of the control endpoint
	ServerPID int    `json:"serverPid"`
	Mode      string `json:"mode"`
	Conns     int    `json:"conns"`
	// Rate is the fan-out latency phase's publishes per second.
	Rate float64 `json:"rate"`
	// Warmup runs before each measured phase and is discarded.
	Warmup time.Duration `json:"warmup"`
	// Phase is the length of each measured phase.
	Phase time.Duration `json:"phase"`
	// Window is how many changes the saturation phase keeps in flight.
	Window int `json:"window"`
	// Idle measures memory per idle connection once all are connected.
	Idle bool `json:"idle"`
	// PerAddr is the number of connections per 127.0.0.x source address;
	// 0 means all from the kernel's choice.
	PerAddr int `json:"perAddr"`
	// Profile, when set, is the path prefix of CPU and allocation profiles
	// the server writes during the measured phase.
	Profile string `json:"profile,omitempty"`
	// Nodes, when set, are the servers of a cluster, used instead of WS,
	// Ctl and ServerPID: connection i goes to node i mod len(Nodes), the
	// first node publishes, and the server figures add up every node's.
	Nodes []Endpoint `json:"nodes,omitempty"`
	// TLSCert, when set, is the servers' certificate: the clients connect
	// over TLS and trust it alone.
	TLSCert string `json:"tlsCert,omitempty"`
	// EnginePID is the cluster's engine server, whose CPU time is reported
	// beside the nodes'; 0 for none.
	EnginePID int `json:"enginePid,omitempty"`
}

// Endpoint is one server process: its WebSocket and control endpoints.
type Endpoint struct {
	WS  string `json:"ws"`
	Ctl string `json:"ctl"`
	PID int    `json:"pid"`
}

// endpoints are the servers under load: the cluster's nodes, or the one
// server.
func (p LoadParams) endpoints() []Endpoint {
	if len(p.Nodes) > 0 {
		return p.Nodes
	}
	return []Endpoint{{WS: p.WS, Ctl: p.Ctl, PID: p.ServerPID}}
}

// LoadResult is what one load generator run measured.
type LoadResult struct {
	System         string        `json:"system"`
	Conns          int           `json:"conns"`
	ConnectSeconds float64       `json:"connectSeconds"`
	Fanout         *FanoutResult `json:"fanout,omitempty"`
	RPC            *RPCResult    `json:"rpc,omitempty"`
	Idle           *IdleResult   `json:"idle,omitempty"`
}

// FanoutResult holds one fan-out run: latency at a fixed rate, then
// throughput at saturation.
type FanoutResult struct {
	Rate           float64 `json:"rate"`           // publishes per second in the latency phase
	LatencySamples uint64  `json:"latencySamples"` // deliveries timed
	Lost           uint64  `json:"lost"`           // deliveries that never arrived in that phase
	P50ms          float64 `json:"p50ms"`
	P99ms          float64 `json:"p99ms"`
	// RateCPUPerDelivery is the server's CPU microseconds per delivery in
	// the latency phase, where each wake-up writes one frame; the p99 of a
	// broadcast grows with it.
	RateCPUPerDelivery    float64 `json:"rateCpuPerDeliveryUs"`
	RateAllocsPerDelivery float64 `json:"rateAllocsPerDelivery"`
	// Saturation phase.
	Deliveries   uint64  `json:"deliveries"`
	Seconds      float64 `json:"seconds"`
	PerSecond    float64 `json:"perSecond"`
	ServerCPU    float64 `json:"serverCpu"` // seconds
	LoadCPU      float64 `json:"loadCpu"`   // seconds
	PerCPUSecond float64 `json:"perCpuSecond"`
	ServerUtil   float64 `json:"serverUtil"` // CPU seconds per second
	LoadUtil     float64 `json:"loadUtil"`
	ServerWait   float64 `json:"serverWait"` // run-queue wait seconds per second
	LoadWait     float64 `json:"loadWait"`
	// EngineUtil is the cluster's engine server's CPU seconds per second
	// at saturation (not in PerCPUSecond); RateEngineCPUPerDelivery its
	// CPU microseconds per delivery at the fixed rate.
	EngineUtil               float64 `json:"engineUtil,omitempty"`
	RateEngineCPUPerDelivery float64 `json:"rateEngineCpuPerDeliveryUs,omitempty"`
	AllocsPerDelivery        float64 `json:"allocsPerDelivery"`
	BytesPerDelivery         float64 `json:"bytesPerDelivery"` // WebSocket payload bytes received
}

// RPCResult holds one RPC run.
type RPCResult struct {
	Calls         uint64  `json:"calls"`
	Seconds       float64 `json:"seconds"`
	PerSecond     float64 `json:"perSecond"`
	ServerCPU     float64 `json:"serverCpu"`
	LoadCPU       float64 `json:"loadCpu"`
	PerCPUSecond  float64 `json:"perCpuSecond"`
	ServerUtil    float64 `json:"serverUtil"`
	LoadUtil      float64 `json:"loadUtil"`
	ServerWait    float64 `json:"serverWait"`
	LoadWait      float64 `json:"loadWait"`
	P50ms         float64 `json:"p50ms"`
	P99ms         float64 `json:"p99ms"`
	AllocsPerCall float64 `json:"allocsPerCall"`
}

// IdleResult is the server's memory per idle, subscribed connection.
type IdleResult struct {
	Conns int `json:"conns"`
	// RSS after a GC and returning freed memory to the OS, before the
	// clients connected and after.
	RSSBefore  uint64  `json:"rssBefore"`
	RSSAfter   uint64  `json:"rssAfter"`
	RSSPerConn float64 `json:"rssPerConn"`
	// The Go heap and goroutine stacks per connection, from MemStats.
	HeapPerConn  float64 `json:"heapPerConn"`
	StackPerConn float64 `json:"stackPerConn"`
	// GoroutinesPerConn counts the server's goroutines per connection.
	GoroutinesPerConn float64 `json:"goroutinesPerConn"`
	// KernelPerConn is the growth of TCP socket buffer memory in
	// /proc/net/sockstat per connection; it counts both ends of each
	// loopback connection and the whole machine.
	KernelPerConn float64 `json:"kernelPerConn"`
	// SlabPerConn is the growth of the kernel's slab memory (/proc/meminfo
	// Slab) per connection: the socket, file and epoll structures of both
	// ends, which KernelPerConn's buffer pages leave out. Machine-wide.
	SlabPerConn float64 `json:"slabPerConn,omitempty"`
}

// Load runs one load generator scenario against a running server.
func Load(ctx context.Context, p LoadParams) (*LoadResult, error) {
	g, err := newLoadgen(p)
	if err != nil {
		return nil, err
	}
	defer g.closeControl()
	for _, ep := range g.nodes {
		ctl, err := dialControl(ep.Ctl)
		if err != nil {
			return nil, err
		}
		g.ctls = append(g.ctls, ctl)
	}
	g.ctl = g.ctls[0]
	defer g.stop()
	switch p.Mode {
	case ModeFanout:
		return g.fanout(ctx)
	case ModeRPC:
		return g.rpc(ctx)
	}
	return nil, fmt.Errorf("suite: unknown mode %q", p.Mode)
}

func newLoadgen(p LoadParams) (*loadgen, error) {
	tc, err := clientTLS(p.TLSCert)
	if err != nil {
		return nil, err
	}
	return &loadgen{p: p, nodes: p.endpoints(), tls: tc}, nil
}

// loadgen is one load generator run.
type loadgen struct {
	p     LoadParams
	nodes []Endpoint
	tls   *tls.Config // nil for plain TCP
	ctls  []*ctlConn  // one per node
	ctl   *ctlConn    // the first node's, which publishes

	// clientsMu guards clients while the idle run's clients replace
	// themselves after a server restart.
	clientsMu sync.Mutex
	clients   []*client
	wg        sync.WaitGroup // the client goroutines
	done      atomic.Bool

	lat       hist
	delivered atomic.Uint64
	bytes     atomic.Uint64
	failures  atomic.Uint64
	failMu    sync.Mutex // guards firstErr
	firstErr  error
}

func (g *loadgen) fail(err error) {
	if g.done.Load() {
		return
	}
	g.failures.Add(1)
	g.failMu.Lock()
	if g.firstErr == nil {
		g.firstErr = err
	}
	g.failMu.Unlock()
}

func (g *loadgen) err() error {
	g.failMu.Lock()
	defer g.failMu.Unlock()
	return g.firstErr
}

func (g *loadgen) closeControl() {
	for _, c := range g.ctls {
		c.close()
	}
}

// stop closes every client and waits for their goroutines.
func (g *loadgen) stop() {
	g.done.Store(true)
	g.clientsMu.Lock()
	for _, c := range g.clients {
		_ = c.ws.close()
	}
	g.clientsMu.Unlock()
	g.wg.Wait()
}

// connectAll opens p.Conns connections with a few dialers in parallel.
func (g *loadgen) connectAll(ctx context.Context, sub bool) (time.Duration, error) {
	start := time.Now()
	n := g.p.Conns
	g.clients = make([]*client, n)
	next := atomic.Int64{}
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range min(32, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				c, err := connect(cctx, g.p.System, g.nodes[i%len(g.nodes)].WS, sourceAddr(i, g.p.PerAddr), g.tls, sub)
				cancel()
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = fmt.Errorf("suite: connection %d: %w", i, err)
					}
					mu.Unlock()
					next.Store(int64(n))
					return
				}
				g.clients[i] = c
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		live := g.clients[:0]
		for _, c := range g.clients {
			if c != nil {
				live = append(live, c)
			}
		}
		g.clients = live
		return 0, firstErr
	}
	return time.Since(start), nil
}

// sourceAddr spreads connections over 127.0.0.1, .2, ... perAddr at a time,
// so more than one address's worth of ephemeral ports can be used.
func sourceAddr(i, perAddr int) *net.TCPAddr {
	if perAddr <= 0 || i < perAddr {
		return nil // the kernel's choice: 127.0.0.1 towards 127.0.0.1
	}
	host := 1 + i/perAddr
	if host > 254 {
		host = 1 + (host-1)%254
	}
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(host))}
}

// waitSubs waits until every server counts at least the subscribers
// connected to it, of want in all. (A hotstate node counts the cluster's,
// a centrifuge node its own.)
func (g *loadgen) waitSubs(want int) error {
	deadline := time.Now().Add(10 * time.Second)
	k := len(g.nodes)
	for j, ctl := range g.ctls {
		share := want / k
		if j < want%k {
			share++
		}
		for {
			s, err := ctl.call("subs")
			if err != nil {
				return err
			}
			if n, _ := strconv.Atoi(s); n >= share {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("suite: server %d counts %s subscribers, want %d", j+1, s, share)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

func (g *loadgen) readLoop(c *client) {
	defer g.wg.Done()
	for {
		msg, err := c.ws.next()
		if err != nil {
			if !g.done.Load() {
				g.fail(err)
			}
			return
		}
		if c.sys == Centrifuge {
			if err := c.centPings(msg); err != nil {
				g.fail(err)
				return
			}
		}
		n := uint64(len(msg))
		stamps(msg, func(ts int64) {
			g.lat.record(time.Now().UnixNano() - ts)
			g.delivered.Add(1)
		})
		g.bytes.Add(n)
	}
}

// waitDelivered waits until want deliveries have arrived, or until none
// has arrived for stall, and returns how many did.
func (g *loadgen) waitDelivered(want uint64, stall time.Duration) uint64 {
	last, since := g.delivered.Load(), time.Now()
	for {
		got := g.delivered.Load()
		if got >= want || g.err() != nil {
			return got
		}
		if got != last {
			last, since = got, time.Now()
		} else if time.Since(since) > stall {
			return got
		}
		time.Sleep(time.Millisecond)
	}
}

func (g *loadgen) fanout(ctx context.Context) (*LoadResult, error) {
	p := g.p
	res := &LoadResult{System: p.System, Conns: p.Conns}
	var before memSample
	if p.Idle {
		var err error
		if before, err = g.memSample(); err != nil {
			return nil, err
		}
	}
	took, err := g.connectAll(ctx, true)
	if err != nil {
		return nil, err
	}
	res.ConnectSeconds = took.Seconds()
	if err := g.waitSubs(p.Conns); err != nil {
		return nil, err
	}
	if p.Idle {
		if res.Idle, err = g.idleMemory(before); err != nil {
			return nil, err
		}
	}
	for _, c := range g.clients {
		g.wg.Add(1)
		go g.readLoop(c)
	}
	n := uint64(p.Conns)
	f := &FanoutResult{Rate: p.Rate}
	res.Fanout = f

	// Latency at a fixed rate, after a warm-up at the same rate.
	ratePhase := func(d time.Duration) (sent uint64, err error) {
		count := max(2, int(p.Rate*d.Seconds()+0.5))
		base := g.delivered.Load()
		if _, err := g.ctl.call(fmt.Sprintf("rate %g %d", p.Rate, count)); err != nil {
			return 0, err
		}
		want := base + uint64(count)*n
		got := g.waitDelivered(want, 5*time.Second)
		return want - min(got, want), g.err()
	}
	if _, err := ratePhase(p.Warmup); err != nil {
		return nil, err
	}
	g.lat.reset()
	var lost uint64
	lm, err := g.measureOnly(func() (uint64, error) {
		d0 := g.delivered.Load()
		var err error
		lost, err = ratePhase(p.Phase)
		return g.delivered.Load() - d0, err
	})
	if err != nil {
		return nil, err
	}
	total, q := g.lat.snapshot()
	f.LatencySamples, f.Lost = total, lost
	f.P50ms, f.P99ms = q(0.50)/1e6, q(0.99)/1e6
	if lm.ops > 0 {
		f.RateCPUPerDelivery = lm.serverCPU / float64(lm.ops) * 1e6
		f.RateEngineCPUPerDelivery = lm.engineCPU / float64(lm.ops) * 1e6
		f.RateAllocsPerDelivery = lm.allocsPerOp()
	}

	// Saturation: keep Window changes in flight, refilling half of it
	// whenever half has been delivered to everyone.
	half := max(1, p.Window/2)
	fill := func(d time.Duration) (uint64, error) {
		base := g.delivered.Load()
		published := uint64(0)
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			if err := g.err(); err != nil {
				return 0, err
			}
			// Signed: a straggler from the latency phase may arrive late.
			if int64(published*n)-int64(g.delivered.Load()-base) <= int64(half)*int64(n) {
				if err := g.ctl.send(fmt.Sprintf("pub %d", half)); err != nil {
					return 0, err
				}
				published += uint64(half)
				continue
			}
			time.Sleep(200 * time.Microsecond)
		}
		want := base + published*n
		got := g.waitDelivered(want, 5*time.Second)
		if got < want {
			return 0, fmt.Errorf("suite: %d of %d deliveries missing after saturation (%d connections failed, the first with %v)",
				want-got, published*n, g.failures.Load(), g.err())
		}
		return published * n, g.err()
	}
	if _, err := fill(p.Warmup); err != nil {
		return nil, err
	}
	m, err := g.measure(func() (uint64, error) {
		b0 := g.bytes.Load()
		d, err := fill(p.Phase)
		if d > 0 {
			f.BytesPerDelivery = float64(g.bytes.Load()-b0) / float64(d)
		}
		return d, err
	})
	if err != nil {
		return nil, err
	}
	f.Deliveries, f.Seconds = m.ops, m.seconds
	f.ServerCPU, f.LoadCPU = m.serverCPU, m.loadCPU
	f.PerSecond, f.PerCPUSecond = m.perSecond(), m.perCPU()
	f.ServerUtil, f.LoadUtil = m.serverCPU/m.seconds, m.loadCPU/m.seconds
	f.ServerWait, f.LoadWait = m.serverWait/m.seconds, m.loadWait/m.seconds
	f.EngineUtil = m.engineCPU / m.seconds
	f.AllocsPerDelivery = m.allocsPerOp()
	return res, nil
}

func (g *loadgen) rpc(ctx context.Context) (*LoadResult, error) {
	p := g.p
	res := &LoadResult{System: p.System, Conns: p.Conns}
	took, err := g.connectAll(ctx, false)
	if err != nil {
		return nil, err
	}
	res.ConnectSeconds = took.Seconds()
	var calls atomic.Uint64
	var measuring atomic.Bool
	for _, c := range g.clients {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			for id := uint32(1); !g.done.Load(); id++ {
				req, err := c.request(id)
				if err != nil {
					g.fail(err)
					return
				}
				start := time.Now()
				if err := c.ws.send(req); err != nil {
					g.fail(err)
					return
				}
				for {
					msg, err := c.ws.next()
					if err != nil {
						g.fail(err)
						return
					}
					ok, err := c.answers(msg, id)
					if err != nil {
						g.fail(err)
						return
					}
					if ok {
						break
					}
				}
				if measuring.Load() {
					g.lat.record(int64(time.Since(start)))
				}
				calls.Add(1)
			}
		}()
	}
	time.Sleep(p.Warmup)
	if err := g.err(); err != nil {
		return nil, err
	}
	g.lat.reset()
	measuring.Store(true)
	m, err := g.measure(func() (uint64, error) {
		c0 := calls.Load()
		time.Sleep(p.Phase)
		return calls.Load() - c0, g.err()
	})
	measuring.Store(false)
	if err != nil {
		return nil, err
	}
	_, q := g.lat.snapshot()
	res.RPC = &RPCResult{
		Calls: m.ops, Seconds: m.seconds, PerSecond: m.perSecond(),
		ServerCPU: m.serverCPU, LoadCPU: m.loadCPU, PerCPUSecond: m.perCPU(),
		ServerUtil: m.serverCPU / m.seconds, LoadUtil: m.loadCPU / m.seconds,
		ServerWait: m.serverWait / m.seconds, LoadWait: m.loadWait / m.seconds,
		P50ms: q(0.50) / 1e6, P99ms: q(0.99) / 1e6,
		AllocsPerCall: m.allocsPerOp(),
	}
	return res, nil
}

// measurement is one measured window: the operations it counted, and what
// the server and the load generator spent on them.
type measurement struct {
	ops       uint64
	seconds   float64
	serverCPU float64 // every server's, added up
	loadCPU   float64
	engineCPU float64 // the engine server's
	// Run-queue waits: time each process was runnable but not running.
	serverWait float64
	loadWait   float64
	mallocs    uint64
}

func (m measurement) perSecond() float64 { return float64(m.ops) / m.seconds }

func (m measurement) perCPU() float64 {
	if m.serverCPU <= 0 {
		return 0
	}
	return float64(m.ops) / m.serverCPU
}

func (m measurement) allocsPerOp() float64 {
	if m.ops == 0 {
		return 0
	}
	return float64(m.mallocs) / float64(m.ops)
}

// measure runs fn, which returns the operations it completed, between two
// readings of both processes' CPU time and the server's allocation count,
// with the server profiling when asked to.
func (g *loadgen) measure(fn func() (uint64, error)) (measurement, error) {
	if g.p.Profile != "" {
		for j, ctl := range g.ctls {
			path := g.p.Profile
			if len(g.ctls) > 1 {
				path += fmt.Sprintf("-node%d", j+1)
			}
			if _, err := ctl.call("prof " + path); err != nil {
				return measurement{}, err
			}
			defer func() { _, _ = ctl.call("unprof") }()
		}
	}
	return g.measureOnly(fn)
}

// clock is what measureOnly reads at each end of a window.
type clock struct {
	serverCPU, serverWait float64
	loadCPU, loadWait     float64
	engineCPU             float64
}

func (g *loadgen) readClock() (clock, error) {
	var c clock
	for _, ep := range g.nodes {
		cpu, err := cpuSeconds(ep.PID)
		if err != nil {
			return c, err
		}
		wait, err := runQueueWait(ep.PID)
		if err != nil {
			return c, err
		}
		c.serverCPU += cpu
		c.serverWait += wait
	}
	var err error
	if c.loadCPU, err = cpuSeconds(os.Getpid()); err != nil {
		return c, err
	}
	if c.loadWait, err = runQueueWait(os.Getpid()); err != nil {
		return c, err
	}
	if g.p.EnginePID > 0 {
		if c.engineCPU, err = cpuSeconds(g.p.EnginePID); err != nil {
			return c, err
		}
	}
	return c, nil
}

// measureOnly is measure without profiles.
func (g *loadgen) measureOnly(fn func() (uint64, error)) (measurement, error) {
	var m measurement
	s0, err := g.stats()
	if err != nil {
		return m, err
	}
	c0, err := g.readClock()
	if err != nil {
		return m, err
	}
	t0 := time.Now()
	ops, err := fn()
	if err != nil {
		return m, err
	}
	m.seconds = time.Since(t0).Seconds()
	c1, err := g.readClock()
	if err != nil {
		return m, err
	}
	s1, err := g.stats()
	if err != nil {
		return m, err
	}
	m.ops = ops
	m.serverCPU, m.serverWait = c1.serverCPU-c0.serverCPU, c1.serverWait-c0.serverWait
	m.loadCPU, m.loadWait = c1.loadCPU-c0.loadCPU, c1.loadWait-c0.loadWait
	m.engineCPU = c1.engineCPU - c0.engineCPU
	m.mallocs = s1.Mallocs - s0.Mallocs
	return m, nil
}

// stats returns the servers' allocation counters, added up over a
// cluster's nodes.
func (g *loadgen) stats() (serverStats, error) {
	var sum serverStats
	for _, ctl := range g.ctls {
		var s serverStats
		line, err := ctl.call("stats")
		if err != nil {
			return sum, err
		}
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			return sum, err
		}
		sum.Mallocs += s.Mallocs
		sum.TotalAlloc += s.TotalAlloc
		sum.HeapInuse += s.HeapInuse
		sum.StackInuse += s.StackInuse
		sum.Sys += s.Sys
		sum.NumGC += s.NumGC
		sum.Goroutines += s.Goroutines
		sum.Published += s.Published
		sum.Subs += s.Subs
	}
	return sum, nil
}

// memSample is the server's memory at one moment, after a GC.
type memSample struct {
	rss   uint64
	stats serverStats
	sock  sockstat
	slab  uint64 // bytes
}

func (g *loadgen) memSample() (memSample, error) {
	var m memSample
	if _, err := g.ctl.call("gc"); err != nil {
		return m, err
	}
	var err error
	if m.rss, err = rssBytes(g.p.ServerPID); err != nil {
		return m, err
	}
	if m.stats, err = g.stats(); err != nil {
		return m, err
	}
	if m.sock, err = readSockstat(); err != nil {
		return m, err
	}
	m.slab, err = slabBytes()
	return m, err
}

// idleMemory measures the server's memory per connection once every
// client is connected and subscribed, against before.
func (g *loadgen) idleMemory(before memSample) (*IdleResult, error) {
	// Let the handshakes' garbage and buffers settle.
	time.Sleep(min(time.Second, max(200*time.Millisecond, g.p.Phase/3)))
	after, err := g.memSample()
	if err != nil {
		return nil, err
	}
	if g.p.Profile != "" {
		if _, err := g.ctl.call("heap " + g.p.Profile + "-idle"); err != nil {
			return nil, err
		}
	}
	return idleResult(g.p.Conns, before, after), nil
}

func idleResult(n int, before, after memSample) *IdleResult {
	per := func(a, b uint64) float64 { return (float64(b) - float64(a)) / float64(n) }
	return &IdleResult{
		Conns:             n,
		RSSBefore:         before.rss,
		RSSAfter:          after.rss,
		RSSPerConn:        per(before.rss, after.rss),
		HeapPerConn:       per(before.stats.HeapInuse, after.stats.HeapInuse),
		StackPerConn:      per(before.stats.StackInuse, after.stats.StackInuse),
		GoroutinesPerConn: float64(after.stats.Goroutines-before.stats.Goroutines) / float64(n),
		KernelPerConn:     float64((after.sock.MemPages-before.sock.MemPages)*int64(os.Getpagesize())) / float64(n),
		SlabPerConn:       per(before.slab, after.slab),
	}
}

// ctlConn is the load generator's side of a server's control endpoint.
type ctlConn struct {
	nc net.Conn
	r  *bufio.Reader
}

func dialControl(addr string) (*ctlConn, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	return &ctlConn{nc: nc, r: bufio.NewReader(nc)}, nil
}

func (c *ctlConn) send(cmd string) error {
	_, err := c.nc.Write([]byte(cmd + "\n"))
	return err
}

// call sends a command that answers and returns the answer.
func (c *ctlConn) call(cmd string) (string, error) {
	if err := c.send(cmd); err != nil {
		return "", err
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("suite: control %q: %w", cmd, err)
	}
	line = strings.TrimSpace(line)
	if msg, ok := strings.CutPrefix(line, "error "); ok {
		return "", fmt.Errorf("suite: control %q: %s", cmd, msg)
	}
	return line, nil
}

func (c *ctlConn) close() { _ = c.nc.Close() }
