package evconntest

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/hotstate/hotstate/core/hotstatetest"
	"github.com/hotstate/hotstate/core/wire"
)

// RawConn is a WebSocket client without a library: it writes the frames a
// test makes, however malformed, and reads the server's one at a time.
type RawConn struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

// DialRaw completes a WebSocket handshake with the server at addr, path
// "/", over plain TCP, and checks its 101 response.
func DialRaw(t testing.TB, addr string) *RawConn {
	t.Helper()
	return target{}.dialRaw(t, addr)
}

// handshake completes a WebSocket handshake on nc with the server at
// addr, path "/", and checks its 101 response.
func handshake(t testing.TB, nc net.Conn, addr string) *RawConn {
	t.Helper()
	if _, err := nc.Write(upgradeRequest(addr)); err != nil {
		t.Fatal(err)
	}
	return upgraded(t, nc)
}

// upgradeRequest asks the server at addr to upgrade path "/" to a
// WebSocket.
func upgradeRequest(addr string) []byte {
	return []byte("GET / HTTP/1.1\r\nHost: " + addr + "\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
}

// upgraded reads the server's answer to upgradeRequest from nc and
// checks it is the 101 that accepts it.
func upgraded(t testing.TB, nc net.Conn) *RawConn {
	t.Helper()
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
	return &RawConn{t: t, nc: nc, br: br}
}

// Call calls fn with args and returns its result, decoded; frames before
// the result are skipped.
func (c *RawConn) Call(id uint64, fn string, args any) any {
	c.t.Helper()
	call, err := wire.EncodeRPC(id, fn, args)
	if err != nil {
		c.t.Fatal(err)
	}
	c.Send(Frame(0x82, call, false))
	for {
		op, p := c.Next()
		f, err := wire.Decode(p)
		if op != 0x2 || err != nil {
			c.t.Fatalf("waiting for result %d: opcode %#x, %v", id, op, err)
		}
		if f.Type == wire.TypeRes && f.ID == id {
			if f.Err != nil {
				c.t.Fatalf("result %d: %+v", id, f.Err)
			}
			return hotstatetest.Decode(c.t, f.Value)
		}
	}
}

// Frame returns a client frame: first byte b0 (FIN, RSV, opcode), masked
// with a fixed key unless unmasked, with the length in its minimal form.
func Frame(b0 byte, payload []byte, unmasked bool) []byte {
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

// Send writes frames made with Frame.
func (c *RawConn) Send(b ...[]byte) {
	c.t.Helper()
	for _, f := range b {
		if _, err := c.nc.Write(f); err != nil {
			c.t.Fatal(err)
		}
	}
}

// Next reads the server's next frame.
func (c *RawConn) Next() (op byte, payload []byte) {
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

// CloseCode reads frames until the server's close frame and returns its
// code.
func (c *RawConn) CloseCode() int {
	c.t.Helper()
	for {
		op, p := c.Next()
		if op == 0x8 {
			if len(p) < 2 {
				return 1005
			}
			return int(binary.BigEndian.Uint16(p))
		}
	}
}
