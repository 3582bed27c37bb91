// Package apptest checks a running todo example from the outside, the way a
// user would with curl and a WebSocket client: the REST API answers, and a
// todo added over REST reaches a WebSocket subscriber as a patch.
package apptest

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	hotclient "github.com/hotstate/hotstate/client-go"
	"github.com/hotstate/hotstate/core/hotstatetest"
	"github.com/hotstate/hotstate/core/wire"
	"github.com/hotstate/hotstate/examples/app"
)

// CheckTodoFlow runs the check against the example serving base
// ("http://127.0.0.1:3000"), REST under /api and hotstate at /ws.
func CheckTodoFlow(t *testing.T, base string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()

	if status, body := request(t, client, http.MethodGet, base+"/api/health", ""); status != http.StatusOK || !reflect.DeepEqual(body, map[string]any{"ok": true}) {
		t.Fatalf("GET /api/health: %d %v", status, body)
	}

	wsURL := "ws" + strings.TrimPrefix(base, "http") + "/ws"
	p := hotstatetest.Dial(t, wsURL, nil)
	p.Send(wire.EncodeSub("Todos"))

	// The Go client, subscribed the way an application would be.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := hotclient.Dial(ctx, wsURL)
	if err != nil {
		t.Fatalf("hotclient.Dial: %v", err)
	}
	defer c.Close()
	milk := make(chan struct{}, 1)
	todos := hotclient.SubscribeAs(c, "Todos", func(s app.Todos) {
		for _, it := range s.Items {
			if it.Text == "Buy milk" {
				select {
				case milk <- struct{}{}:
				default:
				}
			}
		}
	})
	if err := todos.Ready(ctx); err != nil {
		t.Fatalf("Go client subscription: %v", err)
	}
	snap := expect(t, p, wire.TypeSnap)
	before := len(hotstatetest.Decode(t, snap.Value).(map[string]any)["items"].([]any))

	status, body := request(t, client, http.MethodPost, base+"/api/todos", `{"text":"Buy milk"}`)
	if status != http.StatusCreated {
		t.Fatalf("POST /api/todos: %d %v", status, body)
	}
	id := body.(map[string]any)["id"].(float64)

	patch := expect(t, p, wire.TypePatch)
	want := map[string]any{"id": int64(id), "text": "Buy milk", "done": false}
	if patch.Store != "Todos" || patch.Version != snap.Version+1 || len(patch.Ops) != 1 {
		t.Fatalf("patch %+v after snapshot version %d", patch, snap.Version)
	}
	if op := patch.Ops[0]; op.Op != wire.OpAdd || (op.Path != "/items/-" && op.Path != "/items/"+strconv.Itoa(before)) || !reflect.DeepEqual(op.Value, want) {
		t.Fatalf("patch op %+v, want add %v at the end", op, want)
	}

	select {
	case <-milk:
	case <-ctx.Done():
		t.Fatal("the Go client never saw the todo added over REST")
	}

	status, body = request(t, client, http.MethodGet, base+"/api/todos", "")
	items, _ := body.(map[string]any)["items"].([]any)
	if status != http.StatusOK || len(items) != before+1 || items[before].(map[string]any)["text"] != "Buy milk" {
		t.Fatalf("GET /api/todos: %d %v", status, body)
	}

	for _, bad := range []string{`{"text":"  "}`, `not json`} {
		if status, body := request(t, client, http.MethodPost, base+"/api/todos", bad); status != http.StatusBadRequest {
			t.Fatalf("POST %s: %d %v, want 400", bad, status, body)
		}
	}
}

func request(t *testing.T, client *http.Client, method, url, body string) (int, any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var v any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("%s %s: %d, body not JSON: %v", method, url, resp.StatusCode, err)
	}
	return resp.StatusCode, v
}

// expect returns the next frame of type typ, skipping the app's events
// (user.joined is broadcast to every client when one connects).
func expect(t *testing.T, p *hotstatetest.Peer, typ wire.Type) wire.Frame {
	t.Helper()
	for {
		f := p.Next()
		if f.Type == wire.TypeEvt {
			continue
		}
		if f.Type != typ {
			t.Fatalf("got %v frame %+v, want %v", f.Type, f, typ)
		}
		return f
	}
}
