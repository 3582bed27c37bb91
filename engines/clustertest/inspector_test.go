package clustertest

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestInspectorAcrossNodes: the inspector page on one node of three
// lists all three, itself marked, each with the round trip of its answer
// through the engine, and names the engine with the appends it timed.
func TestInspectorAcrossNodes(t *testing.T) {
	engines(t, func(t *testing.T, e *engineServer) {
		nodes := startNodes(t, e, 3)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		page := mustDial(t, ctx, "ws://"+nodes[0].addr+"/inspect/ws?token=t")
		overview := page.Subscribe("$inspect", nil)
		if err := overview.Ready(ctx); err != nil {
			t.Fatal(err)
		}
		app := mustDial(t, ctx, nodes[0].url())
		wantType := map[string]string{"redis": "*hotredis.Engine", "nats": "*hotnats.Engine"}[e.kind]
		eventually(t, 20*time.Second, func() error {
			// A change for the page to time, until it has one.
			if err := app.Call(ctx, "incr", map[string]any{"store": "Counter"}, nil); err != nil {
				return err
			}
			m, _ := overview.State().(map[string]any)
			eng, _ := m["engine"].(map[string]any)
			if eng["type"] != wantType || toInt(eng["appends"]) < 1 || millis(eng["avgMs"]) <= 0 {
				return fmt.Errorf("engine %v, want %s with its appends timed", eng, wantType)
			}
			nodes, _ := m["nodes"].([]any)
			self, answered := 0, 0
			for _, n := range nodes {
				n, _ := n.(map[string]any)
				if n["self"] == true {
					self++
				} else if millis(n["rttMs"]) > 0 {
					answered++
				}
			}
			if len(nodes) != 3 || self != 1 || answered != 2 {
				return fmt.Errorf("nodes %v, want 3 with this one marked and 2 round trips", nodes)
			}
			return nil
		})
	})
}

// millis reads a duration in milliseconds, which the inspector sends as a
// float.
func millis(v any) float64 {
	f, _ := v.(float64)
	return f
}
