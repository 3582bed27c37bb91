package hototel_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotclient "github.com/hotstate/hotstate/client-go"
	hotstate "github.com/hotstate/hotstate/core"
	hototel "github.com/hotstate/hotstate/metrics/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wait bounds every wait; nothing should take nearly as long.
const wait = 10 * time.Second

type Todos struct {
	Items []string `json:"items"`
}

type Room struct {
	Messages []string `json:"messages"`
}

// app is a hotstate server recording into an in-memory OpenTelemetry
// reader, served on loopback at /ws.
type app struct {
	srv    *hotstate.Server
	http   *httptest.Server
	reader *sdkmetric.ManualReader
}

func newApp(t *testing.T) *app {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	m, err := hototel.New(mp)
	if err != nil {
		t.Fatal(err)
	}
	srv := hotstate.New(hotstate.WithObserver(m.Observer()))
	todos := hotstate.NewStore(srv, "Todos", Todos{Items: []string{}})
	hotstate.NewFamily(srv, "Room:*", Room{Messages: []string{}})
	hotstate.Handle(srv, "todos.add", func(ctx context.Context, text string) (bool, error) {
		return true, todos.Update(func(s *Todos) { s.Items = append(s.Items, text) })
	})
	hotstate.Handle(srv, "fail", func(ctx context.Context, _ any) (any, error) {
		return nil, &hotstate.Error{Code: "nope", Message: "not today"}
	})
	mux := http.NewServeMux()
	mux.Handle("/ws", hothttp.Handler(srv))
	a := &app{srv: srv, http: httptest.NewServer(mux), reader: reader}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		a.http.Close()
		if err := mp.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	return a
}

// collected is one collection, by instrument name.
type collected map[string]metricdata.Metrics

func (a *app) collect(t *testing.T) collected {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := a.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := collected{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != hototel.ScopeName {
			t.Errorf("instruments in scope %q, want %q", sm.Scope.Name, hototel.ScopeName)
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// value is the sum, or a histogram's count, of the points of name whose
// attributes include attrs.
func (c collected) value(name string, attrs ...attribute.KeyValue) float64 {
	matches := func(set attribute.Set) bool {
		for _, kv := range attrs {
			if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
				return false
			}
		}
		return true
	}
	var total float64
	switch d := c[name].Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			if matches(p.Attributes) {
				total += float64(p.Value)
			}
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			if matches(p.Attributes) {
				total += float64(p.Count)
			}
		}
	}
	return total
}

func is(want float64, name string, attrs ...attribute.KeyValue) func(collected) error {
	return func(c collected) error {
		if got := c.value(name, attrs...); got != want {
			return fmt.Errorf("%s%v = %v, want %v", name, attrs, got, want)
		}
		return nil
	}
}

// eventually collects until every check holds.
func (a *app) eventually(t *testing.T, checks ...func(collected) error) collected {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		c := a.collect(t)
		var failed error
		for _, check := range checks {
			if failed = check(c); failed != nil {
				break
			}
		}
		if failed == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatal(failed)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestInstrumentsFollowTraffic(t *testing.T) {
	a := newApp(t)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := hotclient.Dial(ctx, "ws"+strings.TrimPrefix(a.http.URL, "http")+"/ws", hotclient.WithReconnect(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	store := hototel.AttrStore
	for _, name := range []string{"Todos", "Room:general"} {
		if err := c.Subscribe(name, nil).Ready(ctx); err != nil {
			t.Fatal(err)
		}
	}
	before := a.eventually(t,
		is(1, "hotstate.connections"),
		is(1, "hotstate.subscriptions", store.String("Room:*")),
		is(1, "hotstate.subscriptions.started", store.String("Todos"), hototel.AttrStart.String("snapshot")),
		is(1, "hotstate.instances.created", store.String("Room:*")),
	)
	if err := c.Call(ctx, "todos.add", "milk", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Call(ctx, "fail", nil, nil); err == nil {
		t.Fatal("fail did not fail")
	}
	if err := c.Call(ctx, "nobody", nil, nil); err == nil {
		t.Fatal("an unknown function was called")
	}
	after := a.eventually(t,
		is(1, "hotstate.call.duration", hototel.AttrFunction.String("todos.add"), hototel.AttrCode.String("ok")),
		is(1, "hotstate.call.duration", hototel.AttrFunction.String("fail"), hototel.AttrCode.String("nope")),
		is(1, "hotstate.frames.refused", hototel.AttrCode.String("unknown_function")),
		is(before.value("hotstate.changes", store.String("Todos"))+1, "hotstate.changes", store.String("Todos")),
		is(0, "hotstate.outbound_queue.size"),
	)
	if sent := after.value("hotstate.broadcast.io", store.String("Todos")) - before.value("hotstate.broadcast.io", store.String("Todos")); sent <= 0 {
		t.Errorf("a change of Todos broadcast %v bytes", sent)
	}
	if n := after.value("hotstate.engine.append.duration"); n < 3 {
		t.Errorf("%v engine appends recorded, want at least 3", n)
	}
	units := map[string]string{"hotstate.call.duration": "s", "hotstate.broadcast.io": "By", "hotstate.connections": "{connection}"}
	for name, unit := range units {
		if got := after[name].Unit; got != unit {
			t.Errorf("%s has unit %q, want %q", name, got, unit)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	a.eventually(t,
		is(0, "hotstate.connections"),
		is(1, "hotstate.connections.closed", hototel.AttrCloseCode.String("peer")),
		is(0, "hotstate.subscriptions", store.String("Todos")),
	)
}
