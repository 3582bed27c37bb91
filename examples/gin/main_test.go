package main

import (
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/hotstatetest"
	"github.com/hotstate/hotstate/examples/app"
	"github.com/hotstate/hotstate/examples/app/apptest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	goleak.VerifyTestMain(m)
}

func TestRESTChangesReachSubscribers(t *testing.T) {
	srv := hotstate.New()
	hs := httptest.NewServer(NewRouter(srv, app.New(srv)))
	t.Cleanup(func() {
		hotstatetest.Shutdown(t, srv)
		hs.Close()
	})
	apptest.CheckTodoFlow(t, hs.URL)
}
