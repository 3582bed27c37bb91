package hotstatetest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/hotstate/hotstate/core/wire"
)

// wait bounds every single wait of the suite: a frame, a close, a dial.
// Generous, because the suite runs under -race on small shared machines;
// nothing waits this long when the transport behaves.
const wait = 10 * time.Second

// Peer is a raw protocol client for tests: it writes frames and reads them
// one at a time, with a deadline on every read, so a test can assert
// exactly what the server sent and in which order.
type Peer struct {
	t  testing.TB
	ws *websocket.Conn
	// ID is the client id the server's hello carried.
	ID     string
	frames chan wire.Frame // closed when the connection has ended
	stop   chan struct{}   // closed when the test ends
	// err is why the connection ended; read it once frames is closed.
	err error
	// backlog holds frames Call read past while waiting for its res.
	backlog []wire.Frame
}

// Dial connects to url, reads the hello frame and returns the peer; the
// connection is closed when the test ends. header is sent with the
// handshake and may be nil.
func Dial(t testing.TB, url string, header http.Header) *Peer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	return Attach(t, ws)
}

// Attach starts reading an open connection, checks its hello frame and
// returns the peer; the connection is closed when the test ends.
func Attach(t testing.TB, ws *websocket.Conn) *Peer {
	t.Helper()
	ws.SetReadLimit(1 << 24)
	p := &Peer{t: t, ws: ws, frames: make(chan wire.Frame, 1024), stop: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.readLoop()
	}()
	t.Cleanup(func() {
		close(p.stop)
		_ = ws.CloseNow()
		<-done
	})
	hello := p.Expect(wire.TypeHello)
	if hello.Protocol != wire.ProtocolVersion || hello.Client == "" {
		t.Fatalf("bad hello %+v", hello)
	}
	p.ID = hello.Client
	return p
}

// Conn is the underlying WebSocket connection, for tests that write
// something no well-behaved client would.
func (p *Peer) Conn() *websocket.Conn { return p.ws }

func (p *Peer) readLoop() {
	defer close(p.frames)
	for {
		_, b, err := p.ws.Read(context.Background())
		if err == nil {
			var f wire.Frame
			if f, err = wire.Decode(b); err == nil {
				select {
				case p.frames <- f:
					continue
				case <-p.stop:
					return
				}
			}
		}
		p.err = err
		return
	}
}

// Send writes one binary message.
func (p *Peer) Send(b []byte) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := p.ws.Write(ctx, websocket.MessageBinary, b); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

// Next returns the next frame the server sent.
func (p *Peer) Next() wire.Frame {
	p.t.Helper()
	if len(p.backlog) > 0 {
		f := p.backlog[0]
		p.backlog = p.backlog[1:]
		return f
	}
	select {
	case f, ok := <-p.frames:
		if !ok {
			p.t.Fatalf("connection ended: %v", p.err)
		}
		return f
	case <-time.After(wait):
		p.t.Fatalf("no frame within %v", wait)
	}
	return wire.Frame{}
}

// Expect returns the next frame and fails the test unless it has type typ.
func (p *Peer) Expect(typ wire.Type) wire.Frame {
	p.t.Helper()
	f := p.Next()
	if f.Type != typ {
		p.t.Fatalf("got %v frame %+v, want %v", f.Type, f, typ)
	}
	return f
}

// Call sends an rpc frame and returns its res, keeping the frames that
// arrived before it for Next.
func (p *Peer) Call(id uint64, name string, args any) wire.Frame {
	p.t.Helper()
	b, err := wire.EncodeRPC(id, name, args)
	if err != nil {
		p.t.Fatal(err)
	}
	p.Send(b)
	var skipped []wire.Frame
	defer func() { p.backlog = append(p.backlog, skipped...) }()
	for {
		f := p.Next()
		if f.Type == wire.TypeRes && f.ID == id {
			return f
		}
		skipped = append(skipped, f)
	}
}

// CloseCode waits for the server to close the connection, skipping any
// frames still in flight, and returns the close code it sent (-1 when the
// connection ended without a close frame).
func (p *Peer) CloseCode() websocket.StatusCode {
	p.t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case _, ok := <-p.frames:
			if !ok {
				return websocket.CloseStatus(p.err)
			}
		case <-timeout:
			p.t.Fatalf("connection still open after %v", wait)
		}
	}
}

// Decode decodes an encoded value of a frame (snap data, res result, evt
// data) into a generic tree.
func Decode(t testing.TB, raw []byte) any {
	t.Helper()
	v, err := wire.DecodeAny(raw)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
