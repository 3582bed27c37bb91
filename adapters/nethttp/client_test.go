package hothttp_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// wsURL serves srv over a loopback httptest server and returns its URL.
func wsURL(t *testing.T, srv *hotstate.Server, opts ...hothttp.Option) string {
	t.Helper()
	hs := httptest.NewServer(hothttp.Handler(srv, opts...))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http")
}

// peer is a raw protocol client: it writes frames and reads them one by
// one, with a deadline on every read.
type peer struct {
	t      *testing.T
	ws     *websocket.Conn
	id     string
	frames chan wire.Frame
	closed chan error
	// backlog holds frames call read past while waiting for its res.
	backlog []wire.Frame
}

func dial(t *testing.T, url string) *peer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	ws.SetReadLimit(1 << 24)
	p := &peer{t: t, ws: ws, frames: make(chan wire.Frame, 1024), closed: make(chan error, 1)}
	go p.readLoop()
	t.Cleanup(func() { _ = ws.CloseNow() })
	hello := p.expect(wire.TypeHello)
	if hello.Protocol != wire.ProtocolVersion || hello.Client == "" {
		t.Fatalf("bad hello %+v", hello)
	}
	p.id = hello.Client
	return p
}

func (p *peer) readLoop() {
	for {
		_, b, err := p.ws.Read(context.Background())
		if err != nil {
			p.closed <- err
			close(p.frames)
			return
		}
		f, err := wire.Decode(b)
		if err != nil {
			p.closed <- err
			close(p.frames)
			return
		}
		p.frames <- f
	}
}

func (p *peer) send(b []byte) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.ws.Write(ctx, websocket.MessageBinary, b); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

func (p *peer) next() wire.Frame {
	p.t.Helper()
	if len(p.backlog) > 0 {
		f := p.backlog[0]
		p.backlog = p.backlog[1:]
		return f
	}
	select {
	case f, ok := <-p.frames:
		if !ok {
			p.t.Fatalf("connection ended: %v", <-p.closed)
		}
		return f
	case <-time.After(5 * time.Second):
		p.t.Fatal("no frame within 5s")
	}
	return wire.Frame{}
}

func (p *peer) expect(t wire.Type) wire.Frame {
	p.t.Helper()
	f := p.next()
	if f.Type != t {
		p.t.Fatalf("got %v frame %+v, want %v", f.Type, f, t)
	}
	return f
}

// closeCode waits for the server to close the connection and returns the
// close status it sent.
func (p *peer) closeCode() websocket.StatusCode {
	p.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-p.frames:
			if !ok {
				return websocket.CloseStatus(<-p.closed)
			}
		case <-timeout:
			p.t.Fatal("connection still open after 10s")
		}
	}
}

func (p *peer) call(id uint64, name string, args any) wire.Frame {
	p.t.Helper()
	b, err := wire.EncodeRPC(id, name, args)
	if err != nil {
		p.t.Fatal(err)
	}
	p.send(b)
	var skipped []wire.Frame
	defer func() { p.backlog = append(p.backlog, skipped...) }()
	for {
		f := p.next()
		if f.Type == wire.TypeRes && f.ID == id {
			return f
		}
		skipped = append(skipped, f)
	}
}

func decode(t *testing.T, raw []byte) any {
	t.Helper()
	v, err := wire.DecodeAny(raw)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
