package hotredis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/enginetest"
	hotredis "github.com/hotstate/hotstate/engines/redis"
	"github.com/redis/go-redis/v9"
)

// sentinelSet is a private master, its two replicas and one Sentinel
// watching them, each on a free port: after a failover one replica is
// the master and the other replicates it.
type sentinelSet struct {
	master       *exec.Cmd
	masterAddr   string
	sentinelAddr string
}

const sentinelMaster = "hotstate-test"

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startProcess runs redis-server with args and stops it when the test ends.
func startProcess(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server is not installed (scripts/ensure-servers.sh installs it): %v", err)
	}
	cmd := exec.Command("redis-server", args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	return cmd
}

func startSentinelSet(t *testing.T) *sentinelSet {
	t.Helper()
	dir := t.TempDir()
	mp, sp := freePort(t), freePort(t)
	common := []string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir}
	s := &sentinelSet{masterAddr: "127.0.0.1:" + strconv.Itoa(mp), sentinelAddr: "127.0.0.1:" + strconv.Itoa(sp)}
	s.master = startProcess(t, append([]string{"--port", strconv.Itoa(mp), "--dbfilename", "m.rdb"}, common...)...)
	for i := range 2 {
		startProcess(t, append([]string{"--port", strconv.Itoa(freePort(t)), "--dbfilename", fmt.Sprintf("r%d.rdb", i),
			"--replicaof", "127.0.0.1", strconv.Itoa(mp)}, common...)...)
	}
	// The Sentinel learns of replicas from the master's INFO, which it
	// asks for every 10 s: it starts once both are in sync, so its first
	// INFO names them.
	master := redis.NewClient(&redis.Options{Addr: s.masterAddr, MaxRetries: -1})
	defer master.Close()
	waitUntil(t, "both replicas in sync with the master", func() bool {
		info, err := master.Info(ctx(t), "replication").Result()
		return err == nil && strings.Count(info, "state=online") == 2
	})
	conf := filepath.Join(dir, "sentinel.conf")
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\nsentinel monitor %s 127.0.0.1 %d 1\n"+
		"sentinel down-after-milliseconds %s 500\nsentinel failover-timeout %s 5000\n",
		sp, sentinelMaster, mp, sentinelMaster, sentinelMaster)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	startProcess(t, conf, "--sentinel")
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.sentinelAddr, MaxRetries: -1})
	t.Cleanup(func() { sc.Close() })
	waitUntil(t, "the Sentinel to see the master's replicas in sync", func() bool {
		rs, err := sc.Replicas(ctx(t), sentinelMaster).Result()
		return err == nil && len(rs) == 2 && rs[0]["master-link-status"] == "ok" && rs[1]["master-link-status"] == "ok"
	})
	return s
}

func (s *sentinelSet) client(t *testing.T) *redis.Client {
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: sentinelMaster, SentinelAddrs: []string{s.sentinelAddr}})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// TestSentinelConformance: through a Sentinel's failover client, waiting
// for the replica on every append, the engine passes the conformance
// suite.
func TestSentinelConformance(t *testing.T) {
	rdb := startSentinelSet(t).client(t)
	enginetest.Run(t, func(t *testing.T, cfg enginetest.Config) hotstate.Engine {
		e := hotredis.New(rdb, hotredis.WithPrefix(freshPrefix()), hotredis.WithMaxChanges(cfg.MaxChanges),
			hotredis.WithReplicas(1, time.Second))
		t.Cleanup(e.Close)
		return e
	})
}

// TestSentinelFailoverKeepsAcknowledged: the master is killed while a
// writer appends; Sentinel promotes the replica, the writer goes on, and
// every append that was acknowledged (each waited for a replica) is in
// the log the new master holds.
func TestSentinelFailoverKeepsAcknowledged(t *testing.T) {
	s := startSentinelSet(t)
	e := hotredis.New(s.client(t), hotredis.WithPrefix(freshPrefix()), hotredis.WithReplicas(1, time.Second))
	t.Cleanup(e.Close)
	if err := e.Append(ctx(t), "F", hotstate.Position{}, enginetest.Snap(t, "F", 5, 0, 0)); err != nil {
		t.Fatal(err)
	}
	var acked, failed uint64 // the last version acknowledged; appends that failed
	end := uint64(0)
	killed := false
	deadline := time.Now().Add(60 * time.Second)
	for acked < 400 {
		if time.Now().After(deadline) {
			t.Fatalf("the writer made no progress after the failover: %d acknowledged, %d failed", acked, failed)
		}
		if acked == 150 && !killed {
			_ = s.master.Process.Kill() // SIGKILL: nothing more leaves it
			killed = true
		}
		c, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err := e.Append(c, "F", enginetest.At(5, end), enginetest.Patch(t, "F", 5, end+1, int(end+1)))
		cancel()
		if err == nil {
			end++
			acked = end
			continue
		}
		failed++
		if !errors.Is(err, hotstate.ErrUnavailable) && !errors.Is(err, hotstate.ErrConflict) {
			t.Fatalf("append %d: %v", end+1, err)
		}
		// The outcome is unknown: the log's end says where to go on.
		time.Sleep(50 * time.Millisecond)
		c, cancel = context.WithTimeout(context.Background(), 3*time.Second)
		snap, after, lerr := e.Load(c, "F")
		cancel()
		if lerr == nil {
			end = snap.Version + uint64(len(after))
			if end < acked {
				t.Fatalf("the log ends at %d after the failover, but %d was acknowledged", end, acked)
			}
		}
	}
	snap, after, err := e.Load(ctx(t), "F")
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range after {
		if c.Version != snap.Version+uint64(i)+1 {
			t.Fatalf("the log skips from %d to %d", snap.Version+uint64(i), c.Version)
		}
	}
	if got := snap.Version + uint64(len(after)); got < acked {
		t.Fatalf("the log ends at %d, %d acknowledged", got, acked)
	}
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.sentinelAddr})
	defer sc.Close()
	now, err := sc.GetMasterAddrByName(ctx(t), sentinelMaster).Result()
	if err != nil || net.JoinHostPort(now[0], now[1]) == s.masterAddr {
		t.Fatalf("the Sentinel's master is %v (%v), want a promoted replica", now, err)
	}
	t.Logf("%d appends acknowledged, %d failed during the failover", acked, failed)
}

// TestTooFewReplicas: an append that too few replicas confirmed fails with
// ErrUnavailable, its outcome unknown: the master has it.
func TestTooFewReplicas(t *testing.T) {
	e := hotredis.New(client(t, server), hotredis.WithPrefix(freshPrefix()), hotredis.WithReplicas(1, 50*time.Millisecond))
	t.Cleanup(e.Close)
	err := e.Append(ctx(t), "N", hotstate.Position{}, enginetest.Snap(t, "N", 7, 0, 0))
	if !errors.Is(err, hotstate.ErrUnavailable) {
		t.Fatalf("append with no replica to confirm it = %v, want ErrUnavailable", err)
	}
	if snap, _, err := e.Load(ctx(t), "N"); err != nil || snap.Epoch != 7 {
		t.Fatalf("load = epoch %d, %v; want the change the master took", snap.Epoch, err)
	}
}
