package evconn

import (
	"bytes"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
)

// countingConn records each write that reaches the socket.
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

// loopback returns a socket over one end of a TCP connection on loopback
// and a reader of everything that arrives at the other end.
func loopback(t *testing.T) (*Socket, *countingConn, func() []byte) {
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
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(peer)
		peer.Close()
		got <- b
	}()
	cc := &countingConn{Conn: nc}
	return &Socket{Conn: cc}, cc, func() []byte { nc.Close(); return <-got }
}

func TestCorkGathersWritesIntoOne(t *testing.T) {
	c, counted, received := loopback(t)
	mustWrite(t, c, "a1")
	c.Cork()
	mustWrite(t, c, "b22")
	mustWrite(t, c, "c333")
	if n := len(counted.writes); n != 1 {
		t.Fatalf("corked writes reached the socket: %d writes", n)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, c, "d4")
	if err := c.Flush(); err != nil { // not corked: nothing to do
		t.Fatal(err)
	}
	if want := []int{2, 7, 2}; !slices.Equal(counted.writes, want) {
		t.Errorf("writes = %v, want %v", counted.writes, want)
	}
	if got := string(received()); got != "a1b22c333d4" {
		t.Errorf("received %q", got)
	}
}

func TestCorkSendsEarlyPastItsLimit(t *testing.T) {
	c, counted, received := loopback(t)
	big := bytes.Repeat([]byte("x"), corkLimit)
	c.Cork()
	mustWrite(t, c, "head")
	mustWrite(t, c, string(big))
	mustWrite(t, c, "tail")
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := []int{4, corkLimit, 4}; !slices.Equal(counted.writes, want) {
		t.Errorf("writes = %v, want %v", counted.writes, want)
	}
	want := "head" + string(big) + "tail"
	if got := string(received()); got != want {
		t.Errorf("received %d bytes, want %d in order", len(got), len(want))
	}
}

func TestCorkFlushReportsAFailedWriteAndUncorks(t *testing.T) {
	c, _, received := loopback(t)
	received() // closes our end
	c.Cork()
	mustWrite(t, c, "lost")
	if err := c.Flush(); err == nil {
		t.Fatal("flush on a closed socket succeeded")
	}
	if c.buf != nil {
		t.Fatal("still corked after a failed flush")
	}
	if _, err := c.Write([]byte("x")); err == nil {
		t.Fatal("write on a closed socket succeeded")
	}
}

func mustWrite(t *testing.T, c *Socket, s string) {
	t.Helper()
	if n, err := c.Write([]byte(s)); err != nil || n != len(s) {
		t.Fatalf("write of %d bytes: %d, %v", len(s), n, err)
	}
}
