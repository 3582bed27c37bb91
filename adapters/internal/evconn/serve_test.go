package evconn

import (
	"context"
	"net"
	"testing"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
)

// TestHangUpBeforeServe: a peer that resets the connection before it is
// served makes the kernel report the hang-up as soon as the socket is
// registered, before it is armed; that wake-up must not start a second
// reader beside the one Serve starts (the race detector watches), and the
// session ends once.
func TestHangUpBeforeServe(t *testing.T) {
	srv := hotstate.New()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for range 50 {
		peer, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		nc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		_ = peer.(*net.TCPConn).SetLinger(0)
		peer.Close() // a reset
		ended := make(chan struct{})
		c := New(nc, nil, hotstate.ConnInfo{RemoteAddr: nc.RemoteAddr().String()}, func(*Conn) { close(ended) })
		c.Serve(srv)
		select {
		case <-ended:
		case <-time.After(10 * time.Second):
			t.Fatal("a connection reset before it was served did not end")
		}
	}
}
