package suite

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// ClusterReport is the cluster section of a run: every raw result and the
// medians, ratios and targets.
type ClusterReport struct {
	// Layout says which process ran on which CPU.
	Layout string `json:"layout"`
	Nodes  int    `json:"nodes"`
	// Servers are the engine servers' versions, by engine.
	Servers map[string]string `json:"servers"`
	// Systems are the labels of the systems, "hotstate+redis",
	// "hotstate+nats", "centrifuge+redis", in the order tables show them.
	Systems []string     `json:"systems"`
	Results []ClusterRun `json:"results"`
	// Fanout rows use the labels as system names, and ratios keyed
	// "LABEL:FIGURE" of each hotstate system to centrifuge+redis.
	Fanout  []FanoutRow           `json:"fanout"`
	RTT     map[string]*RTTResult `json:"rtt"`
	Writers []WritersRow          `json:"writers"`
	Targets []Target              `json:"targets"`
	Errors  []string              `json:"errors,omitempty"`
}

// ClusterRun is one measurement of the cluster section as made.
type ClusterRun struct {
	Run    int    `json:"run"`
	Kind   string `json:"kind"` // ModeFanout, "writers" or "rtt"
	System string `json:"system"`
	// Conns is the subscriber count of a fan-out, the writer count of an
	// update measurement.
	Conns   int            `json:"conns"`
	Result  *LoadResult    `json:"result,omitempty"`
	Writers *WritersResult `json:"writers,omitempty"`
	RTT     *RTTResult     `json:"rtt,omitempty"`
	Error   string         `json:"error,omitempty"`
}

// WritersRow is one writer count: the median on each engine, "memory"
// being one node on its own.
type WritersRow struct {
	Writers int                       `json:"writers"`
	Engines map[string]*WritersResult `json:"engines"`
}

func (c *ClusterReport) add(r ClusterRun, err error) {
	if err != nil {
		r.Error = err.Error()
		c.Errors = append(c.Errors, fmt.Sprintf("run %d cluster %s %s %d: %v", r.Run+1, r.Kind, r.System, r.Conns, err))
	}
	c.Results = append(c.Results, r)
}

// centLabel is the peer of the cluster section.
var centLabel = clusterSystem{System: Centrifuge, Engine: EngineRedis}.label()

// updateEngines are the engines of the update tables, in order.
func updateEngines() []string { return append([]string{memoryEngine}, Engines...) }

func (c *ClusterReport) summarise() {
	var sizes []int
	for _, r := range c.Results {
		if r.Kind == ModeFanout && !slices.Contains(sizes, r.Conns) {
			sizes = append(sizes, r.Conns)
		}
	}
	slices.Sort(sizes)
	c.Fanout = nil
	for _, n := range sizes {
		row := FanoutRow{Subscribers: n, Systems: map[string]*FanoutResult{}, Ratios: map[string]float64{}}
		for _, label := range c.Systems {
			var fs []*FanoutResult
			for _, r := range c.Results {
				if r.Kind == ModeFanout && r.Conns == n && r.System == label && r.Result != nil && r.Result.Fanout != nil {
					fs = append(fs, r.Result.Fanout)
				}
			}
			if m := median(fs); m != nil {
				row.Systems[label] = m
			}
		}
		if o := row.Systems[centLabel]; o != nil {
			for _, label := range c.hotLabels() {
				h := row.Systems[label]
				if h == nil {
					continue
				}
				setRatio(row.Ratios, label+":p50", h.P50ms, o.P50ms)
				setRatio(row.Ratios, label+":p99", h.P99ms, o.P99ms)
				setRatio(row.Ratios, label+":perCpuSecond", h.PerCPUSecond, o.PerCPUSecond)
				setRatio(row.Ratios, label+":perSecond", h.PerSecond, o.PerSecond)
				setRatio(row.Ratios, label+":rateCpuPerDelivery", h.RateCPUPerDelivery, o.RateCPUPerDelivery)
			}
		}
		c.Fanout = append(c.Fanout, row)
	}
	c.RTT = map[string]*RTTResult{}
	for _, e := range Engines {
		var rs []*RTTResult
		for _, r := range c.Results {
			if r.Kind == kindRTT && r.System == Hotstate+"+"+e && r.RTT != nil {
				rs = append(rs, r.RTT)
			}
		}
		if m := median(rs); m != nil {
			c.RTT[e] = m
		}
	}
	c.Writers = nil
	for _, w := range clusterWriters {
		row := WritersRow{Writers: w, Engines: map[string]*WritersResult{}}
		for _, e := range updateEngines() {
			var ws []*WritersResult
			for _, r := range c.Results {
				if r.Kind == kindWriters && r.Conns == w && r.System == Hotstate+"+"+e && r.Writers != nil {
					ws = append(ws, r.Writers)
				}
			}
			if m := median(ws); m != nil {
				m.Engine = e
				row.Engines[e] = m
			}
		}
		if len(row.Engines) > 0 {
			c.Writers = append(c.Writers, row)
		}
	}
	c.targets()
}

// hotLabels are the hotstate systems of the section.
func (c *ClusterReport) hotLabels() []string {
	var out []string
	for _, label := range c.Systems {
		if strings.HasPrefix(label, Hotstate+"+") {
			out = append(out, label)
		}
	}
	return out
}

// single is the one-writer row: Update latency without contention.
func (c *ClusterReport) single() *WritersRow {
	for i := range c.Writers {
		if c.Writers[i].Writers == 1 {
			return &c.Writers[i]
		}
	}
	return nil
}

// overSingle is an engine's one-writer Update p50 over the in-memory
// node's, in microseconds, in the engine's round trips and in its write
// round trips (p50).
func (c *ClusterReport) overSingle(engine string) (us, trips, writes float64) {
	row := c.single()
	if row == nil {
		return math.NaN(), math.NaN(), math.NaN()
	}
	mem, eng, rtt := row.Engines[memoryEngine], row.Engines[engine], c.RTT[engine]
	if mem == nil || eng == nil {
		return math.NaN(), math.NaN(), math.NaN()
	}
	us = eng.P50us - mem.P50us
	if rtt == nil || rtt.P50us <= 0 {
		return us, math.NaN(), math.NaN()
	}
	writes = math.NaN()
	if rtt.WriteP50us > 0 {
		writes = us / rtt.WriteP50us
	}
	return us, us / rtt.P50us, writes
}

func (c *ClusterReport) targets() {
	c.Targets = nil
	add := func(name string, v float64, op string, limit float64) {
		c.Targets = append(c.Targets, newTarget(name, v, op, limit))
	}
	get := ratioOf
	for _, row := range c.Fanout {
		for _, label := range c.hotLabels() {
			add(fmt.Sprintf("cluster deliveries per CPU-second, %s vs %s, %d subscribers", label, centLabel, row.Subscribers), get(row.Ratios, label+":perCpuSecond"), ">=", 1)
			add(fmt.Sprintf("cluster fan-out p99, %s vs %s, %d subscribers", label, centLabel, row.Subscribers), get(row.Ratios, label+":p99"), "<=", 1)
		}
	}
	for _, label := range c.hotLabels() {
		_, e := splitLabel(label)
		_, _, writes := c.overSingle(e)
		add(fmt.Sprintf("Update p50 on a %s node over one in-memory node, in %s write round trips", e, e), writes, "<=", 1)
	}
}

// splitLabel cuts a label such as "hotstate+redis" into its parts.
func splitLabel(label string) (system, engine string) {
	system, engine, _ = strings.Cut(label, "+")
	return system, engine
}

// times formats a ratio with two decimals, or n/a.
func times(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", v)
}

func us(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.0f", v)
}

func (c *ClusterReport) sections() []section {
	var out []section
	if len(c.Fanout) > 0 {
		t := &table{head: []string{"subscribers", "system", "p50 ms", "p99 ms", "nodes' CPU µs/delivery", "engine CPU µs/delivery", "deliveries/s", "deliveries/CPU-s", "nodes' CPU", "nodes' wait", "engine CPU", "loadgen CPU", "allocs/delivery"}}
		rate := ""
		for _, row := range c.Fanout {
			for _, label := range c.Systems {
				f := row.Systems[label]
				if f == nil {
					t.row(fmt.Sprint(row.Subscribers), label, "failed", "", "", "", "", "", "", "", "", "", "")
					continue
				}
				if rate == "" {
					rate = fmt.Sprintf("%.0f", f.Rate*float64(row.Subscribers))
				}
				t.row(fmt.Sprint(row.Subscribers), label, ms(f.P50ms), ms(f.P99ms),
					fmt.Sprintf("%.1f", f.RateCPUPerDelivery), fmt.Sprintf("%.2f", f.RateEngineCPUPerDelivery),
					count(f.PerSecond), count(f.PerCPUSecond), pct(f.ServerUtil), pct(f.ServerWait), pct(f.EngineUtil), pct(f.LoadUtil),
					fmt.Sprintf("%.2f / %.2f", f.RateAllocsPerDelivery, f.AllocsPerDelivery))
			}
			if row.Systems[centLabel] == nil {
				continue
			}
			for _, label := range c.hotLabels() {
				k := label + ":"
				t.row(fmt.Sprint(row.Subscribers), label+"/"+centLabel, x(row.Ratios[k+"p50"]), x(row.Ratios[k+"p99"]),
					x(row.Ratios[k+"rateCpuPerDelivery"]), "", x(row.Ratios[k+"perSecond"]), x(row.Ratios[k+"perCpuSecond"]), "", "", "", "", "")
			}
		}
		out = append(out, section{title: fmt.Sprintf("Cluster fan-out: %d nodes on one engine, subscribers spread over them, one publisher", c.Nodes), t: t, notes: []string{
			fmt.Sprintf("connection i goes to node i mod %d; the first node publishes (hotstate: Store.Update through the engine; centrifuge: Node.Publish through its Redis broker); every node delivers to its own subscribers", c.Nodes),
			"latency: publish to receipt at a fixed " + rate + " deliveries/s across all nodes, as in the single-node table; throughput at saturation, 16 changes in flight",
			"deliveries/CPU-s and the nodes' columns add up the three node processes (utime+stime); the engine server's CPU is shown beside them and not counted in deliveries/CPU-s",
		}})
	}
	if row := c.single(); row != nil {
		t := &table{head: []string{"engine", "nodes", "Update p50 µs", "Update p99 µs", "Update mean µs", "engine round trip p50 µs", "write round trip p50 µs", "write p99 µs", "p50 over one in-memory node µs", "in round trips", "in write round trips"}}
		for _, e := range updateEngines() {
			w := row.Engines[e]
			if w == nil {
				continue
			}
			rttP50, wP50, wP99, over, trips, writes := "", "", "", "", "", ""
			if r := c.RTT[e]; r != nil {
				rttP50, wP50, wP99 = us(r.P50us), us(r.WriteP50us), us(r.WriteP99us)
			}
			if e != memoryEngine {
				o, tr, wr := c.overSingle(e)
				over, trips, writes = us(o), times(tr), times(wr)
			}
			t.row(e, fmt.Sprint(w.Nodes), us(w.P50us), us(w.P99us), us(w.MeanUs), rttP50, wP50, wP99, over, trips, writes)
		}
		out = append(out, section{title: "Update latency: one writer, a cluster node against one node on its own", t: t, notes: []string{
			"Store.Update of a small counter store in a closed loop on the first node, the other nodes following the store; memory is hotstate's default engine on one node",
			"engine round trip: the same node process, on a connection of its own, one at a time: Redis PING, NATS PING/PONG (nats.Conn.RTT); write round trip: the smallest durable write, which no append can beat: Redis XADD to a capped stream, a JetStream publish to a file-stored stream and its acknowledgement; the goal is an Update at most one write round trip over the in-memory node's",
		}})
	}
	if len(c.Writers) > 0 {
		t := &table{head: []string{"writers", "engine", "nodes", "updates/s", "runs/update", "gave up", "p50 µs", "p99 µs", "nodes' CPU µs/update", "engine CPU µs/update"}}
		for _, row := range c.Writers {
			for _, e := range updateEngines() {
				w := row.Engines[e]
				if w == nil {
					continue
				}
				t.row(fmt.Sprint(row.Writers), e, fmt.Sprint(w.Nodes), count(w.PerSecond), fmt.Sprintf("%.2f", w.RunsPerUpdate), fmt.Sprint(w.GaveUp),
					us(w.P50us), us(w.P99us), fmt.Sprintf("%.1f", w.CPUPerUpdateUs), fmt.Sprintf("%.1f", w.EngineCPUPerUpdateUs))
			}
		}
		out = append(out, section{title: "Conflicting writers: one store instance, writers spread over the nodes", t: t, notes: []string{
			"each writer calls Store.Update in a closed loop; writers are spread evenly over the nodes (1: the first node only); memory is one node with every writer",
			"runs/update: how often the mutation ran per committed update; above 1 when a writer lost the race for the next version to another node and ran again on the winner's state",
			"gave up: updates that returned ErrConflict after hotstate's retries (64 attempts) and changed nothing; not counted in updates/s",
		}})
	}
	if len(c.Targets) > 0 {
		t := &table{head: []string{"target", "measured", "goal", "met"}}
		for _, tg := range c.Targets {
			v, met := "n/a", "not measured"
			if tg.Measured {
				v = fmt.Sprintf("%.2f", tg.Value)
				met = map[bool]string{true: "yes", false: "NO"}[tg.Met]
			}
			t.row(tg.Name, v, tg.Op+" "+fmt.Sprintf("%g", tg.Limit), met)
		}
		out = append(out, section{title: "Cluster targets (issue 14)", t: t})
	}
	return out
}
