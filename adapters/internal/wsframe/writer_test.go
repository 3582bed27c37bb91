package wsframe_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hotstate/hotstate/adapters/internal/wsframe"
)

func TestAppendHeader(t *testing.T) {
	for _, c := range []struct {
		op   wsframe.Opcode
		n    int
		want []byte
	}{
		{wsframe.OpBinary, 0, []byte{0x82, 0}},
		{wsframe.OpBinary, 125, []byte{0x82, 125}},
		{wsframe.OpText, 126, []byte{0x81, 126, 0, 126}},
		{wsframe.OpBinary, 65535, []byte{0x82, 126, 0xff, 0xff}},
		{wsframe.OpBinary, 65536, []byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
		{wsframe.OpPing, 3, []byte{0x89, 3}},
		{wsframe.OpPong, 0, []byte{0x8a, 0}},
		{wsframe.OpClose, 2, []byte{0x88, 2}},
	} {
		if got := wsframe.AppendHeader([]byte("x"), c.op, c.n); !bytes.Equal(got, append([]byte("x"), c.want...)) {
			t.Errorf("AppendHeader(%d, %d) = %x, want x%x", c.op, c.n, got, c.want)
		}
	}
}

// asClient masks a frame the server wrote, as a client would send it, so
// that a Reader can read it back.
func asClient(frame []byte) []byte {
	head := 2
	switch frame[1] & 0x7f {
	case 126:
		head += 2
	case 127:
		head += 8
	}
	key := [4]byte{1, 2, 3, 4}
	out := append(bytes.Clone(frame[:head]), key[:]...)
	out[1] |= 0x80
	for i, c := range frame[head:] {
		out = append(out, c^key[i%4])
	}
	return out
}

// TestWriterRoundTrip reads back what the writer wrote.
func TestWriterRoundTrip(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 octets: the reason is cut
	var stream []byte
	for _, n := range []int{0, 1, 125, 126, 65535, 65536, 70000} {
		stream = append(stream, asClient(wsframe.AppendFrame(nil, wsframe.OpBinary, bytes.Repeat([]byte{byte(n)}, n)))...)
	}
	stream = append(stream, asClient(wsframe.AppendFrame(nil, wsframe.OpText, []byte(kosme)))...)
	stream = append(stream, asClient(wsframe.AppendFrame(nil, wsframe.OpPing, []byte("ping")))...)
	stream = append(stream, asClient(wsframe.AppendFrame(nil, wsframe.OpPong, []byte("pong")))...)
	stream = append(stream, asClient(wsframe.AppendClose(nil, 4001, long))...)
	events, err, _ := read(t, wsframe.NewReader(0), [][]byte{stream})
	if err != nil {
		t.Fatal(err)
	}
	var want []event
	for _, n := range []int{0, 1, 125, 126, 65535, 65536, 70000} {
		want = append(want, msgBinary(bytes.Repeat([]byte{byte(n)}, n)))
	}
	want = append(want, msgText(kosme), gotPing("ping"), gotPong("pong"), gotClose(4001, long[:122]))
	if !equalEvents(events, want) {
		t.Fatalf("read back\n\t%v\nwant\n\t%v", events, want)
	}
}

func TestAppendClose(t *testing.T) {
	if got := wsframe.AppendClose(nil, wsframe.CloseNoStatus, "ignored"); !bytes.Equal(got, []byte{0x88, 0}) {
		t.Errorf("1005: %x, want a close frame without payload", got)
	}
	got := wsframe.AppendClose(nil, wsframe.CloseTooBig, "message too big")
	if got[0] != 0x88 || int(got[1]) != len(got)-2 || binary.BigEndian.Uint16(got[2:]) != 1009 || string(got[4:]) != "message too big" {
		t.Errorf("1009: %x", got)
	}
	for _, reason := range []string{strings.Repeat("a", 200), strings.Repeat("é", 100), strings.Repeat("€", 50), "a" + strings.Repeat("😀", 40)} {
		f := wsframe.AppendClose(nil, 1000, reason)
		r := f[4:]
		if len(f)-2 > 125 || int(f[1]) != len(f)-2 || !utf8.Valid(r) || !strings.HasPrefix(reason, string(r)) || len(r) < 123-3 {
			t.Errorf("reason of %d octets cut to %q (frame of %d octets)", len(reason), r, len(f))
		}
	}
}

// TestIdleHoldsNothing: a Reader gives its buffer back once the message
// gathered in it is over and Next has returned no event; a control frame
// gathered in the middle of a fragmented message leaves the message's
// bytes alone.
func TestIdleHoldsNothing(t *testing.T) {
	msg := text(repeat("*", 3000))
	r := wsframe.NewReader(1 << 20)
	events, err, _ := read(t, r, chop(msg, 1000))
	if err != nil || len(events) != 1 {
		t.Fatalf("events %v, error %v", events, err)
	}
	if r.Buffered() != 0 {
		t.Fatalf("between messages the reader holds %d bytes", r.Buffered())
	}
	pingFrame := ping("in between")
	parts := [][]byte{frag(opBinary, "first,"), pingFrame[:5], pingFrame[5:], frag(fin|opCont, "second")}
	events, err, _ = read(t, r, parts)
	want := []event{gotPing("in between"), msgBinary([]byte("first,second"))}
	if err != nil || !equalEvents(events, want) {
		t.Fatalf("events %v, error %v; want %v", events, err, want)
	}
	if r.Buffered() != 0 {
		t.Fatalf("between messages the reader holds %d bytes", r.Buffered())
	}
}

// TestAnnouncedLength: a peer that announces a long frame and sends little
// of it has the reader hold about what it sent, not what it announced.
func TestAnnouncedLength(t *testing.T) {
	r := wsframe.NewReader(64 << 20)
	// A header announcing 32 MiB, then 100 octets.
	frame := append([]byte{fin | opBinary, 0x80 | 127, 0, 0, 0, 0, 0x02, 0, 0, 0, 1, 2, 3, 4}, make([]byte, 100)...)
	if _, err, _ := read(t, r, [][]byte{frame}); err != nil {
		t.Fatal(err)
	}
	if r.Buffered() > 4<<10 {
		t.Fatalf("100 octets of a 32 MiB frame: the reader holds %d bytes", r.Buffered())
	}
}

// TestAfterTheEnd: an error stays; what follows the close frame is
// discarded.
func TestAfterTheEnd(t *testing.T) {
	r := wsframe.NewReader(0)
	_, err, _ := read(t, r, [][]byte{text("\xff")})
	for range 2 {
		var werr *wsframe.Error
		if !errors.As(err, &werr) || werr.Code != wsframe.CloseInvalidPayload {
			t.Fatalf("error %v, want 1007", err)
		}
		_, _, err = r.Next(text("more"))
	}
	r = wsframe.NewReader(0)
	events, err, _ := read(t, r, [][]byte{closeFrame(1001, "bye")})
	if err != nil || !equalEvents(events, []event{gotClose(1001, "bye")}) {
		t.Fatalf("events %v, error %v", events, err)
	}
	if n, ev, err := r.Next(ping("")); n != len(ping("")) || ev.Op != 0 || err != nil {
		t.Fatalf("after close: %d, %v, %v; want the ping discarded", n, ev, err)
	}
}
