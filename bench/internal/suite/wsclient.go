package suite

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"time"
)

// WebSocket opcodes (RFC 6455, section 5.2).
const (
	opContinuation = 0x0
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

// ipBindAddressNoPort is Linux's IP_BIND_ADDRESS_NO_PORT socket option.
const ipBindAddressNoPort = 24

// maxMessage bounds what the load generator accepts from a server.
const maxMessage = 1 << 20

// errClosed reports that the server closed the connection.
var errClosed = errors.New("suite: connection closed by server")

// wsConn is a minimal RFC 6455 client, the same for all three systems so the
// load generator costs each of them alike. Tens of thousands of them share
// one core, so it reads through one buffered reader, reuses one message
// buffer and allocates nothing per message.
type wsConn struct {
	nc  net.Conn
	br  *bufio.Reader
	msg []byte // the message being returned; reused by the next read

	wmu  sync.Mutex // guards wbuf, seed and writes to nc
	wbuf []byte
	seed uint32 // xorshift state for mask keys
}

// dialWS opens a WebSocket to addr (host:port) at path, from local when it
// is not nil, over TLS configured by tc when it is not nil.
func dialWS(ctx context.Context, addr, path string, local *net.TCPAddr, tc *tls.Config) (*wsConn, error) {
	d := net.Dialer{}
	if local != nil {
		d.LocalAddr = local
		// Choose the port at connect time, as without a local address, so
		// ports are shared across destinations instead of reserved at bind.
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
			}); err != nil {
				return err
			}
			return serr
		}
	}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	if tc != nil {
		host, _, _ := net.SplitHostPort(addr)
		tc = tc.Clone()
		tc.ServerName = host
		t := tls.Client(nc, tc)
		if err := t.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("suite: TLS handshake: %w", err)
		}
		nc = t
	}
	var k [16]byte
	_, _ = rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		nc.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(nc, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("suite: handshake: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		nc.Close()
		return nil, fmt.Errorf("suite: handshake: status %s", resp.Status)
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		nc.Close()
		return nil, errors.New("suite: handshake: bad Sec-WebSocket-Accept")
	}
	_ = nc.SetDeadline(time.Time{})
	return &wsConn{nc: nc, br: br, seed: binary.LittleEndian.Uint32(k[:]) | 1}, nil
}

// next returns the next data message, answering pings on the way. The
// slice is valid until the next call.
func (c *wsConn) next() ([]byte, error) {
	c.msg = c.msg[:0]
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(c.br, hdr[:2]); err != nil {
			return nil, err
		}
		fin, op := hdr[0]&0x80 != 0, hdr[0]&0x0f
		masked := hdr[1]&0x80 != 0
		n := uint64(hdr[1] & 0x7f)
		switch n {
		case 126:
			if _, err := io.ReadFull(c.br, hdr[:2]); err != nil {
				return nil, err
			}
			n = uint64(binary.BigEndian.Uint16(hdr[:2]))
		case 127:
			if _, err := io.ReadFull(c.br, hdr[:8]); err != nil {
				return nil, err
			}
			n = binary.BigEndian.Uint64(hdr[:8])
		}
		if n > maxMessage || uint64(len(c.msg))+n > maxMessage {
			return nil, fmt.Errorf("suite: message of %d bytes", n)
		}
		var mask [4]byte
		if masked {
			if _, err := io.ReadFull(c.br, mask[:]); err != nil {
				return nil, err
			}
		}
		start := len(c.msg)
		c.msg = slices.Grow(c.msg, int(n))[:start+int(n)]
		if _, err := io.ReadFull(c.br, c.msg[start:]); err != nil {
			return nil, err
		}
		if masked {
			for i := range c.msg[start:] {
				c.msg[start+i] ^= mask[i&3]
			}
		}
		switch op {
		case opPing:
			payload := append([]byte(nil), c.msg[start:]...)
			c.msg = c.msg[:start]
			if err := c.write(opPong, payload); err != nil {
				return nil, err
			}
			continue
		case opPong:
			c.msg = c.msg[:start]
			continue
		case opClose:
			code := c.msg[start:]
			if len(code) > 2 {
				code = code[:2]
			}
			_ = c.write(opClose, append([]byte(nil), code...))
			if len(code) == 2 {
				return nil, fmt.Errorf("%w: code %d %q", errClosed, binary.BigEndian.Uint16(code), c.msg[start+2:])
			}
			return nil, errClosed
		}
		if fin {
			return c.msg, nil
		}
	}
}

// write sends one masked frame.
func (c *wsConn) write(op byte, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := append(c.wbuf[:0], 0x80|op)
	switch n := len(p); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n < 1<<16:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	c.seed ^= c.seed << 13
	c.seed ^= c.seed >> 17
	c.seed ^= c.seed << 5
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], c.seed)
	b = append(b, mask[:]...)
	start := len(b)
	b = append(b, p...)
	for i := range b[start:] {
		b[start+i] ^= mask[i&3]
	}
	c.wbuf = b
	_, err := c.nc.Write(b)
	return err
}

// send sends one binary message.
func (c *wsConn) send(p []byte) error { return c.write(opBinary, p) }

func (c *wsConn) close() error { return c.nc.Close() }
