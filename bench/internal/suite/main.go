package suite

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Main is the hotbench command. With no subcommand it runs the suite;
// "serve", "load" and "micro" are the child processes the suite starts.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) > 0 {
		switch args[0] {
		case "serve":
			return exit(stderr, serveMain(ctx, args[1:], stdout))
		case "load":
			return exit(stderr, loadMain(ctx, args[1:], stdout))
		case "micro":
			return exit(stderr, microMain(ctx, args[1:], stdout))
		}
	}
	return exit(stderr, suiteMain(ctx, args, stdout, stderr))
}

func exit(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	if err != errUsage {
		fmt.Fprintln(stderr, "hotbench:", err)
	}
	return 2
}

func suiteMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hotbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "CI smoke run: one run, short phases (under two minutes)")
	jsonPath := fs.String("json", "", "write every figure and ratio to this file")
	mdPath := fs.String("md", "", "rewrite the generated section of this Markdown file (docs/BENCHMARKS.md)")
	svgPath := fs.String("svg", "", "write the fan-out p99 chart to this SVG file")
	runs := fs.Int("runs", 0, "runs of every scenario; figures are medians (default 3, 1 with -quick)")
	sizes := fs.String("sizes", "", "fan-out subscriber counts, comma-separated (default 1000,5000,10000)")
	rpc := fs.String("rpc", "", "RPC client counts, comma-separated (default 100,1000)")
	systems := fs.String("systems", "", "systems to run, comma-separated (default hotstate,raw,centrifuge; hotstate+metrics is hotstate with the Prometheus metrics and the inspector attached, to compare with hotstate)")
	transport := fs.String("transport", NetHTTP, "what serves hotstate: "+strings.Join(Transports, ", "))
	phase := fs.Duration("phase", 0, "length of each measured phase (default 5s, 1s with -quick)")
	profile := fs.String("profile", "", "write server CPU and allocation profiles of the first run here (with -idle, the first server's heap with every client connected)")
	noPin := fs.Bool("nopin", false, "do not pin processes to CPUs with taskset")
	cluster := fs.String("cluster", "", "also run the cluster section on these engines, comma-separated: redis, nats (private servers hotbench starts)")
	clusterOnly := fs.Bool("cluster-only", false, "run only the cluster section")
	idle := fs.Int("idle", 0, "run only the idle-at-scale measurement with this many subscribed connections (default systems: hotstate), then restart the server and time every client's reconnection; it raises the open file limit where the process may (CAP_SYS_RESOURCE) and, as root, the sysctls it needs, saying so, and spreads the connections over several servers where the limit stays too low for one (see -nodes), e.g.\n\tgo run ./bench/cmd/hotbench -idle 100000 -peraddr 5000 -json idle.json")
	perAddr := fs.Int("peraddr", 0, "connections per 127.0.0.x source address (default 20000)")
	useTLS := fs.Bool("tls", false, "serve every system over TLS (a certificate for 127.0.0.1 made for the run); hotstate then takes the goroutine path")
	nodes := fs.Int("nodes", 0, "with -idle: server processes to spread the connections over, each with a load generator of its own (default: as few as the open file limit allows)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	cfg := FullConfig()
	if *quick {
		cfg = QuickConfig()
	}
	if *runs > 0 {
		cfg.Runs = *runs
	}
	var err error
	if *sizes != "" {
		if cfg.Sizes, err = ints(*sizes); err != nil {
			return err
		}
	}
	if *rpc != "" {
		if cfg.RPCClients, err = ints(*rpc); err != nil {
			return err
		}
	}
	if *systems != "" {
		cfg.Systems = strings.Split(*systems, ",")
	}
	cfg.Transport = *transport
	if *phase > 0 {
		cfg.Phase = *phase
	}
	cfg.Pin = !*noPin
	if *cluster != "" {
		if cfg.Cluster, err = parseEngines(*cluster); err != nil {
			return err
		}
	}
	cfg.ClusterOnly = *clusterOnly
	if *perAddr > 0 {
		cfg.PerAddr = *perAddr
	}
	cfg.IdleNodes = *nodes
	cfg.TLS = *useTLS
	cfg.Log = stderr
	if *profile != "" {
		if err := os.MkdirAll(*profile, 0o755); err != nil {
			return err
		}
		if cfg.ProfileDir, err = filepath.Abs(*profile); err != nil {
			return err
		}
	}
	if *idle > 0 {
		if *systems == "" {
			cfg.Systems = []string{Hotstate}
		}
		return idleMain(ctx, cfg, *idle, *jsonPath, stdout)
	}
	cfg.RepoRoot = repoRoot()
	if err := raiseNoFile(uint64(slices.Max(cfg.Sizes)) + 4096); err != nil {
		fmt.Fprintln(stderr, "hotbench: cannot raise the open file limit:", err)
	}
	rep, err := Run(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, rep.Text())
	if *jsonPath != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*jsonPath, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if *svgPath != "" {
		if err := os.WriteFile(*svgPath, []byte(rep.ChartSVG()), 0o644); err != nil {
			return err
		}
	}
	if *mdPath != "" {
		chart := ""
		if *svgPath != "" {
			if rel, err := filepath.Rel(filepath.Dir(*mdPath), *svgPath); err == nil {
				chart = filepath.ToSlash(rel)
			}
		}
		if err := rep.UpdateMarkdown(*mdPath, chart); err != nil {
			return err
		}
	}
	return nil
}

// idleMain runs and prints the idle-at-scale measurement.
func idleMain(ctx context.Context, cfg Config, n int, jsonPath string, stdout io.Writer) error {
	for _, sys := range cfg.Systems {
		if !slices.Contains(Systems, sys) {
			return fmt.Errorf("suite: systems are %v", Systems)
		}
	}
	rep, err := runIdle(ctx, cfg, n)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, rep.Text())
	if jsonPath != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if len(rep.Results) == 0 {
		return fmt.Errorf("suite: no system completed the idle run")
	}
	return nil
}

func ints(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad count %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// repoRoot is the directory holding go.work, searched upwards from the
// working directory, or "".
func repoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// serveMain is the server child: it serves until its standard input closes.
func serveMain(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	name := fs.String("system", Hotstate, "hotstate, raw or centrifuge")
	transport := fs.String("transport", NetHTTP, "what serves hotstate: "+strings.Join(Transports, ", "))
	engine := fs.String("engine", "", "the engine server a cluster shares (redis://host:port or nats://host:port)")
	prefix := fs.String("prefix", "hotbench", "the prefix of the cluster's keys and subjects")
	listen := fs.String("listen", "127.0.0.1:0", "the WebSocket endpoint's address (a restarted server takes its predecessor's)")
	certFile := fs.String("tls-cert", "", "serve the WebSocket endpoint over TLS with this certificate (PEM)")
	keyFile := fs.String("tls-key", "", "the key of -tls-cert (PEM)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	_ = raiseNoFile(0) // the soft limit to the hard one, which the suite raised
	wsLn, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	if *certFile != "" {
		tc, err := serverTLS(*certFile, *keyFile)
		if err != nil {
			return err
		}
		wsLn = tls.NewListener(wsLn, tc)
	}
	ctlLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		defer cancel()
		_, _ = io.Copy(io.Discard, os.Stdin)
	})
	errc := make(chan error, 1)
	go func() {
		errc <- Serve(ctx, *name, *transport, sharedEngine{URL: *engine, Prefix: *prefix}, wsLn, ctlLn)
	}()
	fmt.Fprintf(stdout, "ready %s %s\n", wsLn.Addr(), ctlLn.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// The orchestrator is done with this server: there is nothing to
	// shut down gracefully for, and 10 000 closing handshakes only delay
	// the next scenario.
	os.Exit(0)
	return nil
}

// loadMain is the load generator child: it prints a LoadResult as JSON.
func loadMain(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	params := fs.String("params", "", "LoadParams as JSON")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	var p LoadParams
	if err := json.Unmarshal([]byte(*params), &p); err != nil {
		return err
	}
	if p.Mode == ModeIdle {
		res, err := idleLoad(ctx, p, os.Stdin, stdout)
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(res)
	}
	res, err := Load(ctx, p)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(res)
}

// microMain is the micro-measurement child: it prints a MicroResult.
func microMain(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("micro", flag.ContinueOnError)
	d := fs.Duration("time", 2*time.Second, "time per measurement")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	res, err := Micro(ctx, *d)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(res)
}
