package main

import (
	"net"
	"testing"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/hotstatetest"
	"github.com/hotstate/hotstate/examples/app"
	"github.com/hotstate/hotstate/examples/app/apptest"
	"go.uber.org/goleak"
)

// fasthttp refreshes its Date header from a goroutine it starts once and
// never stops (see DateUpdater in adapters/internal/fastws/fastwstest).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"))
}

func TestRESTChangesReachSubscribers(t *testing.T) {
	srv := hotstate.New()
	f := NewApp(srv, app.New(srv))
	f.Server().MaxIdleWorkerDuration = 100 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- f.Listener(ln) }()
	t.Cleanup(func() {
		hotstatetest.Shutdown(t, srv)
		if err := f.ShutdownWithTimeout(5 * time.Second); err != nil {
			t.Error(err)
		}
		if err := <-errc; err != nil {
			t.Error(err)
		}
	})
	apptest.CheckTodoFlow(t, "http://"+ln.Addr().String())
}
