package suite

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	hotnats "github.com/hotstate/hotstate/engines/nats"
	hotredis "github.com/hotstate/hotstate/engines/redis"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
)

// The engines a cluster runs on.
const (
	EngineRedis = "redis"
	EngineNATS  = "nats"
)

// Engines lists every engine -cluster accepts, in the order tables show
// them.
var Engines = []string{EngineRedis, EngineNATS}

// sharedEngine is the engine server the nodes of one cluster share, and the
// prefix of the keys and subjects of one scenario, so that no scenario
// sees another's stores.
type sharedEngine struct {
	URL    string // redis://host:port or nats://host:port; "" on its own
	Prefix string
}

// engineKind is "redis" or "nats", from the URL's scheme.
func engineKind(url string) string {
	kind, _, _ := strings.Cut(url, "://")
	return kind
}

// dialEngine connects to the shared engine as an application does, with
// the engine's defaults and the scenario's prefix.
func dialEngine(ctx context.Context, shared sharedEngine) (hotstate.Engine, func(), error) {
	switch engineKind(shared.URL) {
	case EngineRedis:
		eng, err := hotredis.Dial(shared.URL, hotredis.WithPrefix(shared.Prefix))
		if err != nil {
			return nil, nil, err
		}
		return eng, eng.Close, nil
	case EngineNATS:
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		eng, err := hotnats.Connect(ctx, shared.URL, hotnats.WithPrefix(shared.Prefix))
		if err != nil {
			return nil, nil, err
		}
		return eng, eng.Close, nil
	}
	return nil, nil, fmt.Errorf("suite: no engine for %q", shared.URL)
}

// RTTResult is the raw round trip to an engine server from a node's
// process, on a connection of its own: a Redis PING, or a NATS PING
// answered by PONG (what nats.Conn.RTT measures); and the round trip of
// the smallest durable write, which an append cannot beat: a Redis XADD
// to a capped stream, a JetStream publish to a file-stored stream
// answered by its acknowledgement.
type RTTResult struct {
	Trips  uint64  `json:"trips"`
	P50us  float64 `json:"p50us"`
	P99us  float64 `json:"p99us"`
	MeanUs float64 `json:"meanUs"`

	Writes      uint64  `json:"writes"`
	WriteP50us  float64 `json:"writeP50us"`
	WriteP99us  float64 `json:"writeP99us"`
	WriteMeanUs float64 `json:"writeMeanUs"`
}

// engineRTT measures round trips to the server url names, one at a time,
// for about d, and as long again for writes.
func engineRTT(ctx context.Context, url string, d time.Duration) (*RTTResult, error) {
	var trip, write func() error
	scratch := fmt.Sprintf("hotbench_rtt_%d", time.Now().UnixNano())
	switch engineKind(url) {
	case EngineRedis:
		o, err := redis.ParseURL(url)
		if err != nil {
			return nil, err
		}
		rdb := redis.NewClient(o)
		defer rdb.Close()
		defer rdb.Del(context.Background(), scratch)
		trip = func() error { return rdb.Ping(ctx).Err() }
		write = func() error {
			return rdb.XAdd(ctx, &redis.XAddArgs{Stream: scratch, MaxLen: 1000, Approx: true, Values: []any{"f", "x"}}).Err()
		}
	case EngineNATS:
		nc, err := nats.Connect(url)
		if err != nil {
			return nil, err
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return nil, err
		}
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
			Name: scratch, Subjects: []string{scratch}, Storage: jetstream.FileStorage, MaxMsgs: 1000,
		}); err != nil {
			return nil, err
		}
		defer js.DeleteStream(context.Background(), scratch)
		trip = func() error { _, err := nc.RTT(); return err }
		write = func() error { _, err := js.Publish(ctx, scratch, []byte("x")); return err }
	default:
		return nil, fmt.Errorf("suite: no engine for %q", url)
	}
	res := &RTTResult{}
	var err error
	if res.Trips, res.P50us, res.P99us, res.MeanUs, err = timeTrips(trip, d); err != nil {
		return nil, err
	}
	if res.Writes, res.WriteP50us, res.WriteP99us, res.WriteMeanUs, err = timeTrips(write, d); err != nil {
		return nil, err
	}
	return res, nil
}

// timeTrips calls trip one at a time for about d, after a warm-up, and
// returns how often and its latency in microseconds.
func timeTrips(trip func() error, d time.Duration) (n uint64, p50, p99, mean float64, err error) {
	for range 100 { // connect, warm up
		if err := trip(); err != nil {
			return 0, 0, 0, 0, err
		}
	}
	var h hist
	var sum time.Duration
	for start := time.Now(); time.Since(start) < d || n == 0; {
		t0 := time.Now()
		if err := trip(); err != nil {
			return 0, 0, 0, 0, err
		}
		el := time.Since(t0)
		h.record(int64(el))
		sum += el
		n++
	}
	_, q := h.snapshot()
	return n, q(0.5) / 1e3, q(0.99) / 1e3, float64(sum.Microseconds()) / float64(n), nil
}

// engineServer is a private redis-server or nats-server -js the cluster
// section starts on a free port with a temporary directory and stops at
// its end; never a server the machine already runs.
type engineServer struct {
	kind string
	url  string
	dir  string
	cmd  *exec.Cmd
}

// startEngineServer starts the named server, on cpu when pin is set, and
// waits until it serves (for NATS, until JetStream answers).
func startEngineServer(ctx context.Context, kind string, pin bool, cpu int) (*engineServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "hotbench-"+kind+"-")
	if err != nil {
		return nil, err
	}
	e := &engineServer{kind: kind, dir: dir, url: kind + "://127.0.0.1:" + strconv.Itoa(port)}
	var argv []string
	switch kind {
	case EngineRedis:
		// Nothing on disk: the scenarios measure the engine's round trips,
		// not the disk's.
		argv = []string{"redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir}
	case EngineNATS:
		// JetStream's file storage, which hotnats asks for; nats-server
		// syncs it to disk every two minutes by default, not per write.
		argv = []string{"nats-server", "-js", "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-sd", dir}
	default:
		os.RemoveAll(dir)
		return nil, fmt.Errorf("suite: engines are %v", Engines)
	}
	if _, err := exec.LookPath(argv[0]); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("suite: %s is not installed (scripts/ensure-servers.sh installs it): %w", argv[0], err)
	}
	if pin {
		argv = append([]string{"taskset", "-c", strconv.Itoa(cpu)}, argv...)
	}
	e.cmd = exec.Command(argv[0], argv[1:]...)
	e.cmd.Dir = dir
	if err := e.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := e.waitReady(ctx); err != nil {
		e.stop()
		return nil, err
	}
	return e, nil
}

func (e *engineServer) pid() int { return e.cmd.Process.Pid }

// version is what the server's --version says, shortened.
func (e *engineServer) version() string {
	out, err := exec.Command(e.kind+"-server", "--version").Output()
	if err != nil {
		return e.kind + "-server"
	}
	f := strings.Fields(string(out))
	for _, w := range f {
		if v, ok := strings.CutPrefix(w, "v="); ok { // redis-server
			return "redis-server " + v
		}
	}
	if len(f) > 0 { // nats-server: "nats-server: v2.9.10"
		return e.kind + "-server " + f[len(f)-1]
	}
	return e.kind + "-server"
}

func (e *engineServer) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(15 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		if last = e.ready(ctx); last == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("suite: %s-server at %s is not ready: %w", e.kind, e.url, last)
}

func (e *engineServer) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	switch e.kind {
	case EngineRedis:
		o, err := redis.ParseURL(e.url)
		if err != nil {
			return err
		}
		o.MaxRetries = -1
		rdb := redis.NewClient(o)
		defer rdb.Close()
		return rdb.Ping(ctx).Err()
	default:
		nc, err := nats.Connect(e.url, nats.Timeout(time.Second))
		if err != nil {
			return err
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return err
		}
		_, err = js.AccountInfo(ctx)
		return err
	}
}

// stop stops the server as an operator does and removes its files.
func (e *engineServer) stop() {
	if e.cmd != nil && e.cmd.Process != nil {
		_ = e.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() {
			_ = e.cmd.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = e.cmd.Process.Kill()
			<-done
		}
	}
	_ = os.RemoveAll(e.dir)
}

// freePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// parseEngines checks a -cluster list.
func parseEngines(s string) ([]string, error) {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(Engines, f) {
			return nil, errors.New("suite: -cluster takes " + strings.Join(Engines, ", "))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}
