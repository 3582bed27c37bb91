package suite

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestIdleTiny runs -idle as the command does, with child processes: every
// system's clients connect, the server is killed and restarted, and every
// client comes back. It asserts nothing about the figures' values.
func TestIdleTiny(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := runIdle(ctx, tinyConfig(t), 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) > 0 {
		t.Fatal(rep.Errors)
	}
	if len(rep.Results) != len(Systems) {
		t.Fatalf("%d results for %d systems", len(rep.Results), len(Systems))
	}
	for _, r := range rep.Results {
		if r.Conns != 50 || r.Addrs != 3 || r.Idle == nil || r.Idle.RSSAfter == 0 || r.ReconnectSeconds <= 0 || r.RSSAfterReconnect == 0 {
			t.Errorf("%s: %+v", r.System, r)
		}
	}
	t.Log("\n" + rep.Text())
}

func TestIdleReportText(t *testing.T) {
	rep := &IdleScaleReport{
		Started: time.Date(2026, 12, 1, 5, 0, 0, 0, time.UTC), Transport: NetHTTP, PerAddr: 20000,
		Machine: Machine{CPU: "AMD EPYC", Cores: 2, MemoryGiB: 24, NoFile: 20000, PortRange: "32768-60999"},
		Sysctls: []string{"net.ipv4.tcp_max_orphans 131072 -> 204096 (until reboot)"},
		Results: []*IdleScaleResult{{
			System: Hotstate, Conns: 100000, Addrs: 5, ConnectSeconds: 12.34,
			Idle: &IdleResult{
				Conns: 100000, RSSAfter: 600 << 20, RSSPerConn: 5.25 * 1024, HeapPerConn: 4 * 1024,
				StackPerConn: 0, GoroutinesPerConn: 0, KernelPerConn: 0.5 * 1024, SlabPerConn: 6 * 1024,
			},
			SlabBytes: 6 * 1024 * 100000, ReconnectSeconds: 20, RestartSeconds: 0.25, FailedDials: 7,
		}},
		Errors: []string{"raw: it broke"},
	}
	got := rep.Text()
	for _, want := range []string{
		"hotbench idle at scale, 2026-12-01 05:00 UTC",
		"open files 20000; ports 32768-60999; 20000 connections per 127.0.0.x source address",
		"raised for this run: net.ipv4.tcp_max_orphans 131072 -> 204096 (until reboot)",
		"| hotstate | 100000 | 5.2 KiB | 4.0 KiB | 0.0 KiB | 0.0 | 0.5 KiB | 6.0 KiB | 600 MiB | 586 MiB | 12.3 s | 20.0 s | 5000 |",
		"0.25 s until the new server listened, 7 failed dials retried",
		"error: raw: it broke",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if (&IdleScaleResult{Conns: 10}).ReconnectPerSecond() != 0 {
		t.Error("a rate without a time")
	}
}

func TestSourceAddrs(t *testing.T) {
	for _, c := range []struct{ n, per, want int }{
		{100000, 20000, 5}, {100001, 20000, 6}, {50, 0, 1}, {50, 20, 3}, {1 << 30, 1000, 254},
	} {
		if got := sourceAddrs(c.n, c.per); got != c.want {
			t.Errorf("sourceAddrs(%d, %d) = %d, want %d", c.n, c.per, got, c.want)
		}
	}
}

// TestIdleTinyNodes spreads the run over three servers, each with its own
// load generator, and restarts all three.
func TestIdleTinyNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := tinyConfig(t)
	cfg.Systems, cfg.IdleNodes = []string{Hotstate}, 3
	rep, err := runIdle(ctx, cfg, 61)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) > 0 || len(rep.Results) != 1 {
		t.Fatal(rep.Errors, rep.Results)
	}
	r := rep.Results[0]
	if rep.Nodes != 3 || r.Nodes != 3 || r.Conns != 61 || r.Idle.Conns != 61 || r.ReconnectSeconds <= 0 || r.RSSAfterReconnect == 0 {
		t.Errorf("%+v %+v", r, r.Idle)
	}
	if !strings.Contains(rep.Text(), "3 server processes share the connections") {
		t.Error(rep.Text())
	}
}

func TestIdleNodes(t *testing.T) {
	for _, c := range []struct {
		n, asked int
		lim      uint64
		want     int
	}{
		{100000, 0, 20000, 6}, {19744, 0, 20000, 1}, {19745, 0, 20000, 2},
		{100000, 8, 20000, 8}, {100000, 0, 0, 1}, {100000, 2, 1 << 20, 2},
	} {
		if got, err := idleNodes(c.n, c.asked, c.lim); err != nil || got != c.want {
			t.Errorf("idleNodes(%d, %d, %d) = %d, %v; want %d", c.n, c.asked, c.lim, got, err, c.want)
		}
	}
	if _, err := idleNodes(100000, 5, 20000); err == nil || !strings.Contains(err.Error(), "use -nodes 6") {
		t.Errorf("5 nodes of 20 000 files for 100 000: %v", err)
	}
	sum := 0
	for j := range 6 {
		sum += share(100000, 6, j)
	}
	if sum != 100000 || share(100000, 6, 0) != 16667 || share(100000, 6, 5) != 16666 {
		t.Errorf("shares of 100 000 over 6 add up to %d", sum)
	}
}

func TestCombineIdle(t *testing.T) {
	part := func(conns int, rss, reconnect float64) *IdleScaleResult {
		return &IdleScaleResult{
			System: Hotstate, Conns: conns, Addrs: 2, ConnectSeconds: 1, ReconnectSeconds: reconnect, FailedDials: 3,
			RSSAfterReconnect: 100, SlabBytes: 10,
			Idle: &IdleResult{Conns: conns, RSSAfter: 50, RSSPerConn: rss, GoroutinesPerConn: 0},
		}
	}
	r := combineIdle([]*IdleScaleResult{part(100, 4096, 2), part(300, 8192, 3)})
	if r.Nodes != 2 || r.Conns != 400 || r.ConnectSeconds != 2 || r.ReconnectSeconds != 3 || r.FailedDials != 6 ||
		r.RSSAfterReconnect != 200 || r.SlabBytes != 20 || r.Idle.RSSAfter != 100 || r.Idle.RSSPerConn != 7168 {
		t.Errorf("%+v %+v", r, r.Idle)
	}
}

// TestIdleTinyTLS runs every system over TLS, through the restart.
func TestIdleTinyTLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := tinyConfig(t)
	cfg.TLS = true
	rep, err := runIdle(ctx, cfg, 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) > 0 || len(rep.Results) != len(Systems) {
		t.Fatal(rep.Errors, rep.Results)
	}
	for _, r := range rep.Results {
		if r.Conns != 20 || r.ReconnectSeconds <= 0 {
			t.Errorf("%s: %+v", r.System, r)
		}
	}
	if !strings.Contains(rep.Text(), "over TLS") {
		t.Error(rep.Text())
	}
}
