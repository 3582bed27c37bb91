package hotclient_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// Helpers of the fault and security tests: a server on loopback with any
// options, a raw protocol peer that sees every frame the server sends, a
// logger that catches panics, and memory and goroutine probes.

// serveOn serves srv on a fresh loopback listener with the transport
// options given and returns its address; it stops at cleanup, or earlier
// through the returned stop.
func serveOn(t testing.TB, srv *hotstate.Server, addr string, opts ...hothttp.ServerOption) (string, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hothttp.ServeListener(ctx, srv, ln, opts...)
	}()
	stop := sync.OnceFunc(func() {
		cancel()
		<-done
	})
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// panicLog is a slog handler that records every record and fails the test
// on one that reports a panic; handler panics the test provokes on purpose
// are expected by setting allow.
type panicLog struct {
	t testing.TB

	mu      sync.Mutex // guards allowed, panics, records
	allowed int
	panics  []string
	records []string
}

func newPanicLog(t testing.TB) *panicLog {
	p := &panicLog{t: t}
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if len(p.panics) > p.allowed {
			t.Errorf("%d panics logged, %d expected: %q", len(p.panics), p.allowed, p.panics)
		}
	})
	return p
}

func (p *panicLog) logger() *slog.Logger { return slog.New(p) }

// expect allows n more logged panics.
func (p *panicLog) expect(n int) {
	p.mu.Lock()
	p.allowed += n
	p.mu.Unlock()
}

// count returns how many panics were logged.
func (p *panicLog) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.panics)
}

// text returns every record logged, one a line.
func (p *panicLog) text() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.records, "\n")
}

func (p *panicLog) Enabled(context.Context, slog.Level) bool { return true }

func (p *panicLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	line := b.String()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.records = append(p.records, line)
	if strings.Contains(strings.ToLower(line), "panic") {
		p.panics = append(p.panics, line)
	}
	return nil
}

func (p *panicLog) WithAttrs([]slog.Attr) slog.Handler { return p }
func (p *panicLog) WithGroup(string) slog.Handler      { return p }

// rawPeer is a protocol client without any of hotclient's logic: it sends
// the bytes a test gives it and reports every frame the server sends, so a
// test sees exactly what arrived. A frame it cannot decode ends its reading
// with an error.
type rawPeer struct {
	t  testing.TB
	ws *websocket.Conn
	id string
	// frames receives every frame, unless dialRaw was given onFrame.
	frames chan wire.Frame // closed when the connection has ended
	done   chan struct{}   // closed when the reader has returned
	err    error           // why the connection ended; read after done
	stopCh chan struct{}   // closed by close
	once   sync.Once
}

// dialRaw opens a raw connection, reads the hello and starts reading.
// onFrame, when not nil, gets every later frame on the reader goroutine;
// otherwise they queue on frames. The connection closes at cleanup.
func dialRaw(t testing.TB, url string, header http.Header, onFrame func(wire.Frame)) *rawPeer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(1 << 24)
	typ, b, err := ws.Read(ctx)
	if err != nil {
		_ = ws.CloseNow()
		t.Fatalf("reading hello: %v", err)
	}
	hello, err := wire.DecodeDepth(b, wire.MaxStateDepth)
	if err != nil || typ != websocket.MessageBinary || hello.Type != wire.TypeHello {
		_ = ws.CloseNow()
		t.Fatalf("bad hello: %v %+v", err, hello)
	}
	p := &rawPeer{t: t, ws: ws, id: hello.Client, frames: make(chan wire.Frame, 4096), done: make(chan struct{}), stopCh: make(chan struct{})}
	go p.read(onFrame)
	t.Cleanup(p.close)
	return p
}

func (p *rawPeer) read(onFrame func(wire.Frame)) {
	defer close(p.done)
	defer close(p.frames)
	for {
		_, b, err := p.ws.Read(context.Background())
		if err != nil {
			p.err = err
			return
		}
		f, err := wire.DecodeDepth(b, wire.MaxStateDepth)
		if err != nil {
			p.err = fmt.Errorf("undecodable frame from the server: %w", err)
			return
		}
		if onFrame != nil {
			onFrame(f)
			continue
		}
		select {
		case p.frames <- f:
		case <-p.stopCh:
			return
		}
	}
}

// close cuts the connection and waits for the reader.
func (p *rawPeer) close() {
	p.once.Do(func() { close(p.stopCh) })
	_ = p.ws.CloseNow()
	<-p.done
}

// send writes one binary message; it reports the write error, which a
// test that provoked a close expects.
func (p *rawPeer) send(b []byte) error {
	return p.sendType(websocket.MessageBinary, b)
}

func (p *rawPeer) sendType(typ websocket.MessageType, b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return p.ws.Write(ctx, typ, b)
}

// mustSend writes one binary message and fails the test if it cannot.
func (p *rawPeer) mustSend(b []byte) {
	p.t.Helper()
	if err := p.send(b); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

// next returns the next frame, failing the test if the connection ends or
// nothing arrives in time.
func (p *rawPeer) next() wire.Frame {
	p.t.Helper()
	select {
	case f, ok := <-p.frames:
		if !ok {
			<-p.done
			p.t.Fatalf("connection ended: %v", p.err)
		}
		return f
	case <-time.After(wait):
		p.t.Fatal("no frame in time")
	}
	panic("unreachable")
}

// ended waits for the connection to end and returns why.
func (p *rawPeer) ended() error {
	p.t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case _, ok := <-p.frames:
			if !ok {
				<-p.done
				return p.err
			}
		case <-deadline:
			p.t.Fatal("the connection did not end in time")
		}
	}
}

// tree returns the generic tree a client holds for the server value v.
func tree(t testing.TB, v any) any {
	t.Helper()
	tr, err := wire.ToTree(v)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// heapInuse returns the heap in use after a full collection.
func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// settleGoroutines polls until at most limit goroutines run, and returns
// how many ran at the end.
func settleGoroutines(limit int, within time.Duration) int {
	deadline := time.Now().Add(within)
	for {
		n := runtime.NumGoroutine()
		if n <= limit || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// timed logs how long a test took, for the report of the fault suite.
func timed(t testing.TB) {
	start := time.Now()
	t.Cleanup(func() { t.Logf("took %v", time.Since(start).Round(time.Millisecond)) })
}
