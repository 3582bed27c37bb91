package hotprom_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotclient "github.com/hotstate/hotstate/client-go"
	hotstate "github.com/hotstate/hotstate/core"
	hotprom "github.com/hotstate/hotstate/metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wait bounds every wait; nothing should take nearly as long.
const wait = 10 * time.Second

type Todo struct {
	ID   int64  `json:"id"`
	Text string `json:"text"`
}

type Todos struct {
	Items []Todo `json:"items"`
}

type Room struct {
	Messages []string `json:"messages"`
}

// app is a hotstate server with its metrics, served on loopback: the
// WebSocket at /ws and the metrics at /metrics, as an application would
// mount them.
type app struct {
	srv  *hotstate.Server
	http *httptest.Server
}

func newApp(t *testing.T) *app {
	t.Helper()
	m := hotprom.New()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	srv := hotstate.New(hotstate.WithObserver(m.Observer()))
	todos := hotstate.NewStore(srv, "Todos", Todos{Items: []Todo{}})
	rooms := hotstate.NewFamily(srv, "Room:*", Room{Messages: []string{}})
	hotstate.Handle(srv, "todos.add", func(ctx context.Context, a struct {
		Text string `json:"text"`
	}) (int64, error) {
		var id int64
		err := todos.Update(func(s *Todos) {
			id = int64(len(s.Items)) + 1
			s.Items = append(s.Items, Todo{ID: id, Text: a.Text})
		})
		return id, err
	})
	hotstate.Handle(srv, "rooms.post", func(ctx context.Context, a struct {
		Room string `json:"room"`
		Text string `json:"text"`
	}) (bool, error) {
		return true, rooms.Update(a.Room, func(r *Room) { r.Messages = append(r.Messages, a.Text) })
	})
	hotstate.Handle(srv, "fail", func(ctx context.Context, _ any) (any, error) {
		return nil, &hotstate.Error{Code: "nope", Message: "not today"}
	})

	mux := http.NewServeMux()
	mux.Handle("/ws", hothttp.Handler(srv))
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	a := &app{srv: srv, http: httptest.NewServer(mux)}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		a.http.Close()
	})
	return a
}

func (a *app) dial(t *testing.T) *hotclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := hotclient.Dial(ctx, "ws"+strings.TrimPrefix(a.http.URL, "http")+"/ws", hotclient.WithReconnect(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// scrape reads /metrics over HTTP, as Prometheus would.
func (a *app) scrape(t *testing.T) (scrape, string) {
	t.Helper()
	resp, err := a.http.Client().Get(a.http.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, body)
	}
	return fams, string(body)
}

type scrape map[string]*dto.MetricFamily

// value is the value of the series name{labels}, a histogram's count, or
// 0 when there is no such series. labels are name, value pairs.
func (s scrape) value(name string, labels ...string) float64 {
	f := s[name]
	if f == nil {
		return 0
	}
next:
	for _, m := range f.Metric {
		for i := 0; i < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

// eventually scrapes until every check holds, failing with the last
// scrape when they do not within the wait.
func (a *app) eventually(t *testing.T, checks ...func(scrape) error) scrape {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		s, body := a.scrape(t)
		var failed error
		for _, c := range checks {
			if err := c(s); err != nil {
				failed = err
				break
			}
		}
		if failed == nil {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v\n\n%s", failed, body)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// is checks that name{labels} equals want.
func is(want float64, name string, labels ...string) func(scrape) error {
	return func(s scrape) error {
		if got := s.value(name, labels...); got != want {
			return fmt.Errorf("%s%v = %v, want %v", name, labels, got, want)
		}
		return nil
	}
}

func TestMetricsFollowTraffic(t *testing.T) {
	a := newApp(t)
	a.eventually(t, is(0, "hotstate_connections"))

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c := a.dial(t)
	todos := c.Subscribe("Todos", nil)
	room := c.Subscribe("Room:general", nil)
	for _, s := range []*hotclient.Subscription{todos, room} {
		if err := s.Ready(ctx); err != nil {
			t.Fatal(err)
		}
	}
	before := a.eventually(t,
		is(1, "hotstate_connections"),
		is(1, "hotstate_connections_opened_total"),
		is(1, "hotstate_subscriptions", "store", "Todos"),
		is(1, "hotstate_subscriptions", "store", "Room:*"),
		is(1, "hotstate_snapshots_total", "store", "Todos"),
		is(1, "hotstate_instances_created_total", "store", "Todos"),
		is(1, "hotstate_instances_created_total", "store", "Room:*"),
	)

	var id int64
	if err := c.Call(ctx, "todos.add", map[string]string{"text": "milk"}, &id); err != nil {
		t.Fatal(err)
	}
	if err := c.Call(ctx, "rooms.post", map[string]string{"room": "general", "text": "hi"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Call(ctx, "fail", nil, nil); err == nil {
		t.Fatal("fail did not fail")
	}
	if err := c.Call(ctx, "nobody", nil, nil); err == nil {
		t.Fatal("an unknown function was called")
	}
	after := a.eventually(t,
		is(1, "hotstate_call_duration_seconds", "function", "todos.add", "code", "ok"),
		is(1, "hotstate_call_duration_seconds", "function", "fail", "code", "nope"),
		is(1, "hotstate_refused_frames_total", "code", "unknown_function"),
		is(before.value("hotstate_changes_total", "store", "Todos")+1, "hotstate_changes_total", "store", "Todos"),
		is(before.value("hotstate_changes_total", "store", "Room:*")+1, "hotstate_changes_total", "store", "Room:*"),
		is(0, "hotstate_outbound_queue_bytes"),
	)
	for _, store := range []string{"Todos", "Room:*"} {
		if sent := after.value("hotstate_broadcast_bytes_total", "store", store) - before.value("hotstate_broadcast_bytes_total", "store", store); sent <= 0 {
			t.Errorf("a change of %s broadcast %v bytes", store, sent)
		}
	}
	if n := after.value("hotstate_engine_append_seconds"); n < 4 { // two creations, two changes
		t.Errorf("%v engine appends observed, want at least 4", n)
	}
	_, body := a.scrape(t)
	if strings.Contains(body, "general") {
		t.Errorf("a family key became a label:\n%s", body)
	}

	room.Unsubscribe()
	a.eventually(t, is(0, "hotstate_subscriptions", "store", "Room:*"))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	a.eventually(t,
		is(0, "hotstate_connections"),
		is(1, "hotstate_connections_closed_total", "code", "peer"),
		is(0, "hotstate_subscriptions", "store", "Todos"),
		is(0, "hotstate_outbound_queue_bytes"),
	)
}

func TestShutdownIsCountedByItsCloseCode(t *testing.T) {
	a := newApp(t)
	c := a.dial(t)
	a.eventually(t, is(1, "hotstate_connections"))
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	a.eventually(t,
		is(0, "hotstate_connections"),
		is(1, "hotstate_connections_closed_total", "code", "1001"),
	)
	_ = c.Close()
}
