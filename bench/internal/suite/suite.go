// Package suite is hotbench: it measures hotstate next to a raw
// github.com/coder/websocket server (the ceiling) and
// github.com/centrifugal/centrifuge on the same machine in one run.
//
// The orchestrator starts every server and every load generator as a
// separate process running this same program ("serve", "load", "micro"),
// each with GOMAXPROCS=1 and, where taskset exists and the machine has two
// cores, the server pinned to CPU 0 and the load generator to CPU 1.
package suite

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Config is one suite run.
type Config struct {
	// Runs is how many times every scenario runs; figures are medians.
	Runs int
	// Sizes are the fan-out subscriber counts; idle memory is measured at
	// the largest.
	Sizes []int
	// RPCClients are the RPC concurrency levels.
	RPCClients []int
	Systems    []string
	// Transport serves the hotstate system: one of Transports; "" is the
	// first, nethttp.
	Transport string
	// Warmup and Phase time each measured phase.
	Warmup, Phase time.Duration
	// LatencyDeliveries is the delivery rate of the fan-out latency phase,
	// per second across all subscribers; the publish rate is this divided
	// by the subscriber count.
	LatencyDeliveries float64
	// Window is the saturation phase's changes in flight.
	Window int
	// PerAddr is connections per 127.0.0.x source address (0: one address).
	PerAddr int
	// TLS serves every WebSocket over TLS.
	TLS bool
	// IdleNodes is how many server processes the idle-at-scale run spreads
	// its connections over; 0 chooses as few as the open file limit allows.
	IdleNodes int
	// MicroTime is how long each micro measurement runs; 0 skips them.
	MicroTime time.Duration
	// Pin pins server and load generator to CPUs 0 and 1 with taskset.
	Pin bool
	// Exe runs this program; Env is added to each child's environment.
	Exe []string
	Env []string
	// ProfileDir, when set, receives server CPU and allocation profiles of
	// each saturation and RPC phase of the first run.
	ProfileDir string
	// RepoRoot locates client-js for the JS measurement.
	RepoRoot string
	// Quick marks a CI smoke run in the report.
	Quick bool
	// Cluster lists the engines of the cluster section (EngineRedis,
	// EngineNATS); none skips it. It runs Sizes through three nodes of
	// hotstate on each engine and of centrifuge with its Redis broker.
	Cluster []string
	// ClusterOnly skips the single-node sections.
	ClusterOnly bool
	// Log receives progress lines.
	Log io.Writer
}

// FullConfig is the default full suite.
func FullConfig() Config {
	return Config{
		Runs: 3, Sizes: []int{1000, 5000, 10000}, RPCClients: []int{100, 1000},
		Systems: DefaultSystems, Warmup: time.Second, Phase: 5 * time.Second,
		LatencyDeliveries: 20000, Window: 16, PerAddr: 20000, MicroTime: 2 * time.Second,
		Pin: true,
	}
}

// QuickConfig is the CI smoke suite: one run, short phases.
func QuickConfig() Config {
	c := FullConfig()
	c.Runs, c.Warmup, c.Phase, c.MicroTime, c.Quick = 1, 250*time.Millisecond, time.Second, 300*time.Millisecond, true
	return c
}

// fill sets what cfg leaves out to its default: no log, this program as
// the children's, the first transport.
func (c *Config) fill() error {
	if c.Log == nil {
		c.Log = io.Discard
	}
	if len(c.Exe) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		c.Exe = []string{exe}
	}
	if c.Transport == "" {
		c.Transport = Transports[0]
	}
	return nil
}

// Run runs the suite and summarises it.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	pinned := pinnable(cfg.Pin)
	var systems []string
	for _, sys := range Systems {
		if slices.Contains(cfg.Systems, sys) {
			systems = append(systems, sys)
		}
	}
	if len(systems) != len(cfg.Systems) {
		return nil, fmt.Errorf("suite: systems are %v", Systems)
	}
	cfg.Systems = systems
	if !slices.Contains(Transports, cfg.Transport) {
		return nil, fmt.Errorf("suite: transports are %v", Transports)
	}
	if cfg.ClusterOnly && len(cfg.Cluster) == 0 {
		return nil, errors.New("suite: the cluster section needs an engine")
	}
	if len(cfg.Cluster) > 0 && len(clusterSystems(cfg)) == 0 {
		return nil, fmt.Errorf("suite: the cluster section runs %s and %s", Hotstate, Centrifuge)
	}
	rep := &Report{Started: time.Now().UTC(), Quick: cfg.Quick, Runs: cfg.Runs, Pinned: pinned, Systems: systems, Transport: cfg.Transport, TLS: cfg.TLS}
	rep.Machine = machine()
	largest := slices.Max(cfg.Sizes)
	if lim := rep.Machine.NoFile; lim > 0 && uint64(largest)+256 > lim {
		return nil, fmt.Errorf("suite: the open file limit %d is too low for %d connections; raise ulimit -n", lim, largest)
	}
	o, done, err := newOrchestrator(cfg)
	if err != nil {
		return nil, err
	}
	defer done()
	if !cfg.ClusterOnly {
		if err := o.runSingle(ctx, rep); err != nil {
			return nil, err
		}
	}
	if len(cfg.Cluster) > 0 {
		if err := o.runCluster(ctx, rep); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			rep.Errors = append(rep.Errors, "cluster: "+err.Error())
		}
	}
	rep.Machine.LoadAfter, rep.Machine.PressureAfter = loadAverage(), cpuPressure()
	rep.Seconds = time.Since(rep.Started).Seconds()
	rep.summarise()
	return rep, nil
}

// runSingle runs the single-node sections: every system as one server
// process, then the single-process measurements.
func (o *orchestrator) runSingle(ctx context.Context, rep *Report) error {
	cfg := o.cfg
	largest := slices.Max(cfg.Sizes)
	for run := range cfg.Runs {
		// Rotate the order so no system always goes first after a pause.
		systems := append(slices.Clone(cfg.Systems[run%len(cfg.Systems):]), cfg.Systems[:run%len(cfg.Systems)]...)
		for _, n := range cfg.Sizes {
			for _, sys := range systems {
				p := LoadParams{
					System: sys, Mode: ModeFanout, Conns: n,
					Rate:   max(1, cfg.LatencyDeliveries/float64(n)),
					Warmup: cfg.Warmup, Phase: cfg.Phase, Window: cfg.Window,
					Idle: n == largest, PerAddr: cfg.PerAddr,
				}
				o.profile(&p, run, fmt.Sprintf("fanout-%d-%s", n, sys))
				fmt.Fprintf(cfg.Log, "run %d/%d: fan-out %d subscribers, %s", run+1, cfg.Runs, n, sys)
				res, err := o.scenario(ctx, p)
				logResult(cfg.Log, res, err)
				rep.add(run, p, res, err)
				if ctx.Err() != nil {
					return ctx.Err()
				}
			}
		}
		for _, n := range cfg.RPCClients {
			for _, sys := range systems {
				p := LoadParams{System: sys, Mode: ModeRPC, Conns: n, Warmup: cfg.Warmup, Phase: cfg.Phase, PerAddr: cfg.PerAddr}
				o.profile(&p, run, fmt.Sprintf("rpc-%d-%s", n, sys))
				fmt.Fprintf(cfg.Log, "run %d/%d: RPC %d clients, %s", run+1, cfg.Runs, n, sys)
				res, err := o.scenario(ctx, p)
				logResult(cfg.Log, res, err)
				rep.add(run, p, res, err)
				if ctx.Err() != nil {
					return ctx.Err()
				}
			}
		}
	}
	if cfg.MicroTime > 0 {
		fmt.Fprintln(cfg.Log, "update cost, frame sizes, MessagePack against JSON")
		var m MicroResult
		if err := o.child(ctx, "micro", []string{"-time", cfg.MicroTime.String()}, &m); err != nil {
			rep.Errors = append(rep.Errors, "micro: "+err.Error())
		} else {
			rep.Micro = &m
		}
	}
	fmt.Fprintln(cfg.Log, "JS client")
	rep.JS = runJS(ctx, cfg.RepoRoot, o.pinned)
	return nil
}

// logResult finishes a progress line with the headline figures.
func logResult(w io.Writer, res *LoadResult, err error) {
	switch {
	case err != nil:
		fmt.Fprintf(w, ": %v\n", err)
	case res.Fanout != nil:
		f := res.Fanout
		fmt.Fprintf(w, ": connect %.1fs, p99 %.2f ms, %.0f deliveries/CPU-s (server %.0f%% CPU %.0f%% waiting, loadgen %.0f%% CPU %.0f%% waiting)\n",
			res.ConnectSeconds, f.P99ms, f.PerCPUSecond, f.ServerUtil*100, f.ServerWait*100, f.LoadUtil*100, f.LoadWait*100)
	case res.RPC != nil:
		c := res.RPC
		fmt.Fprintf(w, ": %.0f calls/CPU-s, p99 %.2f ms (server %.0f%% CPU %.0f%% waiting, loadgen %.0f%% CPU %.0f%% waiting)\n",
			c.PerCPUSecond, c.P99ms, c.ServerUtil*100, c.ServerWait*100, c.LoadUtil*100, c.LoadWait*100)
	default:
		fmt.Fprintln(w)
	}
}

type orchestrator struct {
	cfg    Config
	pinned bool
	// cert and key are the TLS certificate's files in a TLS run.
	cert, key string
}

// newOrchestrator prepares the children's runs: their CPUs and, for a TLS
// run, the certificate, in a directory done removes.
func newOrchestrator(cfg Config) (o *orchestrator, done func(), err error) {
	o = &orchestrator{cfg: cfg, pinned: pinnable(cfg.Pin)}
	if !cfg.TLS {
		return o, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "hotbench-tls-")
	if err != nil {
		return nil, nil, err
	}
	if o.cert, o.key, err = writeCert(dir); err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return o, func() { os.RemoveAll(dir) }, nil
}

// serveArgs are the arguments of a serve child of sys.
func (o *orchestrator) serveArgs(sys string) []string {
	args := []string{"serve", "-system", sys, "-transport", o.cfg.Transport}
	if o.cert != "" {
		args = append(args, "-tls-cert", o.cert, "-tls-key", o.key)
	}
	return args
}

func (o *orchestrator) profile(p *LoadParams, run int, name string) {
	if o.cfg.ProfileDir != "" && run == 0 {
		p.Profile = filepath.Join(o.cfg.ProfileDir, name)
	}
}

// command builds a child process of this program on cpu (-1: unpinned).
func (o *orchestrator) command(ctx context.Context, cpu int, args ...string) *exec.Cmd {
	argv := append(slices.Clone(o.cfg.Exe), args...)
	if o.pinned && cpu >= 0 {
		argv = append([]string{"taskset", "-c", fmt.Sprint(cpu)}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(append(os.Environ(), "GOMAXPROCS=1"), o.cfg.Env...)
	cmd.Stderr = os.Stderr
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// child runs a child to completion and decodes its JSON output into v.
func (o *orchestrator) child(ctx context.Context, sub string, args []string, v any) error {
	cmd := o.command(ctx, 0, append([]string{sub}, args...)...)
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", sub, err)
	}
	return json.Unmarshal(out.Bytes(), v)
}

// scenario starts a server, runs one load generator against it, and stops
// the server.
func (o *orchestrator) scenario(ctx context.Context, p LoadParams) (*LoadResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv, err := o.startServer(ctx, 0, o.serveArgs(p.System)...)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	p.WS, p.Ctl, p.ServerPID, p.TLSCert = srv.ws, srv.ctl, srv.pid(), o.cert
	return o.load(ctx, 1, p)
}

// server is a serve child: one server under test.
type server struct {
	cmd     *exec.Cmd
	stdin   io.Closer
	ws, ctl string // its WebSocket and control endpoints
}

func (s *server) pid() int { return s.cmd.Process.Pid }

func (s *server) endpoint() Endpoint { return Endpoint{WS: s.ws, Ctl: s.ctl, PID: s.pid()} }

// startServer starts a serve child on cpu with args and waits until it
// listens.
func (o *orchestrator) startServer(ctx context.Context, cpu int, args ...string) (*server, error) {
	cmd, stdin, stdout, err := o.startPiped(ctx, cpu, args...)
	if err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, stdin: stdin}
	line, err := stdout.ReadString('\n')
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("server %v: %w", args, err)
	}
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "ready" {
		s.stop()
		return nil, fmt.Errorf("server %v said %q", args, line)
	}
	s.ws, s.ctl = f[1], f[2]
	return s, nil
}

// startPiped starts a child of this program on cpu with args, with pipes
// to its standard input and from its standard output.
func (o *orchestrator) startPiped(ctx context.Context, cpu int, args ...string) (*exec.Cmd, io.WriteCloser, *bufio.Reader, error) {
	cmd := o.command(ctx, cpu, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, err
	}
	return cmd, stdin, bufio.NewReader(stdout), nil
}

// stop stops the server by closing its standard input, and kills it if
// it lingers.
func (s *server) stop() {
	s.stdin.Close()
	done := make(chan struct{})
	go func() {
		_ = s.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}
}

// load runs one load generator on cpu to completion.
func (o *orchestrator) load(ctx context.Context, cpu int, p LoadParams) (*LoadResult, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	load := o.command(ctx, cpu, "load", "-params", string(b))
	var out bytes.Buffer
	load.Stdout = &out
	if err := load.Run(); err != nil {
		return nil, fmt.Errorf("load %s %s %d: %w", p.System, p.Mode, p.Conns, err)
	}
	var res LoadResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return nil, fmt.Errorf("load %s: %w", p.System, err)
	}
	return &res, nil
}

// Machine describes where the suite ran.
type Machine struct {
	CPU        string  `json:"cpu"`
	Cores      int     `json:"cores"`
	MemoryGiB  float64 `json:"memoryGiB"`
	Kernel     string  `json:"kernel"`
	Go         string  `json:"go"`
	NoFile     uint64  `json:"noFile"`
	PortRange  string  `json:"portRange"`
	LoadBefore string  `json:"loadBefore"`
	LoadAfter  string  `json:"loadAfter"`
	// CPU pressure: the share of the last minute some task waited for a CPU.
	PressureBefore string `json:"pressureBefore"`
	PressureAfter  string `json:"pressureAfter"`
}

func machine() Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), LoadBefore: loadAverage(), PressureBefore: cpuPressure()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %g kB", &kb); err == nil {
			m.MemoryGiB = kb / (1 << 20)
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		m.PortRange = strings.Join(strings.Fields(string(b)), "-")
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		m.NoFile = lim.Cur
	}
	return m
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// raiseNoFile raises the soft open file limit to the hard one, and both to
// want where the hard one is lower and the process may (as root, up to
// fs.nr_open). Go raises the soft limit itself at start-up since 1.19;
// calling Setrlimit also makes the children inherit the raised limit
// rather than the original one.
func raiseNoFile(want uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Max < want {
		raised := syscall.Rlimit{Cur: want, Max: want}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
			return nil
		}
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Max < want {
		return fmt.Errorf("hard limit %d, below the %d wanted (raising it needs CAP_SYS_RESOURCE)", lim.Max, want)
	}
	return nil
}

var errUsage = errors.New("usage")
