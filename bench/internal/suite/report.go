package suite

import (
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is a whole suite run: every raw result, the medians, the ratios
// and the targets. It is what -json writes.
type Report struct {
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	Quick   bool      `json:"quick"`
	Runs    int       `json:"runs"`
	Pinned  bool      `json:"pinned"`
	Systems []string  `json:"systems"`
	// Transport is what served hotstate.
	Transport string `json:"transport"`
	// TLS is set when every WebSocket was served over TLS.
	TLS     bool    `json:"tls,omitempty"`
	Machine Machine `json:"machine"`

	Results []RunResult  `json:"results"`
	Fanout  []FanoutRow  `json:"fanout"`
	RPC     []RPCRow     `json:"rpc"`
	Idle    *IdleRow     `json:"idle,omitempty"`
	Micro   *MicroResult `json:"micro,omitempty"`
	JS      JSResult     `json:"js"`
	Targets []Target     `json:"targets"`
	Errors  []string     `json:"errors,omitempty"`
	// ClusterOnly is set when the single-node sections did not run.
	ClusterOnly bool           `json:"clusterOnly,omitempty"`
	Cluster     *ClusterReport `json:"cluster,omitempty"`
}

// RunResult is one load generator run as measured.
type RunResult struct {
	Run    int         `json:"run"`
	Mode   string      `json:"mode"`
	System string      `json:"system"`
	Conns  int         `json:"conns"`
	Result *LoadResult `json:"result,omitempty"`
	Error  string      `json:"error,omitempty"`
}

// FanoutRow is one subscriber count: the median of each system's runs and
// hotstate's ratios against the others.
type FanoutRow struct {
	Subscribers int                      `json:"subscribers"`
	Systems     map[string]*FanoutResult `json:"systems"`
	Ratios      map[string]float64       `json:"ratios"`
}

// RPCRow is one client count.
type RPCRow struct {
	Clients int                   `json:"clients"`
	Systems map[string]*RPCResult `json:"systems"`
	Ratios  map[string]float64    `json:"ratios"`
}

// IdleRow is memory per idle connection.
type IdleRow struct {
	Conns   int                    `json:"conns"`
	Systems map[string]*IdleResult `json:"systems"`
	Ratios  map[string]float64     `json:"ratios"`
}

// Target is one goal of issue 8 and whether this run met it.
type Target struct {
	Name     string  `json:"name"`
	Value    float64 `json:"value"`
	Op       string  `json:"op"` // "<=" or ">="
	Limit    float64 `json:"limit"`
	Measured bool    `json:"measured"`
	Met      bool    `json:"met"`
}

func (r *Report) add(run int, p LoadParams, res *LoadResult, err error) {
	rr := RunResult{Run: run, Mode: p.Mode, System: p.System, Conns: p.Conns, Result: res}
	if err != nil {
		rr.Error = err.Error()
		r.Errors = append(r.Errors, fmt.Sprintf("run %d %s %s %d: %v", run+1, p.Mode, p.System, p.Conns, err))
	}
	r.Results = append(r.Results, rr)
}

// median returns, for a list of structs of one type, a struct whose every
// numeric field is the median of that field.
func median[T any](xs []*T) *T {
	if len(xs) == 0 {
		return nil
	}
	out := new(T)
	v := reflect.ValueOf(out).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		vals := make([]float64, 0, len(xs))
		for _, x := range xs {
			g := reflect.ValueOf(x).Elem().Field(i)
			switch g.Kind() {
			case reflect.Float64:
				vals = append(vals, g.Float())
			case reflect.Uint64, reflect.Uint32:
				vals = append(vals, float64(g.Uint()))
			case reflect.Int, reflect.Int64:
				vals = append(vals, float64(g.Int()))
			}
		}
		if len(vals) == 0 {
			continue
		}
		slices.Sort(vals)
		m := vals[len(vals)/2]
		if len(vals)%2 == 0 {
			m = (vals[len(vals)/2-1] + vals[len(vals)/2]) / 2
		}
		switch f.Kind() {
		case reflect.Float64:
			f.SetFloat(m)
		case reflect.Uint64, reflect.Uint32:
			f.SetUint(uint64(math.Round(m)))
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(math.Round(m)))
		}
	}
	return out
}

// setRatio stores a/b under key when both were measured; JSON has no NaN.
func setRatio(m map[string]float64, key string, a, b float64) {
	if a > 0 && b > 0 && !math.IsNaN(a) && !math.IsNaN(b) {
		m[key] = a / b
	}
}

func (r *Report) summarise() {
	sizes, clients := []int{}, []int{}
	idleConns := 0
	for _, rr := range r.Results {
		switch rr.Mode {
		case ModeFanout:
			if !slices.Contains(sizes, rr.Conns) {
				sizes = append(sizes, rr.Conns)
			}
			if rr.Result != nil && rr.Result.Idle != nil {
				idleConns = rr.Conns
			}
		case ModeRPC:
			if !slices.Contains(clients, rr.Conns) {
				clients = append(clients, rr.Conns)
			}
		}
	}
	slices.Sort(sizes)
	slices.Sort(clients)
	collect := func(mode string, n int, sys string) []*LoadResult {
		var out []*LoadResult
		for _, rr := range r.Results {
			if rr.Mode == mode && rr.Conns == n && rr.System == sys && rr.Result != nil {
				out = append(out, rr.Result)
			}
		}
		return out
	}
	r.Fanout, r.RPC, r.Idle = nil, nil, nil
	for _, n := range sizes {
		row := FanoutRow{Subscribers: n, Systems: map[string]*FanoutResult{}, Ratios: map[string]float64{}}
		for _, sys := range r.Systems {
			var fs []*FanoutResult
			for _, lr := range collect(ModeFanout, n, sys) {
				fs = append(fs, lr.Fanout)
			}
			if m := median(fs); m != nil {
				row.Systems[sys] = m
			}
		}
		h := row.Systems[Hotstate]
		for _, peer := range r.peers() {
			o := row.Systems[peer]
			if h == nil || o == nil {
				continue
			}
			setRatio(row.Ratios, "p50/"+peer, h.P50ms, o.P50ms)
			setRatio(row.Ratios, "p99/"+peer, h.P99ms, o.P99ms)
			setRatio(row.Ratios, "perCpuSecond/"+peer, h.PerCPUSecond, o.PerCPUSecond)
			setRatio(row.Ratios, "perSecond/"+peer, h.PerSecond, o.PerSecond)
			setRatio(row.Ratios, "rateCpuPerDelivery/"+peer, h.RateCPUPerDelivery, o.RateCPUPerDelivery)
		}
		r.Fanout = append(r.Fanout, row)
	}
	for _, n := range clients {
		row := RPCRow{Clients: n, Systems: map[string]*RPCResult{}, Ratios: map[string]float64{}}
		for _, sys := range r.Systems {
			var rs []*RPCResult
			for _, lr := range collect(ModeRPC, n, sys) {
				rs = append(rs, lr.RPC)
			}
			if m := median(rs); m != nil {
				row.Systems[sys] = m
			}
		}
		h := row.Systems[Hotstate]
		for _, peer := range r.peers() {
			o := row.Systems[peer]
			if h == nil || o == nil {
				continue
			}
			setRatio(row.Ratios, "perCpuSecond/"+peer, h.PerCPUSecond, o.PerCPUSecond)
			setRatio(row.Ratios, "perSecond/"+peer, h.PerSecond, o.PerSecond)
			setRatio(row.Ratios, "p99/"+peer, h.P99ms, o.P99ms)
		}
		r.RPC = append(r.RPC, row)
	}
	if idleConns > 0 {
		row := &IdleRow{Conns: idleConns, Systems: map[string]*IdleResult{}, Ratios: map[string]float64{}}
		for _, sys := range r.Systems {
			var is []*IdleResult
			for _, lr := range collect(ModeFanout, idleConns, sys) {
				if lr.Idle != nil {
					is = append(is, lr.Idle)
				}
			}
			if m := median(is); m != nil {
				row.Systems[sys] = m
			}
		}
		h := row.Systems[Hotstate]
		for _, peer := range r.peers() {
			if o := row.Systems[peer]; h != nil && o != nil {
				setRatio(row.Ratios, "rss/"+peer, h.RSSPerConn, o.RSSPerConn)
				setRatio(row.Ratios, "total/"+peer, h.RSSPerConn+max(0, h.KernelPerConn), o.RSSPerConn+max(0, o.KernelPerConn))
			}
		}
		r.Idle = row
	}
	r.targets()
}

// newTarget is a target met when v op limit holds; a NaN v was not
// measured.
func newTarget(name string, v float64, op string, limit float64) Target {
	t := Target{Name: name, Value: v, Op: op, Limit: limit, Measured: !math.IsNaN(v)}
	if t.Measured {
		t.Met = (op == "<=" && v <= limit) || (op == ">=" && v >= limit)
	} else {
		t.Value = 0
	}
	return t
}

// ratioOf is the ratio m holds under k, or NaN.
func ratioOf(m map[string]float64, k string) float64 {
	if v, ok := m[k]; ok {
		return v
	}
	return math.NaN()
}

func (r *Report) targets() {
	r.Targets = nil
	add := func(name string, v float64, op string, limit float64) {
		r.Targets = append(r.Targets, newTarget(name, v, op, limit))
	}
	get := ratioOf
	for _, row := range r.Fanout {
		n := row.Subscribers
		add(fmt.Sprintf("fan-out p99 vs raw, %d subscribers", n), get(row.Ratios, "p99/raw"), "<=", 1.2)
		add(fmt.Sprintf("fan-out p99 vs centrifuge, %d subscribers", n), get(row.Ratios, "p99/centrifuge"), "<=", 0.8)
		add(fmt.Sprintf("deliveries per CPU-second vs raw, %d subscribers", n), get(row.Ratios, "perCpuSecond/raw"), ">=", 0.8)
		add(fmt.Sprintf("deliveries per CPU-second vs centrifuge, %d subscribers", n), get(row.Ratios, "perCpuSecond/centrifuge"), ">=", 1.0)
	}
	if r.Idle != nil {
		add(fmt.Sprintf("idle memory per connection vs raw, %d connections", r.Idle.Conns), get(r.Idle.Ratios, "total/raw"), "<=", 1.2)
		add(fmt.Sprintf("idle memory per connection vs centrifuge, %d connections", r.Idle.Conns), get(r.Idle.Ratios, "total/centrifuge"), "<=", 0.5)
	}
	for _, row := range r.RPC {
		add(fmt.Sprintf("RPC round trips per CPU-second vs centrifuge, %d clients", row.Clients), get(row.Ratios, "perCpuSecond/centrifuge"), ">=", 1.2)
	}
	if m := r.Micro; m != nil {
		add("update diff speed vs jsondiff (x faster)", m.Speedup, ">=", 20)
		add("single-field replace frame (bytes)", float64(m.LiveReplaceBytes), "<=", 48)
	} else {
		add("update diff speed vs jsondiff (x faster)", math.NaN(), ">=", 20)
		add("single-field replace frame (bytes)", math.NaN(), "<=", 48)
	}
}

// peers are the systems hotstate is compared with in this run.
func (r *Report) peers() []string {
	if !slices.Contains(r.Systems, Hotstate) {
		return nil
	}
	var out []string
	for _, sys := range r.Systems {
		if sys != Hotstate {
			out = append(out, sys)
		}
	}
	return out
}

// Number formatting for tables.
func ms(v float64) string { return fmt.Sprintf("%.2f", v) }

func count(v float64) string {
	switch {
	case v >= 10e6:
		return fmt.Sprintf("%.1f M", v/1e6)
	case v >= 10e3:
		return fmt.Sprintf("%.0f k", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.1f k", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func pct(v float64) string { return fmt.Sprintf("%.0f%%", v*100) }

func kib(v float64) string { return fmt.Sprintf("%.1f KiB", v/1024) }

func x(v float64) string {
	if math.IsNaN(v) || v == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", v)
}

// table is a grid of cells that renders as aligned text or Markdown.
type table struct {
	head []string
	rows [][]string
}

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) text() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(t.head, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	w.Flush()
	return b.String()
}

func (t *table) markdown() string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(t.head, " | ") + " |\n|")
	for range t.head {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range t.rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	return b.String()
}

// section is one titled table.
type section struct {
	title string
	t     *table
	notes []string
}

func (r *Report) sections() []section {
	var out []section
	if len(r.Fanout) > 0 {
		t := &table{head: []string{"subscribers", "system", "p50 ms", "p99 ms", "CPU µs/delivery", "deliveries/s", "deliveries/CPU-s", "server CPU", "server wait", "loadgen CPU", "allocs/delivery", "bytes/delivery"}}
		for _, row := range r.Fanout {
			for _, sys := range r.Systems {
				f := row.Systems[sys]
				if f == nil {
					t.row(fmt.Sprint(row.Subscribers), sys, "failed", "", "", "", "", "", "", "", "", "")
					continue
				}
				t.row(fmt.Sprint(row.Subscribers), sys, ms(f.P50ms), ms(f.P99ms), fmt.Sprintf("%.1f", f.RateCPUPerDelivery), count(f.PerSecond), count(f.PerCPUSecond),
					pct(f.ServerUtil), pct(f.ServerWait), pct(f.LoadUtil),
					fmt.Sprintf("%.2f / %.2f", f.RateAllocsPerDelivery, f.AllocsPerDelivery), fmt.Sprintf("%.0f", f.BytesPerDelivery))
			}
			for _, peer := range r.peers() {
				t.row(fmt.Sprint(row.Subscribers), "hotstate/"+peer, x(row.Ratios["p50/"+peer]), x(row.Ratios["p99/"+peer]),
					x(row.Ratios["rateCpuPerDelivery/"+peer]), x(row.Ratios["perSecond/"+peer]), x(row.Ratios["perCpuSecond/"+peer]), "", "", "", "", "")
			}
		}
		rate := ""
		if len(r.Fanout) > 0 {
			for _, f := range r.Fanout[0].Systems {
				rate = fmt.Sprintf("%.0f", f.Rate*float64(r.Fanout[0].Subscribers))
				break
			}
		}
		out = append(out, section{title: "Fan-out: one store/channel, ~150 B change per publish", t: t, notes: []string{
			"latency: publish to receipt at a fixed " + rate + " deliveries/s (publishes/s = that / subscribers); CPU µs/delivery is the server's in that phase; throughput at saturation, 16 changes in flight",
			"allocs/delivery: at the fixed rate / at saturation, counted inside the server (runtime.MemStats.Mallocs)",
			"deliveries/CPU-s divides by the server's CPU time only (utime+stime from /proc); CPU columns are CPU-seconds per second (100% = one core)",
			"server wait: time the server's threads were runnable but waited for a CPU, per second (/proc/<pid>/task/*/schedstat); on an otherwise idle machine it stays small, and where it is high the latencies are the machine's, not the system's",
		}})
	}
	if len(r.RPC) > 0 {
		t := &table{head: []string{"clients", "system", "calls/s", "calls/CPU-s", "p50 ms", "p99 ms", "server CPU", "server wait", "loadgen CPU", "allocs/call"}}
		for _, row := range r.RPC {
			for _, sys := range r.Systems {
				c := row.Systems[sys]
				if c == nil {
					t.row(fmt.Sprint(row.Clients), sys, "failed", "", "", "", "", "", "", "")
					continue
				}
				t.row(fmt.Sprint(row.Clients), sys, count(c.PerSecond), count(c.PerCPUSecond), ms(c.P50ms), ms(c.P99ms),
					pct(c.ServerUtil), pct(c.ServerWait), pct(c.LoadUtil), fmt.Sprintf("%.1f", c.AllocsPerCall))
			}
			for _, peer := range r.peers() {
				t.row(fmt.Sprint(row.Clients), "hotstate/"+peer, x(row.Ratios["perSecond/"+peer]), x(row.Ratios["perCpuSecond/"+peer]),
					"", x(row.Ratios["p99/"+peer]), "", "", "", "")
			}
		}
		out = append(out, section{title: "RPC: closed loop, one call in flight per client", t: t, notes: []string{
			"hotstate: a typed function (hotstate.Handle); centrifuge: OnRPC decoding and encoding JSON; raw: the server echoes the message",
		}})
	}
	if r.Idle != nil {
		t := &table{head: []string{"system", "RSS/conn", "Go heap/conn", "stacks/conn", "goroutines/conn", "kernel TCP/conn", "total/conn"}}
		for _, sys := range r.Systems {
			i := r.Idle.Systems[sys]
			if i == nil {
				t.row(sys, "failed", "", "", "", "", "")
				continue
			}
			t.row(sys, kib(i.RSSPerConn), kib(i.HeapPerConn), kib(i.StackPerConn), fmt.Sprintf("%.1f", i.GoroutinesPerConn),
				kib(i.KernelPerConn), kib(i.RSSPerConn+max(0, i.KernelPerConn)))
		}
		for _, peer := range r.peers() {
			t.row("hotstate/"+peer, x(r.Idle.Ratios["rss/"+peer]), "", "", "", "", x(r.Idle.Ratios["total/"+peer]))
		}
		out = append(out, section{title: fmt.Sprintf("Idle memory: %d connections, each subscribed", r.Idle.Conns), t: t, notes: []string{
			"RSS after runtime.GC and debug.FreeOSMemory, minus the same before connecting; kernel TCP is /proc/net/sockstat's TCP mem, machine-wide (both ends of loopback)",
		}})
	}
	if m := r.Micro; m != nil {
		t := &table{head: []string{"measurement", "value"}}
		t.row(fmt.Sprintf("Store.Update, one field of %d items (clone, diff, encode, history)", m.UpdateItems), fmt.Sprintf("%.0f µs, %.0f allocs", m.UpdateNs/1e3, m.UpdateAllocs))
		t.row("wire.Clone + wire.Diff + wire.EncodePatch (bench/diff_test.go's path)", fmt.Sprintf("%.0f µs", m.DiffNs/1e3))
		t.row("jsondiff.Compare of the same states", fmt.Sprintf("%.0f µs, %.0f allocs", m.JSONDiffNs/1e3, m.JSONDiffAllocs))
		t.row("Update speed-up over jsondiff", x(m.Speedup))
		t.row("PROTOCOL.md's single-field replace frame", fmt.Sprintf("%d B", m.SpecReplaceBytes))
		t.row("live single-field replace frame from a server (+2 B WebSocket header)", fmt.Sprintf("%d B", m.LiveReplaceBytes))
		t.row(fmt.Sprintf("%d realistic patch frames, MessagePack", m.SequenceUpdates), fmt.Sprintf("%d B", m.SequenceMsgpack))
		t.row(fmt.Sprintf("the same %d frames as JSON", m.SequenceUpdates), fmt.Sprintf("%d B", m.SequenceJSON))
		t.row("MessagePack / JSON", x(m.MsgpackToJSON))
		out = append(out, section{title: "Update cost and wire size", t: t})
	}
	{
		t := &table{head: []string{"measurement", "value"}}
		if r.JS.Measured {
			t.row("JS client patch operations applied per second (Node)", count(r.JS.OpsPerSecond))
		} else {
			t.row("JS client patch operations applied per second (Node)", "not measured: "+r.JS.Note)
		}
		out = append(out, section{title: "JS client", t: t})
	}
	if len(r.Targets) > 0 {
		t := &table{head: []string{"target", "measured", "goal", "met"}}
		for _, tg := range r.Targets {
			v, met := "n/a", "not measured"
			if tg.Measured {
				v = fmt.Sprintf("%.2f", tg.Value)
				met = map[bool]string{true: "yes", false: "NO"}[tg.Met]
			}
			t.row(tg.Name, v, tg.Op+" "+fmt.Sprintf("%g", tg.Limit), met)
		}
		out = append(out, section{title: "Targets (issue 8)", t: t})
	}
	return out
}

func (r *Report) header() []string { return r.headerFor(r.ClusterOnly) }

// headerFor is header; for the cluster section alone it leaves the
// single-node pinning to the cluster's own line.
func (r *Report) headerFor(cluster bool) []string {
	m := r.Machine
	pin := "not pinned"
	if r.Pinned {
		pin = "server on CPU 0, load generator on CPU 1 (taskset)"
	}
	if cluster {
		pin = "placed as the cluster line says"
	}
	mode := fmt.Sprintf("median of %d runs", r.Runs)
	if r.Quick {
		mode = "quick mode, 1 run"
	}
	transport := r.Transport
	if transport == "" { // a report written before -transport existed
		transport = NetHTTP
	}
	if r.TLS {
		transport += "; every system over TLS"
	}
	return []string{
		fmt.Sprintf("machine: %s, %d cores, %.0f GiB, Linux %s, %s", m.CPU, m.Cores, m.MemoryGiB, m.Kernel, m.Go),
		fmt.Sprintf("processes: GOMAXPROCS=1 each; %s; open files %d; ports %s; hotstate served by %s", pin, m.NoFile, m.PortRange, transport),
		fmt.Sprintf("load average before %s, after %s; CPU pressure (some, avg60) before %s, after %s; %s; %.0f s",
			m.LoadBefore, m.LoadAfter, m.PressureBefore, m.PressureAfter, mode, r.Seconds),
	}
}

// clusterHeader describes the cluster section's processes.
func (r *Report) clusterHeader() []string {
	c := r.Cluster
	var servers []string
	for _, e := range Engines {
		if v, ok := c.Servers[e]; ok {
			servers = append(servers, v)
		}
	}
	return []string{
		fmt.Sprintf("cluster: %d nodes per system, GOMAXPROCS=1 each; %s", c.Nodes, c.Layout),
		"engine servers: private, on free ports with temporary directories, started and stopped by hotbench: " + strings.Join(servers, ", "),
	}
}

// Text renders the report for a terminal.
func (r *Report) Text() string {
	var b strings.Builder
	b.WriteString("hotbench\n")
	for _, h := range r.header() {
		b.WriteString("  " + h + "\n")
	}
	var sections []section
	if !r.ClusterOnly {
		sections = r.sections()
	}
	if r.Cluster != nil {
		for _, h := range r.clusterHeader() {
			b.WriteString("  " + h + "\n")
		}
		sections = append(sections, r.Cluster.sections()...)
	}
	for _, s := range sections {
		b.WriteString("\n== " + s.title + "\n")
		b.WriteString(s.t.text())
		for _, n := range s.notes {
			b.WriteString("  " + n + "\n")
		}
	}
	errs := r.Errors
	if r.Cluster != nil {
		errs = append(slices.Clone(errs), r.Cluster.Errors...)
	}
	if len(errs) > 0 {
		b.WriteString("\n== Errors\n")
		for _, e := range errs {
			b.WriteString("  " + e + "\n")
		}
	}
	return b.String()
}

// Markdown renders the report for docs/BENCHMARKS.md; chart is the path of
// the SVG relative to the Markdown file, or "".
func (r *Report) Markdown(chart string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run of %s.\n\n", r.Started.Format("2006-01-02 15:04 MST"))
	for _, h := range r.header() {
		b.WriteString("- " + h + "\n")
	}
	if chart != "" {
		fmt.Fprintf(&b, "\n![fan-out p99 latency against subscribers](%s)\n", chart)
	}
	for _, s := range r.sections() {
		b.WriteString("\n### " + s.title + "\n\n")
		b.WriteString(s.t.markdown())
		for _, n := range s.notes {
			b.WriteString("\n" + n + ".\n")
		}
	}
	if len(r.Errors) > 0 {
		b.WriteString("\n### Errors\n\n")
		for _, e := range r.Errors {
			b.WriteString("- " + e + "\n")
		}
	}
	return b.String()
}

// ClusterMarkdown renders the cluster section for docs/BENCHMARKS.md.
func (r *Report) ClusterMarkdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run of %s.\n\n", r.Started.Format("2006-01-02 15:04 MST"))
	for _, h := range append(r.headerFor(true), r.clusterHeader()...) {
		b.WriteString("- " + h + "\n")
	}
	for _, s := range r.Cluster.sections() {
		b.WriteString("\n#### " + s.title + "\n\n")
		b.WriteString(s.t.markdown())
		for _, n := range s.notes {
			b.WriteString("\n" + n + ".\n")
		}
	}
	if len(r.Cluster.Errors) > 0 {
		b.WriteString("\n#### Errors\n\n")
		for _, e := range r.Cluster.Errors {
			b.WriteString("- " + e + "\n")
		}
	}
	return b.String()
}

// Markers delimit the generated parts of BENCHMARKS.md: the single-node
// sections and the cluster section.
const (
	markBegin        = "<!-- hotbench:begin -->"
	markEnd          = "<!-- hotbench:end -->"
	markClusterBegin = "<!-- hotbench:cluster:begin -->"
	markClusterEnd   = "<!-- hotbench:cluster:end -->"
)

// UpdateMarkdown replaces the generated parts of the file at path, between
// the hotbench markers, keeping the prose around them: the single-node
// part unless only the cluster section ran, the cluster part when it ran.
func (r *Report) UpdateMarkdown(path, chart string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(old)
	if !r.ClusterOnly {
		s = replaceBetween(s, markBegin, markEnd, r.Markdown(chart))
	}
	if r.Cluster != nil {
		s = replaceBetween(s, markClusterBegin, markClusterEnd, r.ClusterMarkdown())
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

// replaceBetween puts gen between the markers begin and end in s, or
// appends the markers and gen when s lacks them.
func replaceBetween(s, begin, end, gen string) string {
	gen = begin + "\n" + gen + end
	i := strings.Index(s, begin)
	j := -1
	if i >= 0 {
		if k := strings.Index(s[i:], end); k >= 0 {
			j = i + k
		}
	}
	if i >= 0 && j > i {
		return s[:i] + gen + s[j+len(end):]
	}
	return s + "\n" + gen + "\n"
}
