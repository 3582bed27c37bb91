package evconntest

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/hotstatetest"
	"github.com/hotstate/hotstate/core/wire"
)

// testCloseCodes: frames that break RFC 6455 or the protocol close
// the connection with the codes of docs/PROTOCOL.md, and the server's
// reply to a peer's close echoes its code.
func testCloseCodes(t *testing.T, tg target) {
	big := make([]byte, 600)
	for _, tc := range []struct {
		name   string
		frames [][]byte
		want   int
	}{
		{"text", [][]byte{Frame(0x81, []byte("{}"), false)}, 1003},
		{"text not UTF-8", [][]byte{Frame(0x81, []byte{0xff, 0xfe}, false)}, 1003},
		{"unmasked", [][]byte{Frame(0x82, []byte{0xc0}, true)}, 1002},
		{"reserved bit", [][]byte{Frame(0xc2, []byte{0xc0}, false)}, 1002},
		{"reserved opcode", [][]byte{Frame(0x83, []byte{0xc0}, false)}, 1002},
		{"continuation first", [][]byte{Frame(0x80, []byte{0xc0}, false)}, 1002},
		{"new message inside a fragmented one", [][]byte{Frame(0x02, []byte{0x81}, false), Frame(0x82, []byte{0xc0}, false)}, 1002},
		{"fragmented ping", [][]byte{Frame(0x09, []byte("x"), false)}, 1002},
		{"ping over 125 bytes", [][]byte{Frame(0x89, make([]byte, 126), false)}, 1002},
		{"oversize frame", [][]byte{Frame(0x82, make([]byte, 2048), false)[:20]}, 1009},
		{"oversize fragments", [][]byte{Frame(0x02, big, false), Frame(0x80, big, false)}, 1009},
		{"close code 999", [][]byte{Frame(0x88, []byte{0x03, 0xe7}, false)}, 1002},
		{"close reason not UTF-8", [][]byte{Frame(0x88, []byte{0x03, 0xe8, 0xff}, false)}, 1007},
		{"peer closes with 4321", [][]byte{Frame(0x88, []byte{0x10, 0xe1, 'b', 'y', 'e'}, false)}, 4321},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := hotstate.New(hotstate.WithMaxFrameBytes(1024))
			c := tg.dialRaw(t, tg.listen(t, srv, true))
			c.Send(tc.frames...)
			if got := c.CloseCode(); got != tc.want {
				t.Fatalf("close code %d, want %d", got, tc.want)
			}
		})
	}
}

// testFragmentsAndControl: a message in fragments, with a ping
// between them, is one message; the ping is answered with its payload.
func testFragmentsAndControl(t *testing.T, tg target) {
	srv := hotstate.New()
	srv.HandleFunc("echo", func(ctx context.Context, args any) (any, error) { return args, nil })
	c := tg.dialRaw(t, tg.listen(t, srv, true))
	if op, _ := c.Next(); op != 0x2 {
		t.Fatalf("first frame opcode %#x, want the binary hello", op)
	}
	call, err := wire.EncodeRPC(7, "echo", "hi")
	if err != nil {
		t.Fatal(err)
	}
	c.Send(Frame(0x02, call[:3], false), Frame(0x89, []byte("between"), false), Frame(0x00, call[3:5], false), Frame(0x80, call[5:], false))
	if op, p := c.Next(); op != 0xa || string(p) != "between" {
		t.Fatalf("got opcode %#x %q, want the pong", op, p)
	}
	op, p := c.Next()
	f, err := wire.Decode(p)
	if op != 0x2 || err != nil || f.Type != wire.TypeRes || f.ID != 7 {
		t.Fatalf("got opcode %#x %+v %v, want the call's result", op, f, err)
	}
	c.Send(Frame(0x88, []byte{0x03, 0xe8}, false))
	if code := c.CloseCode(); code != 1000 {
		t.Fatalf("close code %d, want 1000", code)
	}
}

// testFloodDoesNotStarve: with one thread for Go code, a client
// that never stops sending does not keep the others from being served:
// each wake-up reads a bounded number of bytes, and whatever is left
// waits behind the other ready connections.
func testFloodDoesNotStarve(t *testing.T, tg target) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	srv := hotstate.New()
	srv.HandleFunc("echo", func(ctx context.Context, args any) (any, error) { return args, nil })
	addr := tg.listen(t, srv, true)

	flood := tg.dialRaw(t, addr)
	_ = flood.nc.SetDeadline(time.Time{})
	// Unsolicited pongs: the server reads and drops them, so the flood
	// costs it reading alone, as long as the flooder writes.
	var chunk []byte
	for len(chunk) < 64<<10 {
		chunk = append(chunk, Frame(0x8a, make([]byte, 125), false)...)
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

	var peers sync.WaitGroup
	for i := range 20 {
		peers.Go(func() {
			p := tg.dialRaw(t, addr)
			p.Next() // hello
			for j := range 10 {
				want := fmt.Sprintf("%d/%d", i, j)
				if got := p.Call(uint64(j+1), "echo", want); got != want {
					t.Errorf("echo %v, want %s", got, want)
					return
				}
			}
		})
	}
	peers.Wait()
}

// testIdleKeepsNoGoroutine: subscribed connections that have gone
// quiet hold no goroutine on the event path, and one each on the other.
func testIdleKeepsNoGoroutine(t *testing.T, tg target) {
	const n = 50
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprintf("events=%v", on), func(t *testing.T) {
			srv := hotstate.New(hotstate.WithHeartbeat(0))
			hotstate.NewStore(srv, "Todos", map[string]int{})
			addr := tg.listen(t, srv, on)
			subscribe := func() {
				c := tg.dialRaw(t, addr)
				c.Next() // hello
				c.Send(Frame(0x82, wire.EncodeSub("Todos"), false))
				if op, p := c.Next(); op != 0x2 || !strings.Contains(string(p), "Todos") {
					t.Fatalf("got opcode %#x %q, want the snapshot", op, p)
				}
			}
			// The first connection starts what the transport keeps for
			// all of them (the poller's goroutine, the server's own),
			// which is not counted.
			subscribe()
			base := runtime.NumGoroutine()
			for range n {
				subscribe()
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

// testWrappedConn: a connection the poller cannot watch is still
// served, by a goroutine of its own, with the same frame reader.
func testWrappedConn(t *testing.T, tg target) {
	srv := hotstate.New()
	srv.HandleFunc("echo", func(ctx context.Context, args any) (any, error) { return args, nil })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	tg.serve(t, srv, wrappedListener{ln}, true)
	p := hotstatetest.Dial(t, "ws://"+addr+"/", nil)
	if got := hotstatetest.Decode(t, p.Call(1, "echo", "wrapped").Value); got != "wrapped" {
		t.Fatalf("echo %v", got)
	}
	c := tg.dialRaw(t, addr)
	c.Send(Frame(0x81, []byte("{}"), false))
	if code := c.CloseCode(); code != 1003 {
		t.Fatalf("close code %d, want 1003", code)
	}
}

// testPeerGone: a peer that hangs up without a close frame, and one
// that never answers the server's close frame, both end their sessions:
// the first at once, the second after the close wait, and Shutdown
// returns.
func testPeerGone(t *testing.T, tg target) {
	srv := hotstate.New()
	gone := make(chan string, 2)
	srv.OnDisconnect(func(c hotstate.Caller) { gone <- c.ID })
	addr := tg.listen(t, srv, true)

	hangup := tg.dialRaw(t, addr)
	hangup.Next() // hello
	hangup.nc.Close()
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Fatal("the session of a peer that hung up did not end")
	}

	silent := tg.dialRaw(t, addr)
	silent.Next() // hello
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with a peer that does not answer: %v", err)
	}
	if code := silent.CloseCode(); code != 1001 {
		t.Fatalf("close code %d, want 1001", code)
	}
	select {
	case <-gone:
	default:
		t.Fatal("Shutdown returned before the silent peer's session ended")
	}
}

// testFramesSentWithTheHandshake: a client may send frames right behind
// its upgrade request, without waiting for the 101; net/http has read
// them into its buffer by the time of the hijack, and the connection must
// still see them.
func testFramesSentWithTheHandshake(t *testing.T, tg target, events bool) {
	srv := hotstate.New()
	addr := tg.listen(t, srv, events)
	nc := tg.dial(t, addr)

	// The upgrade request and two pings (RFC 6455 section 5.5.2) in one
	// write.
	msg := upgradeRequest(addr)
	for _, payload := range []string{"first", "second"} {
		msg = append(msg, Frame(0x89, []byte(payload), false)...)
	}
	if _, err := nc.Write(msg); err != nil {
		t.Fatal(err)
	}
	c := upgraded(t, nc)
	var pongs []string
	for len(pongs) < 2 {
		if op, p := c.Next(); op == 0xa {
			pongs = append(pongs, string(p))
		}
	}
	if pongs[0] != "first" || pongs[1] != "second" {
		t.Fatalf("pongs %q, want first, second", pongs)
	}
}

// testStuckWriteEnds: a write stuck on a peer that stopped reading ends
// when the server gives up on the peer (here its write timeout, with a
// queue too large to overflow first), and so does the session.
func testStuckWriteEnds(t *testing.T, tg target) {
	srv := hotstate.New(hotstate.WithHeartbeat(0), hotstate.WithMaxQueueBytes(1<<30), hotstate.WithWriteTimeout(200*time.Millisecond))
	store := hotstate.NewStore(srv, "Blob", map[string]string{})
	gone := make(chan struct{})
	srv.OnDisconnect(func(hotstate.Caller) { close(gone) })
	c := tg.dialRaw(t, tg.listen(t, srv, true))
	c.Next() // hello
	c.Send(Frame(0x82, wire.EncodeSub("Blob"), false))
	// Never read again; send snapshots until the socket's buffers are
	// full and a write waits on the peer.
	blob := strings.Repeat("x", 256<<10)
	deadline := time.After(20 * time.Second)
	for i := 0; ; i++ {
		if err := store.Set(map[string]string{"v": fmt.Sprint(i, blob)}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-gone:
			return
		case <-deadline:
			t.Fatal("the session of a peer that stopped reading did not end")
		case <-time.After(10 * time.Millisecond): // the next snapshot
		}
	}
}

// testSlowMessageWhileLingering: bytes that arrive while a connection
// lingers after a call, more than its small linger buffer, with a message
// among them that takes the server longer than the linger to handle, are
// read on to the end; the linger's deadline must not fail the reads after
// it.
func testSlowMessageWhileLingering(t *testing.T, tg target) {
	srv := hotstate.New()
	srv.HandleFunc("echo", func(ctx context.Context, args any) (any, error) { return args, nil })
	hotstate.NewStore(srv, "Slow", map[string]int{}).Allow(func(hotstate.Caller) bool {
		time.Sleep(50 * time.Millisecond)
		return true
	})
	c := tg.dialRaw(t, tg.listen(t, srv, true))
	c.Next() // hello
	if got := c.Call(1, "echo", "first"); got != "first" {
		t.Fatalf("echo %v", got)
	}
	// At once, while the server lingers after the call: the slow
	// subscription, then a call that goes on past the linger's buffer.
	long := strings.Repeat("x", 2048)
	call, err := wire.EncodeRPC(2, "echo", long)
	if err != nil {
		t.Fatal(err)
	}
	c.Send(append(Frame(0x82, wire.EncodeSub("Slow"), false), Frame(0x82, call, false)...))
	for {
		op, p := c.Next()
		f, err := wire.Decode(p)
		if op != 0x2 || err != nil {
			t.Fatalf("opcode %#x, %v", op, err)
		}
		if f.Type == wire.TypeRes && f.ID == 2 {
			if got := hotstatetest.Decode(t, f.Value); got != long {
				t.Fatalf("echo of %d bytes: %d bytes back", len(long), len(fmt.Sprint(got)))
			}
			return
		}
	}
}
