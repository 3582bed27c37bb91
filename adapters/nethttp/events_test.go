package hothttp_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/hotstatetest"
	"github.com/hotstate/hotstate/core/wire"
)

// serveRaw serves srv with Handler and opts on loopback and returns its
// address, for clients that speak the frames themselves.
func serveRaw(t testing.TB, srv *hotstate.Server, opts ...hothttp.Option) string {
	hs := httptest.NewServer(hothttp.Handler(srv, opts...))
	t.Cleanup(func() {
		hotstatetest.Shutdown(t, srv)
		hs.Close()
	})
	return hs.Listener.Addr().String()
}

// rawConn is a WebSocket client without a library: it writes the frames a
// test makes, however malformed, and reads the server's one at a time.
type rawConn struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("Sec-WebSocket-Accept %q", got)
	}
	return &rawConn{t: t, nc: nc, br: br}
}

// frame returns a client frame: first byte b0 (FIN, RSV, opcode), masked
// with a fixed key unless unmasked, with the length in its minimal form.
func frame(b0 byte, payload []byte, unmasked bool) []byte {
	mask := byte(0x80)
	if unmasked {
		mask = 0
	}
	b := []byte{b0}
	switch n := len(payload); {
	case n <= 125:
		b = append(b, mask|byte(n))
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, mask|126), uint16(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, mask|127), uint64(n))
	}
	if unmasked {
		return append(b, payload...)
	}
	key := [4]byte{0x11, 0x22, 0x33, 0x44}
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

func (c *rawConn) send(b ...[]byte) {
	c.t.Helper()
	for _, f := range b {
		if _, err := c.nc.Write(f); err != nil {
			c.t.Fatal(err)
		}
	}
}

// next reads the server's next frame.
func (c *rawConn) next() (op byte, payload []byte) {
	c.t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		c.t.Fatalf("reading a frame: %v", err)
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		io.ReadFull(c.br, l[:])
		n = int(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		io.ReadFull(c.br, l[:])
		n = int(binary.BigEndian.Uint64(l[:]))
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(c.br, payload); err != nil {
		c.t.Fatalf("reading a frame: %v", err)
	}
	return h[0] & 0x0f, payload
}

// closeCode reads frames until the server's close frame and returns its
// code.
func (c *rawConn) closeCode() int {
	c.t.Helper()
	for {
		op, p := c.next()
		if op == 0x8 {
			if len(p) < 2 {
				return 1005
			}
			return int(binary.BigEndian.Uint16(p))
		}
	}
}

// TestEventsCloseCodes: frames that break RFC 6455 or the protocol close
// the connection with the codes of docs/PROTOCOL.md, and the server's
// reply to a peer's close echoes its code.
func TestEventsCloseCodes(t *testing.T) {
	big := make([]byte, 600)
	for _, tc := range []struct {
		name   string
		frames [][]byte
		want   int
	}{
		{"text", [][]byte{frame(0x81, []byte("{}"), false)}, 1003},
		{"text not UTF-8", [][]byte{frame(0x81, []byte{0xff, 0xfe}, false)}, 1003},
		{"unmasked", [][]byte{frame(0x82, []byte{0xc0}, true)}, 1002},
		{"reserved bit", [][]byte{frame(0xc2, []byte{0xc0}, false)}, 1002},
		{"reserved opcode", [][]byte{frame(0x83, []byte{0xc0}, false)}, 1002},
		{"continuation first", [][]byte{frame(0x80, []byte{0xc0}, false)}, 1002},
		{"new message inside a fragmented one", [][]byte{frame(0x02, []byte{0x81}, false), frame(0x82, []byte{0xc0}, false)}, 1002},
		{"fragmented ping", [][]byte{frame(0x09, []byte("x"), false)}, 1002},
		{"ping over 125 bytes", [][]byte{frame(0x89, make([]byte, 126), false)}, 1002},
		{"oversize frame", [][]byte{frame(0x82, make([]byte, 2048), false)[:20]}, 1009},
		{"oversize fragments", [][]byte{frame(0x02, big, false), frame(0x80, big, false)}, 1009},
		{"close code 999", [][]byte{frame(0x88, []byte{0x03, 0xe7}, false)}, 1002},
		{"close reason not UTF-8", [][]byte{frame(0x88, []byte{0x03, 0xe8, 0xff}, false)}, 1007},
		{"peer closes with 4321", [][]byte{frame(0x88, []byte{0x10, 0xe1, 'b', 'y', 'e'}, false)}, 4321},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := hotstate.New(hotstate.WithMaxFrameBytes(1024))
			c := dialRaw(t, serveRaw(t, srv))
			c.send(tc.frames...)
			if got := c.closeCode(); got != tc.want {
				t.Fatalf("close code %d, want %d", got, tc.want)
			}
		})
	}
}

// TestEventsFragmentsAndControl: a message in fragments, with a ping
// between them, is one message; the ping is answered with its payload.
func TestEventsFragmentsAndControl(t *testing.T) {
	srv := hotstate.New()
	srv.HandleFunc("echo", func(ctx context.Context, args any) (any, error) { return args, nil })
	c := dialRaw(t, serveRaw(t, srv))
	if op, _ := c.next(); op != 0x2 {
		t.Fatalf("first frame opcode %#x, want the binary hello", op)
	}
	call, err := wire.EncodeRPC(7, "echo", "hi")
	if err != nil {
		t.Fatal(err)
	}
	c.send(frame(0x02, call[:3], false), frame(0x89, []byte("between"), false), frame(0x00, call[3:5], false), frame(0x80, call[5:], false))
	if op, p := c.next(); op != 0xa || string(p) != "between" {
		t.Fatalf("got opcode %#x %q, want the pong", op, p)
	}
	op, p := c.next()
	f, err := wire.Decode(p)
	if op != 0x2 || err != nil || f.Type != wire.TypeRes || f.ID != 7 {
		t.Fatalf("got opcode %#x %+v %v, want the call's result", op, f, err)
	}
	c.send(frame(0x88, []byte{0x03, 0xe8}, false))
	if code := c.closeCode(); code != 1000 {
		t.Fatalf("close code %d, want 1000", code)
	}
}

// TestEventsFloodDoesNotStarve: with one thread for Go code, a client
// that never stops sending does not keep the others from being served:
// each wake-up reads a bounded number of bytes, and whatever is left
// waits behind the other ready connections.
func TestEventsFloodDoesNotStarve(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	srv := hotstate.New()
	srv.HandleFunc("echo", func(ctx context.Context, args any) (any, error) { return args, nil })
	addr := serveRaw(t, srv)

	flood := dialRaw(t, addr)
	_ = flood.nc.SetDeadline(time.Time{})
	// Unsolicited pongs: the server reads and drops them, so the flood
	// costs it reading alone, as long as the flooder writes.
	var chunk []byte
	for len(chunk) < 64<<10 {
		chunk = append(chunk, frame(0x8a, make([]byte, 125), false)...)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := flood.nc.Write(chunk); err != nil {
				return
			}
		}
	})
	defer func() {
		close(stop)
		flood.nc.Close()
		wg.Wait()
	}()

	url := "ws://" + addr
	var peers sync.WaitGroup
	for i := range 20 {
		peers.Go(func() {
			p := hotstatetest.Dial(t, url, nil)
			for j := range 10 {
				want := fmt.Sprintf("%d/%d", i, j)
				if got := hotstatetest.Decode(t, p.Call(uint64(j+1), "echo", want).Value); got != want {
					t.Errorf("echo %v, want %s", got, want)
					return
				}
			}
		})
	}
	peers.Wait()
}

// TestEventsIdleKeepsNoGoroutine: subscribed connections that have gone
// quiet hold no goroutine on the event path, and one each on the other.
func TestEventsIdleKeepsNoGoroutine(t *testing.T) {
	const n = 50
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprintf("events=%v", on), func(t *testing.T) {
			srv := hotstate.New(hotstate.WithHeartbeat(0))
			hotstate.NewStore(srv, "Todos", map[string]int{})
			addr := serveRaw(t, srv, hothttp.WithEventLoop(on))
			base := runtime.NumGoroutine()
			for range n {
				c := dialRaw(t, addr)
				c.next() // hello
				c.send(frame(0x82, wire.EncodeSub("Todos"), false))
				if op, p := c.next(); op != 0x2 || !strings.Contains(string(p), "Todos") {
					t.Fatalf("got opcode %#x %q, want the snapshot", op, p)
				}
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				grown := runtime.NumGoroutine() - base
				if on && grown <= 2 || !on && grown >= n-5 {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d idle connections hold %d more goroutines", n, grown)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// wrappedListener hands out connections wrapped in a type of its own, as
// a listener that limits or counts connections does; the event path
// cannot poll them and reads them from a goroutine instead.
type wrappedListener struct{ net.Listener }

type wrappedConn struct{ net.Conn }

func (l wrappedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return wrappedConn{c}, nil
}

// TestEventsWrappedConn: a connection the poller cannot watch is still
// served, by a goroutine of its own, with the same frame reader.
func TestEventsWrappedConn(t *testing.T) {
	srv := hotstate.New()
	srv.HandleFunc("echo", func(ctx context.Context, args any) (any, error) { return args, nil })
	hs := httptest.NewUnstartedServer(hothttp.Handler(srv))
	hs.Listener = wrappedListener{hs.Listener}
	hs.Start()
	t.Cleanup(func() {
		hotstatetest.Shutdown(t, srv)
		hs.Close()
	})
	p := hotstatetest.Dial(t, "ws"+strings.TrimPrefix(hs.URL, "http"), nil)
	if got := hotstatetest.Decode(t, p.Call(1, "echo", "wrapped").Value); got != "wrapped" {
		t.Fatalf("echo %v", got)
	}
	c := dialRaw(t, hs.Listener.Addr().String())
	c.send(frame(0x81, []byte("{}"), false))
	if code := c.closeCode(); code != 1003 {
		t.Fatalf("close code %d, want 1003", code)
	}
}

// TestEventsPeerGone: a peer that hangs up without a close frame, and one
// that never answers the server's close frame, both end their sessions:
// the first at once, the second after the close wait, and Shutdown
// returns.
func TestEventsPeerGone(t *testing.T) {
	srv := hotstate.New()
	gone := make(chan string, 2)
	srv.OnDisconnect(func(c hotstate.Caller) { gone <- c.ID })
	addr := serveRaw(t, srv)

	hangup := dialRaw(t, addr)
	hangup.next() // hello
	hangup.nc.Close()
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Fatal("the session of a peer that hung up did not end")
	}

	silent := dialRaw(t, addr)
	silent.next() // hello
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with a peer that does not answer: %v", err)
	}
	if code := silent.closeCode(); code != 1001 {
		t.Fatalf("close code %d, want 1001", code)
	}
	select {
	case <-gone:
	default:
		t.Fatal("Shutdown returned before the silent peer's session ended")
	}
}
