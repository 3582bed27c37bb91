package suite

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// clusterNodes is how many servers a cluster scenario runs.
const clusterNodes = 3

// clusterWriters are the concurrent writer counts of the conflicting
// writers measurement, spread evenly over the nodes.
var clusterWriters = []int{1, 3, 24}

// memoryEngine names hotstate's default engine, one node on its own, in
// the update tables.
const memoryEngine = "memory"

// clusterSystem is one system of the cluster section: hotstate on one of
// the engines, or centrifuge with its Redis broker.
type clusterSystem struct {
	System string // Hotstate or Centrifuge
	Engine string // EngineRedis or EngineNATS
}

func (c clusterSystem) label() string { return c.System + "+" + c.Engine }

// clusterLayout is where a cluster scenario's processes run: -1 is
// anywhere.
type clusterLayout struct {
	nodes  [clusterNodes]int
	engine int
	load   int
	desc   string
}

// newClusterLayout spreads the processes over the machine's cores. With
// five or more, every process has its own; with fewer, the three nodes
// share CPU 0, where they compete as they would on one machine, and the
// engine server shares CPU 1 with the load generator, so that the nodes'
// CPU time stays the nodes' own.
func newClusterLayout(cores int, pinned bool) clusterLayout {
	switch {
	case !pinned:
		return clusterLayout{nodes: [clusterNodes]int{-1, -1, -1}, engine: -1, load: -1, desc: "not pinned"}
	case cores >= clusterNodes+2:
		return clusterLayout{nodes: [clusterNodes]int{0, 1, 2}, engine: 3, load: 4,
			desc: "nodes on CPUs 0, 1 and 2, engine server on CPU 3, load generator on CPU 4 (taskset)"}
	}
	return clusterLayout{nodes: [clusterNodes]int{0, 0, 0}, engine: 1, load: 1,
		desc: "the three nodes share CPU 0; the engine server and the load generator share CPU 1 (taskset)"}
}

// clusterSystems are the systems of the cluster section: hotstate on each
// engine asked for, then centrifuge with Redis when it is among the
// systems.
func clusterSystems(cfg Config) []clusterSystem {
	var out []clusterSystem
	if slices.Contains(cfg.Systems, Hotstate) {
		for _, e := range cfg.Cluster {
			out = append(out, clusterSystem{System: Hotstate, Engine: e})
		}
	}
	if slices.Contains(cfg.Systems, Centrifuge) {
		out = append(out, clusterSystem{System: Centrifuge, Engine: EngineRedis})
	}
	return out
}

// runCluster runs the cluster section: fan-out through three nodes of each
// system, then the update latency and conflicting writers of hotstate on
// each engine against one node with the in-memory engine.
func (o *orchestrator) runCluster(ctx context.Context, rep *Report) error {
	cfg := o.cfg
	lay := newClusterLayout(rep.Machine.Cores, o.pinned)
	systems := clusterSystems(cfg)
	cr := &ClusterReport{Layout: lay.desc, Nodes: clusterNodes, Servers: map[string]string{}}
	for _, s := range systems {
		cr.Systems = append(cr.Systems, s.label())
	}
	rep.Cluster, rep.ClusterOnly = cr, cfg.ClusterOnly
	servers := map[string]*engineServer{}
	defer func() {
		for _, e := range servers {
			e.stop()
		}
	}()
	for _, s := range systems {
		if servers[s.Engine] != nil {
			continue
		}
		fmt.Fprintf(cfg.Log, "cluster: starting a private %s-server\n", s.Engine)
		e, err := startEngineServer(ctx, s.Engine, o.pinned, lay.engine)
		if err != nil {
			return err
		}
		servers[s.Engine] = e
		cr.Servers[s.Engine] = e.version()
	}
	scenario := 0
	prefix := func() string {
		scenario++
		return fmt.Sprintf("hotbench%d", scenario)
	}
	for run := range cfg.Runs {
		order := append(slices.Clone(systems[run%len(systems):]), systems[:run%len(systems)]...)
		for _, n := range cfg.Sizes {
			for _, s := range order {
				e := servers[s.Engine]
				p := LoadParams{
					System: s.System, Mode: ModeFanout, Conns: n,
					Rate:   max(1, cfg.LatencyDeliveries/float64(n)),
					Warmup: cfg.Warmup, Phase: cfg.Phase, Window: cfg.Window,
					PerAddr: cfg.PerAddr, EnginePID: e.pid(), TLSCert: o.cert,
				}
				o.profile(&p, run, fmt.Sprintf("cluster-fanout-%d-%s-%s", n, s.System, s.Engine))
				fmt.Fprintf(cfg.Log, "run %d/%d: cluster fan-out %d subscribers over %d nodes, %s", run+1, cfg.Runs, n, clusterNodes, s.label())
				res, err := o.clusterFanout(ctx, lay, s, sharedEngine{URL: e.url, Prefix: prefix()}, p)
				logResult(cfg.Log, res, err)
				cr.add(ClusterRun{Run: run, Kind: ModeFanout, System: s.label(), Conns: n, Result: res}, err)
				if ctx.Err() != nil {
					return ctx.Err()
				}
			}
		}
		// Updates: one node on its own first, then each engine's cluster.
		fmt.Fprintf(cfg.Log, "run %d/%d: updates on one node, in-memory engine\n", run+1, cfg.Runs)
		o.clusterUpdates(ctx, cr, run, lay, memoryEngine, sharedEngine{}, 1, 0)
		for _, s := range systems {
			if s.System != Hotstate {
				continue
			}
			fmt.Fprintf(cfg.Log, "run %d/%d: updates on %d nodes, %s\n", run+1, cfg.Runs, clusterNodes, s.label())
			e := servers[s.Engine]
			o.clusterUpdates(ctx, cr, run, lay, s.Engine, sharedEngine{URL: e.url, Prefix: prefix()}, clusterNodes, e.pid())
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	cr.summarise()
	return nil
}

// startNodes starts count serve children of one system on shared, as the
// layout places them.
func (o *orchestrator) startNodes(ctx context.Context, lay clusterLayout, system string, shared sharedEngine, count int) ([]*server, error) {
	var nodes []*server
	for j := range count {
		args := o.serveArgs(system)
		if shared.URL != "" {
			args = append(args, "-engine", shared.URL, "-prefix", shared.Prefix)
		}
		s, err := o.startServer(ctx, lay.nodes[j], args...)
		if err != nil {
			for _, n := range nodes {
				n.stop()
			}
			return nil, err
		}
		nodes = append(nodes, s)
	}
	return nodes, nil
}

func stopNodes(nodes []*server) {
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(n.stop)
	}
	wg.Wait()
}

// clusterFanout starts the nodes, runs one load generator across them and
// stops them.
func (o *orchestrator) clusterFanout(ctx context.Context, lay clusterLayout, s clusterSystem, shared sharedEngine, p LoadParams) (*LoadResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	nodes, err := o.startNodes(ctx, lay, s.System, shared, clusterNodes)
	if err != nil {
		return nil, err
	}
	defer stopNodes(nodes)
	for _, n := range nodes {
		p.Nodes = append(p.Nodes, n.endpoint())
	}
	return o.load(ctx, lay.load, p)
}

// clusterUpdates measures, on count nodes sharing the engine (or one node
// with the in-memory engine), the engine's round trip and Update in a
// closed loop by each number of writers, recording each in cr.
func (o *orchestrator) clusterUpdates(ctx context.Context, cr *ClusterReport, run int, lay clusterLayout, engine string, shared sharedEngine, count, enginePID int) {
	fail := func(kind string, writers int, err error) {
		cr.add(ClusterRun{Run: run, Kind: kind, System: Hotstate + "+" + engine, Conns: writers}, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	nodes, err := o.startNodes(ctx, lay, Hotstate, shared, count)
	if err != nil {
		fail(kindWriters, 0, err)
		return
	}
	defer stopNodes(nodes)
	var ctls []*ctlConn
	defer func() {
		for _, c := range ctls {
			c.close()
		}
	}()
	for _, n := range nodes {
		c, err := dialControl(n.ctl)
		if err != nil {
			fail(kindWriters, 0, err)
			return
		}
		ctls = append(ctls, c)
	}
	var pids []int
	for _, n := range nodes {
		pids = append(pids, n.pid())
	}
	// Every node writes once before anything is timed, so each follows
	// the counter's log and holds its connections to the engine.
	if _, err := o.writers(ctx, ctls, pids, enginePID, len(ctls), o.cfg.Warmup, ""); err != nil {
		fail(kindWriters, 0, err)
		return
	}
	if shared.URL != "" {
		line, err := ctls[0].call("rtt " + o.cfg.Phase.String())
		var rtt RTTResult
		if err == nil {
			err = json.Unmarshal([]byte(line), &rtt)
		}
		if err != nil {
			fail(kindRTT, 0, err)
		} else {
			cr.add(ClusterRun{Run: run, Kind: kindRTT, System: Hotstate + "+" + engine, RTT: &rtt}, nil)
			fmt.Fprintf(o.cfg.Log, "  %s round trip: p50 %.0f µs, p99 %.0f µs; write: p50 %.0f µs, p99 %.0f µs\n", engine, rtt.P50us, rtt.P99us, rtt.WriteP50us, rtt.WriteP99us)
		}
	}
	for _, w := range clusterWriters {
		var prof string
		if o.cfg.ProfileDir != "" && run == 0 {
			prof = filepath.Join(o.cfg.ProfileDir, fmt.Sprintf("cluster-update-%s-%dw", engine, w))
		}
		res, err := o.writers(ctx, ctls, pids, enginePID, w, o.cfg.Phase, prof)
		if err == nil {
			res.Engine, res.Nodes = engine, len(ctls)
			fmt.Fprintf(o.cfg.Log, "  %d writers: %.0f updates/s, p50 %.0f µs, p99 %.0f µs, %.2f runs/update, %d gave up\n",
				w, res.PerSecond, res.P50us, res.P99us, res.RunsPerUpdate, res.GaveUp)
		}
		cr.add(ClusterRun{Run: run, Kind: kindWriters, System: Hotstate + "+" + engine, Conns: w, Writers: res}, err)
		if ctx.Err() != nil {
			return
		}
	}
}

// writers runs writers Update loops for d, spread evenly over the nodes
// behind ctls, all at once, and adds up what they measured. With prof,
// each node writes CPU and allocation profiles to prof-nodeN.
func (o *orchestrator) writers(ctx context.Context, ctls []*ctlConn, pids []int, enginePID, writers int, d time.Duration, prof string) (*WritersResult, error) {
	k := len(ctls)
	if prof != "" {
		for j, ctl := range ctls {
			if _, err := ctl.call(fmt.Sprintf("prof %s-node%d", prof, j+1)); err != nil {
				return nil, err
			}
			defer func() { _, _ = ctl.call("unprof") }()
		}
	}
	results := make([]*UpdateResult, k)
	errs := make([]error, k)
	c0, err := clockOf(pids, enginePID)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	var wg sync.WaitGroup
	for j, ctl := range ctls {
		share := writers / k
		if j < writers%k {
			share++
		}
		if share == 0 {
			continue
		}
		wg.Go(func() {
			line, err := ctl.call(fmt.Sprintf("update %d %s", share, d))
			if err == nil {
				var r UpdateResult
				if err = json.Unmarshal([]byte(line), &r); err == nil {
					results[j] = &r
				}
			}
			errs[j] = err
		})
	}
	wg.Wait()
	seconds := time.Since(start).Seconds()
	c1, err := clockOf(pids, enginePID)
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	res := &WritersResult{Writers: writers}
	var lat hist
	var runs uint64
	var totalUs float64
	for j, r := range results {
		if errs[j] != nil {
			return nil, fmt.Errorf("node %d: %w", j+1, errs[j])
		}
		if r == nil {
			continue
		}
		res.Updates += r.Updates
		res.GaveUp += r.GaveUp
		res.PerSecond += float64(r.Updates) / r.Seconds
		runs += r.Runs
		totalUs += r.MeanUs * float64(r.Updates)
		lat.add(r.Hist)
	}
	if res.Updates == 0 {
		return nil, fmt.Errorf("suite: no update completed")
	}
	_, q := lat.snapshot()
	res.P50us, res.P99us = q(0.5)/1e3, q(0.99)/1e3
	res.MeanUs = totalUs / float64(res.Updates)
	res.RunsPerUpdate = float64(runs) / float64(res.Updates)
	res.ServerUtil = (c1.serverCPU - c0.serverCPU) / seconds
	res.CPUPerUpdateUs = (c1.serverCPU - c0.serverCPU) / float64(res.Updates) * 1e6
	res.EngineCPUPerUpdateUs = (c1.engineCPU - c0.engineCPU) / float64(res.Updates) * 1e6
	return res, nil
}

// clockOf reads the CPU time of the servers pids, added up, and of the
// engine server (0: none).
func clockOf(pids []int, enginePID int) (clock, error) {
	var c clock
	for _, pid := range pids {
		cpu, err := cpuSeconds(pid)
		if err != nil {
			return c, err
		}
		c.serverCPU += cpu
	}
	if enginePID > 0 {
		cpu, err := cpuSeconds(enginePID)
		if err != nil {
			return c, err
		}
		c.engineCPU = cpu
	}
	return c, nil
}

// Kinds of cluster runs besides ModeFanout.
const (
	kindWriters = "writers"
	kindRTT     = "rtt"
)

// WritersResult is Store.Update in a closed loop by Writers goroutines
// spread over Nodes nodes, all changing one store instance.
type WritersResult struct {
	Engine    string  `json:"engine"`
	Nodes     int     `json:"nodes"`
	Writers   int     `json:"writers"`
	Updates   uint64  `json:"updates"`
	PerSecond float64 `json:"perSecond"`
	// GaveUp counts updates that returned ErrConflict after hotstate's
	// retries; they are not in Updates.
	GaveUp uint64 `json:"gaveUp"`
	// RunsPerUpdate is how often the mutation ran per update committed:
	// above 1 when writers on different nodes raced for a version.
	RunsPerUpdate float64 `json:"runsPerUpdate"`
	P50us         float64 `json:"p50us"`
	P99us         float64 `json:"p99us"`
	MeanUs        float64 `json:"meanUs"`
	// The nodes' CPU, added up, per second and per update; the engine
	// server's per update.
	ServerUtil           float64 `json:"serverUtil"`
	CPUPerUpdateUs       float64 `json:"cpuPerUpdateUs"`
	EngineCPUPerUpdateUs float64 `json:"engineCpuPerUpdateUs"`
}
