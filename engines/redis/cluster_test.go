package hotredis_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/enginetest"
	hotredis "github.com/hotstate/hotstate/engines/redis"
	"github.com/redis/go-redis/v9"
)

// startRedisCluster starts a private Redis Cluster of three masters on
// free ports, each serving a third of the hash slots, and returns a
// client of it once every node reports the cluster ok.
func startRedisCluster(t *testing.T) *redis.ClusterClient {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server is not installed (scripts/ensure-servers.sh installs it): %v", err)
	}
	dir := t.TempDir()
	const masters = 3
	var addrs []string
	var nodes []*redis.Client
	for i := range masters {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--cluster-enabled", "yes", "--cluster-config-file", fmt.Sprintf("nodes-%d.conf", port),
			"--save", "", "--appendonly", "no", "--dir", dir)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		})
		addr := "127.0.0.1:" + strconv.Itoa(port)
		addrs = append(addrs, addr)
		rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		t.Cleanup(func() { rdb.Close() })
		nodes = append(nodes, rdb)
		waitUntil(t, "redis-server on "+addr+" to answer", func() bool { return rdb.Ping(ctx(t)).Err() == nil })
		from, to := i*16384/masters, (i+1)*16384/masters-1
		if err := rdb.Do(ctx(t), "CLUSTER", "ADDSLOTSRANGE", from, to).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, addr := range addrs[1:] {
		host, port, _ := net.SplitHostPort(addr)
		if err := nodes[0].ClusterMeet(ctx(t), host, port).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nodes {
		waitUntil(t, "the cluster to be ok", func() bool {
			info, err := n.ClusterInfo(ctx(t)).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:3")
		})
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { cc.Close() })
	waitUntil(t, "the cluster client to see every master", func() bool {
		var n atomic.Int64
		err := cc.ForEachMaster(ctx(t), func(context.Context, *redis.Client) error { n.Add(1); return nil })
		return err == nil && n.Load() == masters
	})
	return cc
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterConformance: on a Redis Cluster the engine passes the
// conformance suite: every key of an instance shares one hash tag, so its
// scripts and transactions run on the master that holds it, and Names
// scans every master.
func TestClusterConformance(t *testing.T) {
	cc := startRedisCluster(t)
	enginetest.Run(t, func(t *testing.T, cfg enginetest.Config) hotstate.Engine {
		e := hotredis.New(cc, hotredis.WithPrefix(freshPrefix()), hotredis.WithMaxChanges(cfg.MaxChanges))
		t.Cleanup(e.Close)
		return e
	})
}

// TestClusterSpreadsInstances: instances of one engine land on every
// master, and two engines on the cluster share them.
func TestClusterSpreadsInstances(t *testing.T) {
	cc := startRedisCluster(t)
	prefix := freshPrefix()
	a := hotredis.New(cc, hotredis.WithPrefix(prefix))
	b := hotredis.New(cc, hotredis.WithPrefix(prefix))
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	slots := map[string]bool{}
	for i := range 30 {
		name := fmt.Sprintf("Room:%d", i)
		if err := a.Append(ctx(t), name, hotstate.Position{}, enginetest.Snap(t, name, 3, 0, i)); err != nil {
			t.Fatal(err)
		}
		master, err := cc.MasterForKey(ctx(t), "{"+prefix+":"+name+"}:m")
		if err != nil {
			t.Fatal(err)
		}
		slots[master.Options().Addr] = true
	}
	if len(slots) != 3 {
		t.Fatalf("30 instances on %d masters, want all 3", len(slots))
	}
	names, err := b.Names(ctx(t), "Room:")
	if err != nil || len(names) != 30 {
		t.Fatalf("the other engine lists %d instances (%v), want 30", len(names), err)
	}
	snap, _, err := b.Load(ctx(t), "Room:7")
	if err != nil || snap.Epoch != 3 {
		t.Fatalf("the other engine loads Room:7 at epoch %d (%v), want 3", snap.Epoch, err)
	}
}
