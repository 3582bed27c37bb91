package hotinspect

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotstate "github.com/hotstate/hotstate/core"
)

// page holds the page: index.html and app.js, the bundle that
// client-js/scripts/build-inspector.mjs builds from web/main.ts and the
// hotstate JavaScript client.
//
//go:embed page/index.html page/app.js
var page embed.FS

// Handler registers the inspector's system stores and functions on srv and
// returns the handler that serves the page at "/" and its WebSocket at
// "/ws", relative to where it is mounted: strip the prefix it is mounted
// under (http.StripPrefix), and link to the prefix with a trailing slash.
// Every request must pass the Authorize rule, or gets 403.
//
// It panics when called for a second server, and when the server already
// has a store named "$inspect" or "$inspect.timeline".
func (i *Inspector) Handler(srv *hotstate.Server) http.Handler {
	i.attach(srv)
	body, csp := render()
	// The request passed Authorize before it gets here.
	ws := hothttp.Handler(srv, hothttp.WithIdentity(func(*http.Request) (any, error) { return watcher{}, nil }))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", csp)
		_, _ = w.Write(body)
	})
	mux.Handle("GET /ws", ws)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		// The page's address may carry a token.
		h.Set("Referrer-Policy", "no-referrer")
		if i.allow == nil || !i.allow(r) {
			http.Error(w, "hotinspect: forbidden", http.StatusForbidden)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// ErrForbidden is what Identity returns for a request Authorize refuses.
var ErrForbidden = errors.New("hotinspect: forbidden")

// Identity returns the identity of the page's connections when the
// request passes the Authorize rule, and ErrForbidden otherwise. It is for
// a transport that cannot serve the page's WebSocket through Handler,
// Fiber's: serve "/inspect/ws" with the Fiber adapter, whose identity hook
// converts the request and calls Identity (see the README), and the rest
// of "/inspect/" with Handler through Fiber's adaptor. A connection gets
// the system stores only with this identity.
func (i *Inspector) Identity(r *http.Request) (any, error) {
	if i.allow == nil || !i.allow(r) {
		return nil, ErrForbidden
	}
	return watcher{}, nil
}

// attach registers the system stores, the actions and the listeners that
// count the page's connections, once.
func (i *Inspector) attach(srv *hotstate.Server) {
	i.mu.Lock()
	defer i.mu.Unlock()
	switch i.srv {
	case srv:
		return
	case nil:
	default:
		panic("hotinspect: Handler called for a second server")
	}
	i.srv = srv
	i.overview = hotstate.NewStore(srv, overviewStore, overview{Stores: []storeRow{}, Sessions: []sessionRow{}, Presence: []presenceRow{}, Nodes: []nodeRow{}}).
		Allow(isWatcher)
	i.timeline = hotstate.NewStore(srv, timelineStore, timeline{Entries: []entry{}}).Allow(isWatcher)
	// The actions are registered either way, so that a page or a script
	// asking for one without AllowActions hears "forbidden", not that it
	// does not exist.
	act := hotstate.AllowCalls(func(c hotstate.Caller) bool { return i.actions && isWatcher(c) })
	hotstate.Handle(srv, "$inspect.reset", func(_ context.Context, name string) (bool, error) {
		h, err := instance(srv, name)
		if err != nil {
			return false, err
		}
		h.Reset()
		return true, nil
	}, act)
	hotstate.Handle(srv, "$inspect.delete", func(_ context.Context, name string) (bool, error) {
		h, err := instance(srv, name)
		if err != nil {
			return false, err
		}
		return h.Delete(), nil
	}, act)
	hotstate.Handle(srv, "$inspect.disconnect", func(_ context.Context, client string) (bool, error) {
		return srv.Disconnect(client), nil
	}, act)
	srv.OnConnect(i.watch)
	srv.OnDisconnect(i.unwatch)
	i.nodes.id = newNodeID()
	i.nodes.host, _ = os.Hostname()
	i.nodes.stop = srv.Engine().Listen(nodesChannel, i.heard)
}

// instance finds an application's store instance for an action.
func instance(srv *hotstate.Server, name string) (*hotstate.Instance, error) {
	if strings.HasPrefix(name, systemPrefix) || strings.HasPrefix(name, "presence:") {
		return nil, &hotstate.Error{Code: "bad_args", Message: "not an application's store"}
	}
	h, ok := srv.Lookup(name)
	if !ok {
		return nil, &hotstate.Error{Code: "not_found", Message: fmt.Sprintf("no store %q", name)}
	}
	return h, nil
}

// render puts the bundle into the page, so that one request brings it all,
// and returns the page with the Content-Security-Policy that admits only
// that script and the page's own WebSocket.
func render() (body []byte, csp string) {
	html, err := page.ReadFile("page/index.html")
	if err != nil {
		panic(err)
	}
	js, err := page.ReadFile("page/app.js")
	if err != nil {
		panic(err)
	}
	// A "</script" inside the bundle would end the element early; esbuild
	// escapes it in strings, and this keeps it so.
	js = bytes.ReplaceAll(js, []byte("</script"), []byte(`<\/script`))
	sum := sha256.Sum256(js)
	body = bytes.Replace(html, []byte("/*APP*/"), js, 1)
	csp = "default-src 'none'; script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return body, csp
}
