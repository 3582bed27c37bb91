package main

import (
	"net/http/httptest"
	"testing"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/hotstatetest"
	"github.com/hotstate/hotstate/examples/app"
	"github.com/hotstate/hotstate/examples/app/apptest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRESTChangesReachSubscribers(t *testing.T) {
	srv := hotstate.New()
	hs := httptest.NewServer(NewEcho(srv, app.New(srv)))
	t.Cleanup(func() {
		hotstatetest.Shutdown(t, srv)
		hs.Close()
	})
	apptest.CheckTodoFlow(t, hs.URL)
}
