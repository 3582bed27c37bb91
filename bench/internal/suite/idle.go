package suite

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ModeIdle is the idle-at-scale run: Conns subscribed connections held
// idle, the server's memory per connection, then a server restart and the
// time until every client has reconnected and subscribed again.
const ModeIdle = "idle"

// redialers bounds the handshakes the load generator has in flight while
// its clients reconnect, as connectAll's dialers do: without it 100 000
// simultaneous SYNs overflow the listen backlog and the figure becomes the
// kernel's SYN retransmission timer rather than the server's work.
const redialers = 32

// IdleScaleResult is one system's idle-at-scale run.
type IdleScaleResult struct {
	System string `json:"system"`
	Conns  int    `json:"conns"`
	// Nodes is how many server processes shared the connections, each
	// with a load generator of its own.
	Nodes int `json:"nodes"`
	// Addrs is how many 127.0.0.x source addresses the clients used.
	Addrs          int     `json:"addrs"`
	ConnectSeconds float64 `json:"connectSeconds"`
	// Idle is the server's memory per connection, measured as in the
	// suite's idle row.
	Idle *IdleResult `json:"idle"`
	// KernelBytes is the growth of TCP socket buffer memory, machine-wide,
	// with every connection open; SlabBytes that of the kernel's slab
	// memory (both ends' socket structures).
	KernelBytes int64 `json:"kernelBytes"`
	SlabBytes   int64 `json:"slabBytes"`
	// ReconnectSeconds runs from the server's SIGKILL to the last client's
	// confirmed subscription on the new server process.
	ReconnectSeconds float64 `json:"reconnectSeconds"`
	// RestartSeconds is the part of it until the new server listened.
	RestartSeconds float64 `json:"restartSeconds"`
	// FailedDials counts reconnection attempts that failed (refused while
	// no server listened, or timed out) and were retried.
	FailedDials uint64 `json:"failedDials"`
	// RSSAfterReconnect is the new server's RSS once every client is back.
	RSSAfterReconnect uint64 `json:"rssAfterReconnect"`
}

// ReconnectPerSecond is the reconnection rate over the whole restart.
func (r *IdleScaleResult) ReconnectPerSecond() float64 {
	if r.ReconnectSeconds <= 0 {
		return 0
	}
	return float64(r.Conns) / r.ReconnectSeconds
}

// IdleScaleReport is what an -idle run prints.
type IdleScaleReport struct {
	Started   time.Time `json:"started"`
	Machine   Machine   `json:"machine"`
	Pinned    bool      `json:"pinned"`
	Transport string    `json:"transport"`
	TLS       bool      `json:"tls,omitempty"`
	PerAddr   int       `json:"perAddr"`
	// Nodes is how many server processes shared the connections.
	Nodes   int                `json:"nodes"`
	Sysctls []string           `json:"sysctls,omitempty"` // what hotbench raised
	Results []*IdleScaleResult `json:"results"`
	Errors  []string           `json:"errors,omitempty"`
	Seconds float64            `json:"seconds"`
}

// Text renders the report for a terminal (and, being Markdown, for
// docs/BENCHMARKS.md).
func (r *IdleScaleReport) Text() string {
	var b strings.Builder
	m := r.Machine
	pin := "not pinned"
	if r.Pinned {
		pin = "server on CPU 0, load generator on CPU 1 (taskset)"
	}
	fmt.Fprintf(&b, "hotbench idle at scale, %s\n\n", r.Started.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- machine: %s, %d cores, %.0f GiB, Linux %s, %s\n", m.CPU, m.Cores, m.MemoryGiB, m.Kernel, m.Go)
	transport := r.Transport
	if r.TLS {
		transport += "; every system over TLS"
	}
	fmt.Fprintf(&b, "- processes: GOMAXPROCS=1 each; %s; open files %d; ports %s; %d connections per 127.0.0.x source address; hotstate served by %s\n",
		pin, m.NoFile, m.PortRange, r.PerAddr, transport)
	if r.Nodes > 1 {
		fmt.Fprintf(&b, "- %d server processes share the connections, each with a load generator of its own (they connect one after another; the kernel figures are each one's own growth); the restart kills all of them at once; per-connection figures are over all of them\n", r.Nodes)
	}
	for _, s := range r.Sysctls {
		fmt.Fprintf(&b, "- raised for this run: %s\n", s)
	}
	b.WriteString("\n| system | conns | RSS/conn | Go heap/conn | stacks/conn | goroutines/conn | kernel TCP/conn | kernel slab/conn | server RSS | kernel slab | connect | reconnect all after restart | reconnects/s |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, x := range r.Results {
		i := x.Idle
		fmt.Fprintf(&b, "| %s | %d | %.1f KiB | %.1f KiB | %.1f KiB | %.1f | %.1f KiB | %.1f KiB | %s | %s | %.1f s | %.1f s | %.0f |\n",
			x.System, x.Conns, i.RSSPerConn/1024, i.HeapPerConn/1024, i.StackPerConn/1024, i.GoroutinesPerConn,
			i.KernelPerConn/1024, i.SlabPerConn/1024, mib(float64(i.RSSAfter)), mib(float64(x.SlabBytes)),
			x.ConnectSeconds, x.ReconnectSeconds, x.ReconnectPerSecond())
	}
	b.WriteString("\nRSS after runtime.GC and debug.FreeOSMemory, minus the same before connecting; kernel TCP is /proc/net/sockstat's TCP mem (socket buffers), kernel slab /proc/meminfo's Slab (socket, file and epoll structures), both machine-wide and for both ends of each loopback connection. ")
	b.WriteString("Reconnect: from SIGKILL of the server to the last client's subscription confirmed by a new server process on the same port; each client redials from its own source address, at most ")
	fmt.Fprintf(&b, "%d handshakes in flight.\n", redialers)
	for _, x := range r.Results {
		fmt.Fprintf(&b, "\n%s: %.2f s until the new server listened, %d failed dials retried, new server's RSS with all back %s.\n",
			x.System, x.RestartSeconds, x.FailedDials, mib(float64(x.RSSAfterReconnect)))
	}
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "\nerror: %s\n", e)
	}
	return b.String()
}

func mib(v float64) string { return fmt.Sprintf("%.0f MiB", v/(1<<20)) }

// runIdle runs the idle-at-scale measurement of n connections on every
// configured system.
func runIdle(ctx context.Context, cfg Config, n int) (*IdleScaleReport, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	o, done, err := newOrchestrator(cfg)
	if err != nil {
		return nil, err
	}
	defer done()
	rep := &IdleScaleReport{Started: time.Now().UTC(), Pinned: o.pinned, Transport: cfg.Transport, TLS: cfg.TLS, PerAddr: cfg.PerAddr}
	rep.Sysctls = idleLimits(n, cfg.PerAddr, cfg.Log)
	rep.Machine = machine()
	nodes, err := idleNodes(n, cfg.IdleNodes, rep.Machine.NoFile)
	if err != nil {
		return nil, err
	}
	rep.Nodes = nodes
	for _, sys := range cfg.Systems {
		fmt.Fprintf(cfg.Log, "idle: %d connections, %s", n, sys)
		res, err := o.idleScale(ctx, sys, n, nodes)
		if err != nil {
			fmt.Fprintf(cfg.Log, ": %v\n", err)
			rep.Errors = append(rep.Errors, sys+": "+err.Error())
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue
		}
		fmt.Fprintf(cfg.Log, ": %.1f KiB RSS/conn, reconnected all in %.1f s\n", res.Idle.RSSPerConn/1024, res.ReconnectSeconds)
		rep.Results = append(rep.Results, res)
	}
	rep.Seconds = time.Since(rep.Started).Seconds()
	return rep, nil
}

// idleNodes is how many server processes hold n connections: asked, or
// as few as an open file limit of lim allows. A server and its load
// generator each hold one descriptor per connection, and a few of their
// own.
func idleNodes(n, asked int, lim uint64) (int, error) {
	const own = 256
	if lim == 0 {
		return max(1, asked), nil
	}
	if lim <= own {
		return 0, fmt.Errorf("suite: the open file limit %d leaves no room for connections", lim)
	}
	room := int(lim - own)
	if asked <= 0 {
		return (n + room - 1) / room, nil
	}
	if per := (n + asked - 1) / asked; per > room {
		return 0, fmt.Errorf("suite: the open file limit %d is too low for %d connections in one process (at most %d); use -nodes %d or more, or raise the hard limit (which needs CAP_SYS_RESOURCE)", lim, per, room, (n+room-1)/room)
	}
	return asked, nil
}

// pinnable reports whether processes can be pinned to CPUs 0 and 1.
func pinnable(pin bool) bool {
	if !pin || runtime.NumCPU() < 2 {
		return false
	}
	_, err := exec.LookPath("taskset")
	return err == nil
}

// idleLimits raises the open file limit for n connections where the
// process may and, when run as root, the kernel limits n connections from
// one machine to itself need, and returns the sysctls it changed. Nothing
// is written to configuration files: the values last until the next boot.
func idleLimits(n, perAddr int, log io.Writer) []string {
	type need struct {
		path string
		min  int
	}
	needs := []need{
		// The ceiling of each process's open file limit.
		{"/proc/sys/fs/nr_open", n + 4096},
		// The killed server's sockets close actively: they wait out
		// TIME_WAIT, and are orphans until then.
		{"/proc/sys/net/ipv4/tcp_max_tw_buckets", n + 4096},
		{"/proc/sys/net/ipv4/tcp_max_orphans", n + 4096},
	}
	var changed []string
	for _, nd := range needs {
		b, err := os.ReadFile(nd.path)
		if err != nil {
			continue
		}
		v, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || v >= nd.min {
			continue
		}
		name := strings.ReplaceAll(strings.TrimPrefix(nd.path, "/proc/sys/"), "/", ".")
		if os.Geteuid() != 0 {
			fmt.Fprintf(log, "hotbench: %s is %d, below the %d this run needs; as root hotbench raises it\n", name, v, nd.min)
			continue
		}
		if err := os.WriteFile(nd.path, []byte(strconv.Itoa(nd.min)), 0o644); err != nil {
			fmt.Fprintf(log, "hotbench: cannot raise %s: %v\n", name, err)
			continue
		}
		changed = append(changed, fmt.Sprintf("%s %d -> %d (until reboot)", name, v, nd.min))
	}
	if perAddr > 0 {
		if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
			var lo, hi int
			if _, err := fmt.Sscan(string(b), &lo, &hi); err == nil && hi-lo+1 < perAddr {
				fmt.Fprintf(log, "hotbench: ip_local_port_range %d-%d holds fewer than -peraddr %d ports\n", lo, hi, perAddr)
			}
		}
	}
	if err := raiseNoFile(uint64(n) + 4096); err != nil {
		fmt.Fprintln(log, "hotbench: cannot raise the open file limit:", err)
	}
	return changed
}

// idleScale runs one system: nodes servers, each with a load generator
// that connects its share of n clients and measures, then a SIGKILL of
// every server and a new one on each port, and the clients reconnecting.
// The load generators connect one after another, so the machine-wide
// kernel figures each takes are its own connections'.
func (o *orchestrator) idleScale(ctx context.Context, sys string, n, nodes int) (*IdleScaleResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	serve := o.serveArgs(sys)
	srvs := make([]*server, 0, nodes)
	defer func() {
		for _, s := range srvs {
			s.stop()
		}
	}()
	for range nodes {
		s, err := o.startServer(ctx, 0, serve...)
		if err != nil {
			return nil, err
		}
		srvs = append(srvs, s)
	}
	type loadgen struct {
		cmd *exec.Cmd
		in  io.WriteCloser
		out *bufio.Reader
	}
	gens := make([]loadgen, 0, nodes)
	defer func() {
		for _, g := range gens {
			g.in.Close()
			_ = g.cmd.Wait()
		}
	}()
	for j, s := range srvs {
		p := LoadParams{
			System: sys, Mode: ModeIdle, Conns: share(n, nodes, j), PerAddr: o.cfg.PerAddr, Phase: o.cfg.Phase,
			WS: s.ws, Ctl: s.ctl, ServerPID: s.pid(), TLSCert: o.cert,
		}
		o.profile(&p, j, fmt.Sprintf("idle-%d-%s", n, sys))
		b, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		cmd, in, out, err := o.startPiped(ctx, 1, "load", "-params", string(b))
		if err != nil {
			return nil, err
		}
		gens = append(gens, loadgen{cmd, in, out})
		line, err := out.ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "restart" {
			return nil, fmt.Errorf("load generator: %q before the restart: %v", line, err)
		}
	}
	fmt.Fprint(o.cfg.Log, " (restarting the server)")
	killed := time.Now()
	for _, s := range srvs {
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
	}
	// Every node restarts at once, as after a machine's reboot.
	errs := make([]error, len(srvs))
	var wg sync.WaitGroup
	for j, s := range srvs {
		wg.Go(func() {
			_ = s.cmd.Wait()
			srvs[j], errs[j] = o.startServer(ctx, 0, append(slices.Clone(serve), "-listen", s.ws)...)
		})
	}
	wg.Wait()
	listening := time.Since(killed)
	if err := errors.Join(errs...); err != nil {
		srvs = slices.DeleteFunc(srvs, func(s *server) bool { return s == nil })
		return nil, fmt.Errorf("restart: %w", err)
	}
	for j, g := range gens {
		if _, err := fmt.Fprintf(g.in, "restarted %d %s %d\n", killed.UnixNano(), srvs[j].ctl, srvs[j].pid()); err != nil {
			return nil, err
		}
	}
	parts := make([]*IdleScaleResult, len(gens))
	for j, g := range gens {
		rest, err := io.ReadAll(g.out)
		if err != nil {
			return nil, err
		}
		var res IdleScaleResult
		if err := json.Unmarshal(rest, &res); err != nil {
			return nil, fmt.Errorf("load generator: %w (%q)", err, rest)
		}
		parts[j] = &res
	}
	res := combineIdle(parts)
	res.RestartSeconds = listening.Seconds()
	return res, nil
}

// share is node j's part of n connections over nodes.
func share(n, nodes, j int) int {
	s := n / nodes
	if j < n%nodes {
		s++
	}
	return s
}

// combineIdle adds up the load generators' results of one run: counts and
// bytes add, figures per connection are weighted by each one's
// connections, and the run's reconnection took as long as its slowest.
func combineIdle(parts []*IdleScaleResult) *IdleScaleResult {
	if len(parts) == 1 {
		parts[0].Nodes = 1
		return parts[0]
	}
	res := &IdleScaleResult{System: parts[0].System, Nodes: len(parts), Idle: &IdleResult{}}
	i := res.Idle
	for _, p := range parts {
		res.Conns += p.Conns
		res.Addrs = max(res.Addrs, p.Addrs)
		res.ConnectSeconds += p.ConnectSeconds
		res.KernelBytes += p.KernelBytes
		res.SlabBytes += p.SlabBytes
		res.ReconnectSeconds = max(res.ReconnectSeconds, p.ReconnectSeconds)
		res.FailedDials += p.FailedDials
		res.RSSAfterReconnect += p.RSSAfterReconnect
		w, q := float64(p.Conns), p.Idle
		i.Conns += q.Conns
		i.RSSBefore += q.RSSBefore
		i.RSSAfter += q.RSSAfter
		i.RSSPerConn += w * q.RSSPerConn
		i.HeapPerConn += w * q.HeapPerConn
		i.StackPerConn += w * q.StackPerConn
		i.GoroutinesPerConn += w * q.GoroutinesPerConn
		i.KernelPerConn += w * q.KernelPerConn
		i.SlabPerConn += w * q.SlabPerConn
	}
	n := float64(res.Conns)
	i.RSSPerConn /= n
	i.HeapPerConn /= n
	i.StackPerConn /= n
	i.GoroutinesPerConn /= n
	i.KernelPerConn /= n
	i.SlabPerConn /= n
	return res
}

// idleLoad is the load generator's side of ModeIdle. It writes "restart"
// to out once it has measured, and reads "restarted KILLED_UNIX_NANO CTL
// PID" from in, the new server process.
func idleLoad(ctx context.Context, p LoadParams, in io.Reader, out io.Writer) (*IdleScaleResult, error) {
	_ = raiseNoFile(uint64(p.Conns) + 4096) // the orchestrator checked what it got
	g, err := newLoadgen(p)
	if err != nil {
		return nil, err
	}
	defer g.closeControl()
	ctl, err := dialControl(p.Ctl)
	if err != nil {
		return nil, err
	}
	g.ctls, g.ctl = []*ctlConn{ctl}, ctl
	defer g.stop()
	res := &IdleScaleResult{System: p.System, Conns: p.Conns, Addrs: sourceAddrs(p.Conns, p.PerAddr)}
	before, err := g.memSample()
	if err != nil {
		return nil, err
	}
	took, err := g.connectAll(ctx, true)
	if err != nil {
		return nil, err
	}
	res.ConnectSeconds = took.Seconds()
	if err := g.waitSubs(p.Conns); err != nil {
		return nil, err
	}
	if res.Idle, err = g.idleMemory(before); err != nil {
		return nil, err
	}
	res.KernelBytes = int64(res.Idle.KernelPerConn * float64(p.Conns))
	res.SlabBytes = int64(res.Idle.SlabPerConn * float64(p.Conns))

	// Each client now reads until its connection fails and reconnects
	// itself; rejoined counts those back, last is when the latest did.
	var rejoined atomic.Int64
	var last atomic.Int64
	var failed atomic.Uint64
	sem := make(chan struct{}, redialers)
	for i := range g.clients {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.clientsMu.Lock()
			c := g.clients[i]
			g.clientsMu.Unlock()
			for {
				g.idleRead(c)
				if g.done.Load() {
					return
				}
				c = g.redial(ctx, i, sem, &failed)
				if c == nil {
					return
				}
				now := time.Now().UnixNano()
				for {
					l := last.Load()
					if now <= l || last.CompareAndSwap(l, now) {
						break
					}
				}
				rejoined.Add(1)
			}
		}()
	}
	if _, err := fmt.Fprintln(out, "restart"); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("suite: waiting for the restart: %w", err)
	}
	var killed int64
	var newCtl string
	var newPID int
	if _, err := fmt.Sscanf(line, "restarted %d %s %d", &killed, &newCtl, &newPID); err != nil {
		return nil, fmt.Errorf("suite: bad restart line %q: %w", line, err)
	}
	ctl, err = dialControl(newCtl)
	if err != nil {
		return nil, err
	}
	g.ctls = append(g.ctls, ctl)
	g.ctl = ctl
	g.p.ServerPID = newPID
	g.nodes[0].Ctl, g.nodes[0].PID = newCtl, newPID
	deadline := time.Now().Add(10 * time.Minute)
	for rejoined.Load() < int64(p.Conns) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("suite: %d of %d clients back after 10 minutes (%d failed dials)", rejoined.Load(), p.Conns, failed.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	res.ReconnectSeconds = time.Duration(last.Load() - killed).Seconds()
	res.FailedDials = failed.Load()
	g.ctls[0].close() // the first server's is gone
	g.ctls = g.ctls[1:]
	if err := g.waitSubs(p.Conns); err != nil {
		return nil, err
	}
	after, err := g.memSample()
	if err != nil {
		return nil, err
	}
	res.RSSAfterReconnect = after.rss
	return res, nil
}

// idleRead reads c until its connection fails, answering centrifuge's
// pings on the way.
func (g *loadgen) idleRead(c *client) {
	for {
		msg, err := c.ws.next()
		if err != nil {
			return
		}
		if c.sys == Centrifuge {
			if err := c.centPings(msg); err != nil {
				return
			}
		}
	}
}

// redial replaces client i with a new connection from the same source
// address, subscribed again, retrying with a jittered backoff while the
// server is away. It returns nil once the run is over.
func (g *loadgen) redial(ctx context.Context, i int, sem chan struct{}, failed *atomic.Uint64) *client {
	g.clientsMu.Lock()
	_ = g.clients[i].ws.close()
	g.clientsMu.Unlock()
	backoff := 20 * time.Millisecond
	for !g.done.Load() && ctx.Err() == nil {
		sem <- struct{}{}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := connect(cctx, g.p.System, g.nodes[0].WS, sourceAddr(i, g.p.PerAddr), g.tls, true)
		cancel()
		<-sem
		if err == nil {
			g.clientsMu.Lock()
			g.clients[i] = c
			if g.done.Load() {
				_ = c.ws.close()
			}
			g.clientsMu.Unlock()
			return c
		}
		failed.Add(1)
		time.Sleep(backoff/2 + rand.N(backoff))
		backoff = min(2*backoff, 500*time.Millisecond)
	}
	return nil
}

// sourceAddrs is how many source addresses n connections use.
func sourceAddrs(n, perAddr int) int {
	if perAddr <= 0 || n == 0 {
		return 1
	}
	return min(254, (n+perAddr-1)/perAddr)
}
