package suite

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotstate/hotstate/core/wire"
	"go.uber.org/goleak"
)

// TestMain doubles as the suite's child processes: TestSuiteTiny runs this
// test binary with HOTBENCH_CHILD=1 as its servers and load generators.
func TestMain(m *testing.M) {
	if os.Getenv("HOTBENCH_CHILD") == "1" {
		os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	code := m.Run()
	if code == 0 {
		code = verifyNoLeaks()
	}
	os.Exit(code)
}

// verifyNoLeaks waits longer than goleak.VerifyTestMain: fasthttp's worker
// pool cleaner, under both Fiber transports, sees that its server stopped
// only when it next wakes, up to MaxIdleWorkerDuration (10 s) later.
func verifyNoLeaks() int {
	ignore := []goleak.Option{
		// centrifuge's Node.Shutdown returns while its dissolver still sleeps
		// out the delay before unsubscribing an emptied channel from the
		// broker; the goroutine is centrifuge's and ends a second later.
		goleak.IgnoreAnyFunction("github.com/centrifugal/centrifuge/internal/dissolve.(*Dissolver).runWorker"),
		// fasthttp refreshes its Date header from a goroutine it starts once
		// and never stops.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := goleak.Find(ignore...)
		if err == nil {
			return 0
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			return 1
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tinyConfig is the whole suite at toy scale: every code path, seconds.
func tinyConfig(t *testing.T) Config {
	return Config{
		Runs: 1, Sizes: []int{50}, RPCClients: []int{10}, Systems: Systems,
		Warmup: 100 * time.Millisecond, Phase: 300 * time.Millisecond,
		LatencyDeliveries: 1000, Window: 4, PerAddr: 20, MicroTime: 10 * time.Millisecond,
		Exe: []string{os.Args[0]}, Env: []string{"HOTBENCH_CHILD=1"},
		Quick: true, Log: testWriter{t},
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// TestSuiteTiny runs the suite as the command does, with child processes,
// and checks that every scenario produced figures. It asserts nothing
// about their values.
func TestSuiteTiny(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, tinyConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) > 0 {
		t.Fatalf("errors: %v", rep.Errors)
	}
	if len(rep.Fanout) != 1 || len(rep.RPC) != 1 || rep.Idle == nil || rep.Micro == nil {
		t.Fatalf("missing results: %+v", rep)
	}
	for _, sys := range Systems {
		f := rep.Fanout[0].Systems[sys]
		if f == nil || f.LatencySamples == 0 || f.Deliveries == 0 {
			t.Errorf("%s: fan-out %+v", sys, f)
		}
		if c := rep.RPC[0].Systems[sys]; c == nil || c.Calls == 0 {
			t.Errorf("%s: RPC %+v", sys, c)
		}
		if rep.Idle.Systems[sys] == nil {
			t.Errorf("%s: no idle figures", sys)
		}
	}
	if rep.Micro.SpecReplaceBytes != 47 {
		t.Errorf("PROTOCOL.md's example frame is %d bytes, the document says 47", rep.Micro.SpecReplaceBytes)
	}
	text := rep.Text()
	for _, want := range []string{"Fan-out", "RPC", "Idle memory", "Targets"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if svg := rep.ChartSVG(); !strings.Contains(svg, "<polyline") {
		t.Errorf("chart has no lines:\n%s", svg)
	}
	md := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := os.WriteFile(md, []byte("# Benchmarks\n\nprose\n\n"+markBegin+"\nold\n"+markEnd+"\n\nmore prose\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rep.UpdateMarkdown(md, "chart.svg"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(md)
	if s := string(b); strings.Contains(s, "\nold\n") || !strings.Contains(s, "more prose") || !strings.Contains(s, "chart.svg") {
		t.Errorf("markdown not updated in place:\n%s", s)
	}
}

// TestInProcess runs each server and load generator in this process, so
// the race detector sees the fan-out and RPC paths of both sides, and
// goleak checks that they stop completely.
func TestInProcess(t *testing.T) {
	type target struct{ sys, transport string }
	var targets []target
	for _, sys := range Systems {
		targets = append(targets, target{sys, Transports[0]})
	}
	for _, tr := range Transports[1:] {
		targets = append(targets, target{Hotstate, tr})
	}
	for _, tg := range targets {
		sys, name := tg.sys, tg.sys
		if sys == Hotstate {
			name += "/" + tg.transport
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			wsLn, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctlLn, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			wg.Go(func() {
				if err := Serve(ctx, sys, tg.transport, sharedEngine{}, wsLn, ctlLn); err != nil {
					t.Errorf("serve: %v", err)
				}
			})
			defer wg.Wait()
			defer cancel()
			base := LoadParams{
				System: sys, WS: wsLn.Addr().String(), Ctl: ctlLn.Addr().String(), ServerPID: os.Getpid(),
				Warmup: 50 * time.Millisecond, Phase: 200 * time.Millisecond, PerAddr: 10,
			}
			fan := base
			fan.Mode, fan.Conns, fan.Rate, fan.Window, fan.Idle = ModeFanout, 30, 20, 4, true
			res, err := Load(ctx, fan)
			if err != nil {
				t.Fatalf("fan-out: %v", err)
			}
			if f := res.Fanout; f.LatencySamples == 0 || f.Deliveries == 0 || res.Idle == nil {
				t.Errorf("fan-out: %+v", res)
			}
			rpc := base
			rpc.Mode, rpc.Conns = ModeRPC, 5
			res, err = Load(ctx, rpc)
			if err != nil {
				t.Fatalf("rpc: %v", err)
			}
			if res.RPC.Calls == 0 {
				t.Errorf("rpc: %+v", res.RPC)
			}
		})
	}
}

func TestHistQuantiles(t *testing.T) {
	var h hist
	for i := 1; i <= 1000; i++ {
		h.record(int64(i) * 1000) // 1 µs .. 1 ms
	}
	total, q := h.snapshot()
	if total != 1000 {
		t.Fatalf("total %d", total)
	}
	for _, c := range []struct{ q, want float64 }{{0.5, 500e3}, {0.99, 990e3}} {
		if got := q(c.q); got < c.want*0.96 || got > c.want*1.04 {
			t.Errorf("q(%g) = %g, want about %g", c.q, got, c.want)
		}
	}
	for v := uint64(0); v < 1<<20; v += 977 {
		if b := bucketOf(v); b >= histBuckets || bucketValue(b) > v+v/16+1 || bucketValue(b)+bucketValue(b)/16+1 < v {
			t.Fatalf("value %d: bucket %d holds %d", v, b, bucketValue(b))
		}
	}
}

func TestStamps(t *testing.T) {
	m := newMessage(7, 1_712_345_678_901_234_567)
	frame, err := wire.EncodePatch(feedStore, 1, 7, []wire.Op{{Op: wire.OpReplace, Path: "/last/ts", Value: m.TS}, {Op: wire.OpReplace, Path: "/last/ts", Value: stamp(12)}})
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	stamps(frame, func(ts int64) { got = append(got, ts) })
	if len(got) != 2 || got[0] != 1_712_345_678_901_234_567 || got[1] != 12 {
		t.Fatalf("stamps %v", got)
	}
	stamps([]byte("ts=12345"), func(int64) { t.Fatal("found a stamp in a short tail") })
}

func TestRequestFrames(t *testing.T) {
	c := &client{sys: Hotstate}
	var err error
	if c.args, err = encodeArgs(Hotstate, EchoArgs{ID: 3, Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	req, err := c.request(70000)
	if err != nil {
		t.Fatal(err)
	}
	f, err := wire.Decode(req)
	if err != nil {
		t.Fatal(err)
	}
	if f.Type != wire.TypeRPC || f.ID != 70000 || f.Name != echoFunc {
		t.Fatalf("request decodes to %+v", f)
	}
	var a EchoArgs
	if err := wire.DecodeValue(f.Value, &a); err != nil || a != (EchoArgs{ID: 3, Text: "hi"}) {
		t.Fatalf("args %+v, %v", a, err)
	}
	res, err := wire.EncodeResult(70000, a)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := c.answers(res, 70000); !ok || err != nil {
		t.Fatalf("result not recognised: %v %v", ok, err)
	}
	if ok, _ := c.answers(res, 70001); ok {
		t.Fatal("result matched another call")
	}
	fail := wire.EncodeFailure(70000, wire.Error{Code: wire.CodeBadArgs, Message: "no"})
	if _, err := c.answers(fail, 70000); err == nil {
		t.Fatal("failure not reported")
	}
}

func TestSourceAddr(t *testing.T) {
	if sourceAddr(5, 0) != nil || sourceAddr(5, 10) != nil {
		t.Fatal("the first address is the kernel's choice")
	}
	if a := sourceAddr(25, 10); !a.IP.Equal(net.IPv4(127, 0, 0, 3)) {
		t.Fatalf("connection 25 at 10 per address: %v", a)
	}
}

func TestUnknownTransport(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.Transport = "grpc"
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "transports are") {
		t.Fatalf("Run with transport grpc: %v", err)
	}
}

// TestClusterTiny runs the cluster section as the command does, on
// private Redis and NATS servers it starts, and checks that every
// measurement produced figures. It asserts nothing about their values.
func TestClusterTiny(t *testing.T) {
	for _, bin := range []string{"redis-server", "nats-server"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (scripts/ensure-servers.sh installs it)", bin)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := tinyConfig(t)
	cfg.Cluster, cfg.ClusterOnly = Engines, true
	cfg.Systems = []string{Hotstate, Centrifuge}
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Cluster
	if c == nil {
		t.Fatal("no cluster section")
	}
	if len(c.Errors) > 0 || len(rep.Errors) > 0 {
		t.Fatalf("errors: %v %v", c.Errors, rep.Errors)
	}
	if len(c.Fanout) != 1 {
		t.Fatalf("fan-out rows: %+v", c.Fanout)
	}
	for _, label := range []string{"hotstate+redis", "hotstate+nats", "centrifuge+redis"} {
		f := c.Fanout[0].Systems[label]
		if f == nil || f.LatencySamples == 0 || f.Deliveries == 0 || f.ServerCPU <= 0 {
			t.Errorf("%s: fan-out %+v", label, f)
		}
	}
	for _, e := range Engines {
		if r := c.RTT[e]; r == nil || r.Trips == 0 {
			t.Errorf("%s: no round trips", e)
		}
	}
	if len(c.Writers) != len(clusterWriters) {
		t.Fatalf("writer rows: %+v", c.Writers)
	}
	for _, row := range c.Writers {
		for _, e := range updateEngines() {
			if w := row.Engines[e]; w == nil || w.Updates == 0 {
				t.Errorf("%d writers on %s: %+v", row.Writers, e, w)
			}
		}
	}
	text := rep.Text()
	for _, want := range []string{"Cluster fan-out", "Update latency", "Conflicting writers", "Cluster targets"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "RPC") {
		t.Errorf("a cluster-only report shows the single-node sections:\n%s", text)
	}
	// The cluster part has markers of its own, and leaves the
	// single-node part alone.
	md := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	before := "# Benchmarks\n\n" + markBegin + "\nsingle\n" + markEnd + "\n\n" + markClusterBegin + "\nold\n" + markClusterEnd + "\n\nprose\n"
	if err := os.WriteFile(md, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rep.UpdateMarkdown(md, ""); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(md)
	if s := string(b); !strings.Contains(s, "\nsingle\n") || strings.Contains(s, "\nold\n") || !strings.Contains(s, "Conflicting writers") || !strings.Contains(s, "prose") {
		t.Errorf("markdown not updated in place:\n%s", s)
	}
}
