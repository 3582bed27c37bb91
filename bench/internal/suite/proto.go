package suite

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/centrifugal/protocol"
	"github.com/hotstate/hotstate/core/wire"
	"github.com/vmihailenco/msgpack/v5"
)

// client is one load-generator connection speaking one system's protocol
// over wsConn: hotstate's MessagePack frames (also what the raw server
// sends and echoes), or centrifuge's protobuf protocol.
type client struct {
	ws  *wsConn
	sys string
	// pong: the centrifuge server wants every ping answered.
	pong bool
	// args is the pre-encoded argument of the RPC this client repeats.
	args []byte
	buf  []byte
}

func wsPath(sys string) string {
	if sys == Centrifuge {
		return "/connection/websocket?cf_protocol=protobuf"
	}
	return "/"
}

// connect dials addr (over TLS configured by tc, unless nil), completes
// the system's handshake and, with sub, subscribes to the feed and waits
// for the server to confirm it.
func connect(ctx context.Context, sys, addr string, local *net.TCPAddr, tc *tls.Config, sub bool) (*client, error) {
	ws, err := dialWS(ctx, addr, wsPath(sys), local, tc)
	if err != nil {
		return nil, err
	}
	c := &client{ws: ws, sys: speaks(sys)}
	if dl, ok := ctx.Deadline(); ok {
		_ = ws.nc.SetReadDeadline(dl)
	}
	if err := c.join(sub); err != nil {
		ws.close()
		return nil, err
	}
	_ = ws.nc.SetReadDeadline(time.Time{})
	if c.args, err = encodeArgs(sys, EchoArgs{ID: 42, Text: "a call with a short text argument"}); err != nil {
		ws.close()
		return nil, err
	}
	return c, nil
}

func (c *client) join(sub bool) error {
	switch c.sys {
	case Hotstate, Raw:
		if err := c.expectType(wire.TypeHello); err != nil {
			return err
		}
		if !sub || c.sys == Raw {
			return nil
		}
		if err := c.ws.send(wire.EncodeSub(feedStore)); err != nil {
			return err
		}
		return c.expectType(wire.TypeSnap)
	case Centrifuge:
		r, err := c.centCommand(&protocol.Command{Id: 1, Connect: &protocol.ConnectRequest{}})
		if err != nil {
			return err
		}
		if r.Connect == nil {
			return errors.New("suite: centrifuge: no connect result")
		}
		c.pong = r.Connect.Pong
		if !sub {
			return nil
		}
		_, err = c.centCommand(&protocol.Command{Id: 2, Subscribe: &protocol.SubscribeRequest{Channel: feedChannel}})
		return err
	}
	return fmt.Errorf("suite: unknown system %q", c.sys)
}

// expectType reads one hotstate frame and checks its type.
func (c *client) expectType(t wire.Type) error {
	msg, err := c.ws.next()
	if err != nil {
		return err
	}
	f, err := wire.Decode(msg)
	if err != nil {
		return err
	}
	if f.Type != t {
		return fmt.Errorf("suite: got a %v frame, want %v", f.Type, t)
	}
	return nil
}

// centCommand sends a centrifuge command and waits for its reply.
func (c *client) centCommand(cmd *protocol.Command) (*protocol.Reply, error) {
	b, err := protocol.NewProtobufCommandEncoder().Encode(cmd)
	if err != nil {
		return nil, err
	}
	if err := c.ws.send(b); err != nil {
		return nil, err
	}
	for {
		msg, err := c.ws.next()
		if err != nil {
			return nil, err
		}
		d := protocol.NewProtobufReplyDecoder(msg)
		for {
			r, err := d.Decode()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			if r.Id == cmd.Id {
				if r.Error != nil {
					return nil, fmt.Errorf("suite: centrifuge error %d: %s", r.Error.Code, r.Error.Message)
				}
				return r, nil
			}
		}
	}
}

// encodeArgs encodes an RPC argument the way the system carries it:
// MessagePack inside hotstate frames, JSON inside centrifuge commands.
func encodeArgs(sys string, a EchoArgs) ([]byte, error) {
	if sys == Centrifuge {
		return json.Marshal(a)
	}
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	if err := wire.EncodeValue(enc, a); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// request builds the RPC request with call id: {t:3, i, n:"echo", a} for
// hotstate and the raw echo, an RPC command for centrifuge.
func (c *client) request(id uint32) ([]byte, error) {
	if c.sys == Centrifuge {
		return protocol.NewProtobufCommandEncoder().Encode(&protocol.Command{Id: id, Rpc: &protocol.RPCRequest{Method: echoFunc, Data: c.args}})
	}
	b := append(c.buf[:0], 0x84, 0xa1, 't', byte(wire.TypeRPC), 0xa1, 'i', 0xce)
	b = binary.BigEndian.AppendUint32(b, id)
	b = append(b, 0xa1, 'n', 0xa0|byte(len(echoFunc)))
	b = append(b, echoFunc...)
	b = append(b, 0xa1, 'a')
	b = append(b, c.args...)
	c.buf = b
	return b, nil
}

// answers reports whether msg is the answer to call id; it answers
// centrifuge pings on the way and fails on an error answer.
func (c *client) answers(msg []byte, id uint32) (bool, error) {
	switch c.sys {
	case Centrifuge:
		d := protocol.NewProtobufReplyDecoder(msg)
		found := false
		for {
			r, err := d.Decode()
			if err == io.EOF {
				return found, nil
			}
			if err != nil {
				return false, err
			}
			switch {
			case r.Id == id:
				if r.Error != nil {
					return false, fmt.Errorf("suite: centrifuge rpc error %d: %s", r.Error.Code, r.Error.Message)
				}
				found = true
			case r.Id == 0 && r.Push == nil && c.pong:
				if err := c.ws.send([]byte{0}); err != nil {
					return false, err
				}
			}
		}
	case Raw:
		// The echo of our own request.
		t, i, ok := frameHeader(msg)
		return ok && t == wire.TypeRPC && i == uint64(id), nil
	default:
		t, i, ok := frameHeader(msg)
		if !ok {
			f, err := wire.Decode(msg)
			if err != nil {
				return false, err
			}
			t, i = f.Type, f.ID
			if t == wire.TypeRes && f.Err != nil {
				return false, fmt.Errorf("suite: hotstate rpc error %s: %s", f.Err.Code, f.Err.Message)
			}
		}
		if t != wire.TypeRes || i != uint64(id) {
			return false, nil
		}
		// A failure carries "x" where a result carries "r"; the fast path
		// saw only t and i, so check the rest the slow way when it is not r.
		if k := keyAfterHeader(msg); k != 'r' {
			f, err := wire.Decode(msg)
			if err == nil && f.Err != nil {
				return false, fmt.Errorf("suite: hotstate rpc error %s: %s", f.Err.Code, f.Err.Message)
			}
		}
		return true, nil
	}
}

// centPings answers the centrifuge pings inside a fan-out message: empty
// replies among the length-prefixed ones.
func (c *client) centPings(msg []byte) error {
	if !c.pong {
		return nil
	}
	for len(msg) > 0 {
		n, k := binary.Uvarint(msg)
		if k <= 0 || n > uint64(len(msg)-k) {
			return nil
		}
		if n == 0 {
			if err := c.ws.send([]byte{0}); err != nil {
				return err
			}
		}
		msg = msg[k+int(n):]
	}
	return nil
}

// frameHeader reads the leading "t" and "i" keys the way hotstate's server
// writes them, without decoding the rest. ok is false for any other shape.
func frameHeader(b []byte) (t wire.Type, id uint64, ok bool) {
	if len(b) < 6 || b[0]&0xf0 != 0x80 || b[1] != 0xa1 || b[2] != 't' || b[3] > 0x7f {
		return 0, 0, false
	}
	t = wire.Type(b[3])
	if b[4] != 0xa1 || b[5] != 'i' {
		return t, 0, true
	}
	id, _, ok = readUint(b[6:])
	return t, id, ok
}

// keyAfterHeader returns the one-letter key after "t" and "i", or 0.
func keyAfterHeader(b []byte) byte {
	if len(b) < 7 {
		return 0
	}
	_, n, ok := readUint(b[6:])
	if !ok || len(b) < 6+n+2 || b[6+n] != 0xa1 {
		return 0
	}
	return b[6+n+1]
}

// readUint reads a MessagePack unsigned integer and its length.
func readUint(b []byte) (uint64, int, bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	switch c := b[0]; {
	case c <= 0x7f:
		return uint64(c), 1, true
	case c == 0xcc && len(b) >= 2:
		return uint64(b[1]), 2, true
	case c == 0xcd && len(b) >= 3:
		return uint64(binary.BigEndian.Uint16(b[1:])), 3, true
	case c == 0xce && len(b) >= 5:
		return uint64(binary.BigEndian.Uint32(b[1:])), 5, true
	case c == 0xcf && len(b) >= 9:
		return binary.BigEndian.Uint64(b[1:]), 9, true
	}
	return 0, 0, false
}
