package fastws

import (
	"errors"
	"sync"

	"github.com/hotstate/hotstate/adapters/internal/evconn"
	"github.com/hotstate/hotstate/core/wire"
)

// errNoDescriptor is what duplicate returns for a connection without a
// descriptor of its own.
var errNoDescriptor = errors.New("fastws: connection has no descriptor")

// appConns closes the event path's connections with 1001 when the
// fasthttp server they came from shuts down, as the goroutine path's
// connections are when the request's done channel closes. One goroutine
// per server watches its done channel, and only while any of its
// connections is open. Its zero value is ready.
type appConns struct {
	mu   sync.Mutex // guards apps
	apps map[<-chan struct{}]*app
}

// app is the open connections of one fasthttp server.
type app struct {
	conns map[*evconn.Conn]struct{}
	// quit is closed once the last connection is gone, which ends the
	// goroutine watching the server.
	quit chan struct{}
}

// watch closes c with 1001 when done closes. A nil done (a server not
// started by Serve, as in app.Test) never does.
func (a *appConns) watch(done <-chan struct{}, c *evconn.Conn) {
	if done == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.apps == nil {
		a.apps = map[<-chan struct{}]*app{}
	}
	p := a.apps[done]
	if p == nil {
		p = &app{conns: map[*evconn.Conn]struct{}{}, quit: make(chan struct{})}
		a.apps[done] = p
		go a.run(done, p)
	}
	p.conns[c] = struct{}{}
}

// forget drops c, whose socket is closed; it is the Conn's onEnd. watch
// has run by then: it is called before Serve, which starts what can end
// the connection.
func (a *appConns) forget(c *evconn.Conn) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for done, p := range a.apps {
		if _, ok := p.conns[c]; ok {
			delete(p.conns, c)
			if len(p.conns) == 0 {
				delete(a.apps, done)
				close(p.quit)
			}
			return
		}
	}
}

// run waits for the server behind done to shut down, then closes its
// connections; it returns early once they are all gone.
func (a *appConns) run(done <-chan struct{}, p *app) {
	select {
	case <-done:
	case <-p.quit:
		return
	}
	a.mu.Lock()
	conns := make([]*evconn.Conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	if a.apps[done] == p {
		delete(a.apps, done)
	}
	clear(p.conns)
	a.mu.Unlock()
	for _, c := range conns {
		_ = c.Close(wire.CloseGoingAway, "going away")
	}
}
