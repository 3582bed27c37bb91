// Command nethttp serves the todo app with net/http: the REST API under
// /api and hotstate at /ws, on one port.
//
//	go run ./examples/nethttp -addr :3000
//	curl -X POST localhost:3000/api/todos -d '{"text":"Buy milk"}'
package main

import (
	"net/http"

	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/examples/app"
)

// NewHandler returns the example's routes: the REST API and /ws.
func NewHandler(srv *hotstate.Server, a *app.App) http.Handler {
	mux := http.NewServeMux()
	a.HandleREST(mux)
	mux.Handle("GET /ws", hothttp.Handler(srv))
	return mux
}

func main() {
	app.Main("net/http", func(srv *hotstate.Server, a *app.App) app.Server {
		return app.HTTPServer(NewHandler(srv, a))
	})
}
