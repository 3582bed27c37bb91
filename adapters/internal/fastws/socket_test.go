package fastws

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// countingConn records each write that reaches the network.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes []int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, len(p))
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *countingConn) counted() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.writes)
}

// loopback returns a socket over one end of a TCP connection on loopback
// and the other end, for the test to read from (or not).
func loopback(t *testing.T) (*socket, *countingConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	// Accept before the listener closes, which would reset a connection
	// still waiting in its queue.
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	cc := &countingConn{Conn: nc}
	s := newSocket(cc)
	t.Cleanup(func() {
		s.finish()
		nc.Close()
		peer.Close()
	})
	return s, cc, peer
}

// frame is one frame as the peer parses it.
type frame struct {
	op      byte
	payload string
}

// readFrames parses n frames from r, checking that each is final and
// unmasked and that its length takes the shortest form.
func readFrames(r io.Reader, n int) ([]frame, error) {
	var frames []frame
	for range n {
		var h [2]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return frames, err
		}
		if h[0]&0xf0 != 0x80 || h[1]&0x80 != 0 {
			return frames, fmt.Errorf("frame %d: header %x, want final and unmasked", len(frames), h)
		}
		size := int(h[1])
		var ext []byte
		switch size {
		case 126:
			ext = make([]byte, 2)
		case 127:
			ext = make([]byte, 8)
		}
		if ext != nil {
			if _, err := io.ReadFull(r, ext); err != nil {
				return frames, err
			}
			size = int(binary.BigEndian.Uint64(append(make([]byte, 8-len(ext)), ext...)))
			if size <= 125 || (len(ext) == 8 && size <= 0xffff) {
				return frames, fmt.Errorf("frame %d: %d bytes in a %d-byte length", len(frames), size, len(ext))
			}
		}
		payload := make([]byte, size)
		if _, err := io.ReadFull(r, payload); err != nil {
			return frames, err
		}
		frames = append(frames, frame{h[0] & 0x0f, string(payload)})
	}
	return frames, nil
}

// receive reads n frames from r in the background, so that writes larger
// than the network's buffers can finish.
func receive(r io.Reader, n int) func(t *testing.T) []frame {
	type result struct {
		frames []frame
		err    error
	}
	done := make(chan result, 1)
	go func() {
		f, err := readFrames(r, n)
		done <- result{f, err}
	}()
	return func(t *testing.T) []frame {
		t.Helper()
		res := <-done
		if res.err != nil {
			t.Fatal(res.err)
		}
		return res.frames
	}
}

func TestFramesGoOutWholeAndInOrder(t *testing.T) {
	s, counted, peer := loopback(t)
	ctx := context.Background()
	sizes := []int{0, 1, 125, 126, 0xffff, 0x10000}
	got := receive(peer, len(sizes))
	var want []frame
	for i, n := range sizes {
		p := strings.Repeat(string(rune('a'+i)), n)
		want = append(want, frame{opBinary, p})
		if err := s.write(ctx, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(got(t), want) {
		t.Fatal("frames differ from what was written")
	}
	// A frame that fits the buffer with its header leaves in one write;
	// the last two do not fit and take two each.
	if w := counted.counted(); len(w) != len(sizes)+2 {
		t.Fatalf("writes = %v", w)
	}
}

func TestCorkGathersFramesIntoOneWrite(t *testing.T) {
	s, counted, peer := loopback(t)
	ctx := context.Background()
	want := []frame{{opBinary, "a1"}, {opBinary, "b22"}, {opBinary, "c333"}, {opPing, "7"}, {opBinary, "d4"}}
	got := receive(peer, len(want))
	if err := s.write(ctx, []byte("a1")); err != nil {
		t.Fatal(err)
	}
	s.cork()
	for _, p := range []string{"b22", "c333"} {
		if err := s.write(ctx, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	// A ping sent meanwhile joins the batch, in order.
	if err := s.ping(ctx, []byte("7")); err != nil {
		t.Fatal(err)
	}
	if w := counted.counted(); len(w) != 1 {
		t.Fatalf("corked frames reached the network: writes = %v", w)
	}
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.write(ctx, []byte("d4")); err != nil {
		t.Fatal(err)
	}
	if err := s.flush(); err != nil { // not corked: nothing to do
		t.Fatal(err)
	}
	if w, want := counted.counted(), []int{2 + 2, 2 + 3 + 2 + 4 + 2 + 1, 2 + 2}; !slices.Equal(w, want) {
		t.Errorf("writes = %v, want %v", w, want)
	}
	if got := got(t); !slices.Equal(got, want) {
		t.Errorf("received %q, want %q", got, want)
	}
}

func TestCorkSendsEarlyPastItsLimit(t *testing.T) {
	s, counted, peer := loopback(t)
	ctx := context.Background()
	big := strings.Repeat("x", corkLimit)
	want := []frame{{opBinary, "head"}, {opBinary, big}, {opBinary, "tail"}}
	got := receive(peer, len(want))
	s.cork()
	for _, f := range want {
		if err := s.write(ctx, []byte(f.payload)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
	if w := counted.counted(); !slices.Equal(w, []int{corkLimit, 2 + 4 + 10 + corkLimit + 2 + 4 - corkLimit}) {
		t.Errorf("writes = %v, want one full buffer and the rest", w)
	}
	if !slices.Equal(got(t), want) {
		t.Error("frames arrived out of order or cut")
	}
}

func TestCloseFrameLeavesAtOnceAndEndsWriting(t *testing.T) {
	s, _, peer := loopback(t)
	ctx := context.Background()
	want := []frame{{opBinary, "queued"}, {opClose, "\x0f\xa0slow consumer"}}
	got := receive(peer, len(want))
	s.cork()
	if err := s.write(ctx, []byte("queued")); err != nil {
		t.Fatal(err)
	}
	if !s.closeFrame(4000, "slow consumer", time.Second) {
		t.Fatal("close frame not sent")
	}
	if got := got(t); !slices.Equal(got, want) {
		t.Fatalf("received %q, want %q", got, want)
	}
	if err := s.write(ctx, []byte("late")); err == nil {
		t.Fatal("a data frame followed the close frame")
	}
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
	if !s.closeFrame(1000, "", time.Second) {
		t.Fatal("a second close reported the first as unsent")
	}
}

// TestCancelCutsAWriteStuckOnThePeer blocks a write on a peer that reads
// one byte and no more; ending the write context must free the writer,
// and the frame cut short must keep a close frame from following it.
func TestCancelCutsAWriteStuckOnThePeer(t *testing.T) {
	nc, peer := net.Pipe()
	defer peer.Close()
	defer nc.Close()
	s := newSocket(nc)
	defer s.finish()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.write(ctx, []byte("stuck")) }()
	if _, err := peer.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("the write succeeded")
	}
	if s.closeFrame(1000, "", time.Second) {
		t.Fatal("a close frame was sent after a frame cut short")
	}
}

func TestCancelBetweenWritesStillLetsTheCloseFrameOut(t *testing.T) {
	s, _, peer := loopback(t)
	ctx, cancel := context.WithCancel(context.Background())
	got := receive(peer, 2)
	if err := s.write(ctx, []byte("first")); err != nil {
		t.Fatal(err)
	}
	cancel()
	// The interrupt runs in a goroutine of its own; wait until it has.
	deadline := time.Now().Add(5 * time.Second)
	for !s.cut.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the write context's end did not cut writes")
		}
		time.Sleep(time.Millisecond)
	}
	if err := s.write(ctx, []byte("second")); !errors.Is(err, errWritesCut) && !errors.Is(err, context.Canceled) {
		t.Fatalf("write after cancel: %v", err)
	}
	if !s.closeFrame(4001, "heartbeat timeout", time.Second) {
		t.Fatal("close frame not sent")
	}
	if got := got(t); got[0].payload != "first" || got[1].op != opClose {
		t.Fatalf("received %q", got)
	}
}

func TestClosePayloadCutsALongReasonOnARune(t *testing.T) {
	p := closePayload(1000, strings.Repeat("é", 100))
	if len(p) > 125 || !utf8.Valid(p[2:]) || !strings.HasPrefix(string(p[2:]), "éé") {
		t.Fatalf("payload of %d bytes: %q", len(p), p)
	}
}
