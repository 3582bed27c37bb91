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
