package wsframe_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hotstate/hotstate/adapters/internal/wsframe"
)

// abCase is a case of the Autobahn WebSocket test suite, as far as it
// concerns a server's reader: the bytes the suite's client sends and what
// the server must make of them. The suite itself cannot run here; these
// are written from its published case descriptions and RFC 6455.
type abCase struct {
	id   string
	desc string
	// parts are the bytes as the suite sends them: one per frame, or the
	// chops it cuts them into.
	parts [][]byte
	// want are the events the reader returns, in order.
	want []event
	// fail is the close code the reader fails with, 0 if it does not. A
	// case whose events end with a close expects nothing after it.
	fail int
	// failOn, when not 0, is the part (counting from 1) whose arrival must
	// fail the reader when the parts arrive one by one: the suite's
	// fail-fast cases.
	failOn int
	// limit is the reader's message limit; 0 for 16 MiB.
	limit int
	// big cases are not fed octet by octet.
	big bool
}

// chunkings are the ways every case is fed: the bytes at once, as the
// suite sends them (frame-wise or in its chops), octet by octet, and in
// chunks of sizes that cut headers and payloads anywhere.
var chunkings = []struct {
	name  string
	big   bool // also for big cases
	chunk func(parts [][]byte) [][]byte
}{
	{"whole", true, func(parts [][]byte) [][]byte { return [][]byte{bytes.Join(parts, nil)} }},
	{"parts", true, func(parts [][]byte) [][]byte { return parts }},
	{"64KiB", false, func(parts [][]byte) [][]byte { return chop(bytes.Join(parts, nil), 64<<10) }},
	{"octets", false, func(parts [][]byte) [][]byte { return chop(bytes.Join(parts, nil), 1) }},
	{"3", false, func(parts [][]byte) [][]byte { return chop(bytes.Join(parts, nil), 3) }},
	{"7", false, func(parts [][]byte) [][]byte { return chop(bytes.Join(parts, nil), 7) }},
	{"997", false, func(parts [][]byte) [][]byte { return chop(bytes.Join(parts, nil), 997) }},
}

func TestAutobahn(t *testing.T) {
	cases := append(autobahnCases(), bigCases()...)
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.id] {
			t.Fatalf("case %s twice", c.id)
		}
		seen[c.id] = true
		t.Run(c.id, func(t *testing.T) {
			if c.big {
				if testing.Short() {
					t.Skip("big")
				}
				t.Parallel()
			}
			for _, ch := range chunkings {
				if c.big && !ch.big {
					continue
				}
				checkCase(t, c, ch.name, ch.chunk(c.parts))
			}
		})
	}
	t.Logf("%d cases", len(cases))
}

func checkCase(t *testing.T, c abCase, chunking string, chunks [][]byte) {
	t.Helper()
	limit := c.limit
	if limit == 0 {
		limit = 16 << 20
	}
	r := wsframe.NewReader(limit)
	events, err, at := read(t, r, chunks)
	if !equalEvents(events, c.want) {
		t.Errorf("%s (%s): events\n\t%v\nwant\n\t%v", c.desc, chunking, events, c.want)
	}
	var werr *wsframe.Error
	switch {
	case c.fail != 0:
		if !errors.As(err, &werr) || werr.Code != c.fail {
			t.Errorf("%s (%s): error %v, want close code %d", c.desc, chunking, err, c.fail)
		} else if c.failOn != 0 && chunking == "parts" && at != c.failOn-1 {
			t.Errorf("%s (%s): failed on part %d, want %d", c.desc, chunking, at+1, c.failOn)
		}
	case err != nil:
		t.Errorf("%s (%s): error %v", c.desc, chunking, err)
	default:
		closed := len(events) > 0 && events[len(events)-1].op == wsframe.OpClose
		if !closed && r.Buffered() != 0 {
			t.Errorf("%s (%s): the reader holds %d bytes between messages", c.desc, chunking, r.Buffered())
		}
	}
}

func equalEvents(a, b []event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func repeat(s string, n int) string { return strings.Repeat(s, n/len(s)+1)[:n] }

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// The payloads the suite uses again and again.
const (
	hello   = "Hello, world!"
	kosme   = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5" // κόσμε
	utf8Msg = "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!"
)

var binaryPayload = []byte{0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff}

func autobahnCases() []abCase {
	var cs []abCase
	cs = append(cs, framingCases()...)
	cs = append(cs, pingCases()...)
	cs = append(cs, reservedBitCases()...)
	cs = append(cs, opcodeCases()...)
	cs = append(cs, fragmentationCases()...)
	cs = append(cs, utf8Cases()...)
	cs = append(cs, closeCases()...)
	cs = append(cs, readerCases()...)
	return cs
}

// Section 1: framing, text and binary messages of lengths around the
// boundaries of the length forms.
func framingCases() []abCase {
	var cs []abCase
	lengths := []int{0, 125, 126, 127, 128, 65535, 65536}
	for i, n := range lengths {
		p := repeat("*", n)
		cs = append(cs, abCase{
			id: fmt.Sprintf("1.1.%d", i+1), desc: fmt.Sprintf("text message with payload of length %d", n),
			parts: [][]byte{text(p)}, want: []event{msgText(p)},
		})
		b := bytes.Repeat([]byte{0xfe}, n)
		cs = append(cs, abCase{
			id: fmt.Sprintf("1.2.%d", i+1), desc: fmt.Sprintf("binary message with payload of length %d", n),
			parts: [][]byte{binaryMsg(b)}, want: []event{msgBinary(b)},
		})
	}
	p := repeat("*", 65536)
	b := bytes.Repeat([]byte{0xfe}, 65536)
	cs = append(cs,
		abCase{id: "1.1.8", desc: "text message of length 65536 sent in chops of 997 octets",
			parts: chop(text(p), 997), want: []event{msgText(p)}},
		abCase{id: "1.2.8", desc: "binary message of length 65536 sent in chops of 997 octets",
			parts: chop(binaryMsg(b), 997), want: []event{msgBinary(b)}},
		// Section 10, miscellaneous.
		abCase{id: "10.1.1", desc: "text message of 65536 octets in fragments of 1300",
			parts: fragments(opText, []byte(p), 1300), want: []event{msgText(p)}},
	)
	return cs
}

// Section 2: pings and pongs.
func pingCases() []abCase {
	p125 := string(bytes.Repeat([]byte{0xfe}, 125))
	p126 := string(bytes.Repeat([]byte{0xfe}, 126))
	var tenPings [][]byte
	var tenEvents []event
	for i := range 10 {
		s := fmt.Sprintf("payload-%d", i)
		tenPings = append(tenPings, ping(s))
		tenEvents = append(tenEvents, gotPing(s))
	}
	return []abCase{
		{id: "2.1", desc: "ping without payload", parts: [][]byte{ping("")}, want: []event{gotPing("")}},
		{id: "2.2", desc: "ping with small text payload", parts: [][]byte{ping(hello)}, want: []event{gotPing(hello)}},
		{id: "2.3", desc: "ping with small binary (non UTF-8) payload", parts: [][]byte{ping(string(binaryPayload))},
			want: []event{gotPing(string(binaryPayload))}},
		{id: "2.4", desc: "ping with binary payload of 125 octets", parts: [][]byte{ping(p125)}, want: []event{gotPing(p125)}},
		{id: "2.5", desc: "ping with binary payload of 126 octets", parts: [][]byte{ping(p126)}, fail: 1002, failOn: 1},
		{id: "2.6", desc: "ping with binary payload of 125 octets, sent in octet-wise chops",
			parts: octets(ping(p125)), want: []event{gotPing(p125)}},
		{id: "2.7", desc: "unsolicited pong without payload", parts: [][]byte{pong("")}, want: []event{gotPong("")}},
		{id: "2.8", desc: "unsolicited pong with payload", parts: [][]byte{pong("unsolicited pong payload")},
			want: []event{gotPong("unsolicited pong payload")}},
		{id: "2.9", desc: "unsolicited pong with payload, then ping with payload",
			parts: [][]byte{pong("unsolicited pong payload"), ping("ping payload")},
			want:  []event{gotPong("unsolicited pong payload"), gotPing("ping payload")}},
		{id: "2.10", desc: "10 pings", parts: tenPings, want: tenEvents},
		{id: "2.11", desc: "10 pings, sent in octet-wise chops", parts: octets(tenPings...), want: tenEvents},
	}
}

// Section 3: reserved bits, which no negotiated extension defines.
func reservedBitCases() []abCase {
	second := func(b0 byte) [][]byte {
		return [][]byte{text(hello), clientFrame(b0, []byte(hello)), ping("")}
	}
	return []abCase{
		{id: "3.1", desc: "small text message with RSV = 1", parts: [][]byte{clientFrame(fin|rsv3|opText, []byte(hello))},
			fail: 1002, failOn: 1},
		{id: "3.2", desc: "small text message, then again with RSV = 2, then ping",
			parts: second(fin | rsv2 | opText), want: []event{msgText(hello)}, fail: 1002, failOn: 2},
		{id: "3.3", desc: "small text message, then again with RSV = 3, then ping, frame-wise",
			parts: second(fin | rsv2 | rsv3 | opText), want: []event{msgText(hello)}, fail: 1002, failOn: 2},
		{id: "3.4", desc: "small text message, then again with RSV = 4, then ping, octet-wise",
			parts: octets(second(fin | rsv1 | opText)...), want: []event{msgText(hello)}, fail: 1002,
			failOn: len(text(hello)) + 2},
		{id: "3.5", desc: "small binary message with RSV = 5", parts: [][]byte{clientFrame(fin|rsv1|rsv3|opBinary, binaryPayload)},
			fail: 1002, failOn: 1},
		{id: "3.6", desc: "ping with RSV = 6", parts: [][]byte{clientFrame(fin|rsv1|rsv2|opPing, []byte(hello))},
			fail: 1002, failOn: 1},
		{id: "3.7", desc: "close with RSV = 7", parts: [][]byte{clientFrame(fin|rsv1|rsv2|rsv3|opClose, []byte{0x03, 0xe8})},
			fail: 1002, failOn: 1},
	}
}

// Section 4: reserved opcodes, non-control (4.1) and control (4.2).
func opcodeCases() []abCase {
	var cs []abCase
	for j, ops := range [][5]byte{{3, 4, 5, 6, 7}, {11, 12, 13, 14, 15}} {
		for i, op := range ops {
			id := fmt.Sprintf("4.%d.%d", j+1, i+1)
			var payload []byte
			if i == 1 || i >= 3 {
				payload = []byte("reserved opcode payload")
			}
			bad := clientFrame(fin|op, payload)
			if i < 2 {
				cs = append(cs, abCase{id: id, desc: fmt.Sprintf("frame with reserved opcode %d", op),
					parts: [][]byte{bad}, fail: 1002, failOn: 1})
				continue
			}
			cs = append(cs, abCase{id: id, desc: fmt.Sprintf("small text message, then frame with reserved opcode %d, then ping", op),
				parts: [][]byte{text(hello), bad, ping("")}, want: []event{msgText(hello)}, fail: 1002, failOn: 2})
		}
	}
	return cs
}

// Section 5: fragmentation.
func fragmentationCases() []abCase {
	twoFragments := [][]byte{frag(opText, "fragment1"), frag(fin|opCont, "fragment2")}
	withPing := [][]byte{frag(opText, "fragment1"), ping("ping payload"), frag(fin|opCont, "fragment2")}
	whole := msgText("fragment1fragment2")
	nothingToContinue := func(b0 byte) [][]byte {
		return [][]byte{frag(b0, "non-continuation payload"), text(hello)}
	}
	repeated := func(b0 byte) [][]byte {
		once := [][]byte{frag(b0, "fragment1"), frag(opText, "fragment2"), frag(fin|opCont, "fragment3")}
		return append(once, once...)
	}
	five := [][]byte{
		frag(opText, "fragment1"), frag(opCont, "fragment2"), ping("pongme 1!"),
		frag(opCont, "fragment3"), frag(opCont, "fragment4"), ping("pongme 2!"), frag(fin|opCont, "fragment5"),
	}
	fiveEvents := []event{gotPing("pongme 1!"), gotPing("pongme 2!"), msgText("fragment1fragment2fragment3fragment4fragment5")}
	return []abCase{
		{id: "5.1", desc: "ping in 2 fragments", parts: [][]byte{frag(opPing, "fragment1"), frag(fin|opCont, "fragment2")},
			fail: 1002, failOn: 1},
		{id: "5.2", desc: "pong in 2 fragments", parts: [][]byte{frag(opPong, "fragment1"), frag(fin|opCont, "fragment2")},
			fail: 1002, failOn: 1},
		{id: "5.3", desc: "text message in 2 fragments", parts: [][]byte{bytes.Join(twoFragments, nil)}, want: []event{whole}},
		{id: "5.4", desc: "text message in 2 fragments, frame-wise", parts: twoFragments, want: []event{whole}},
		{id: "5.5", desc: "text message in 2 fragments, octet-wise", parts: octets(twoFragments...), want: []event{whole}},
		{id: "5.6", desc: "text message in 2 fragments, a ping in between", parts: [][]byte{bytes.Join(withPing, nil)},
			want: []event{gotPing("ping payload"), whole}},
		{id: "5.7", desc: "text message in 2 fragments, a ping in between, frame-wise", parts: withPing,
			want: []event{gotPing("ping payload"), whole}},
		{id: "5.8", desc: "text message in 2 fragments, a ping in between, octet-wise", parts: octets(withPing...),
			want: []event{gotPing("ping payload"), whole}},
		{id: "5.9", desc: "text message after a final continuation frame with nothing to continue",
			parts: [][]byte{bytes.Join(nothingToContinue(fin|opCont), nil)}, fail: 1002, failOn: 1},
		{id: "5.10", desc: "as 5.9, frame-wise", parts: nothingToContinue(fin | opCont), fail: 1002, failOn: 1},
		{id: "5.11", desc: "as 5.9, octet-wise", parts: octets(nothingToContinue(fin | opCont)...), fail: 1002, failOn: 2},
		{id: "5.12", desc: "text message after a non-final continuation frame with nothing to continue",
			parts: [][]byte{bytes.Join(nothingToContinue(opCont), nil)}, fail: 1002, failOn: 1},
		{id: "5.13", desc: "as 5.12, frame-wise", parts: nothingToContinue(opCont), fail: 1002, failOn: 1},
		{id: "5.14", desc: "as 5.12, octet-wise", parts: octets(nothingToContinue(opCont)...), fail: 1002, failOn: 2},
		{id: "5.15", desc: "text message in 2 fragments, then a continuation frame with nothing to continue, then a text message",
			parts: [][]byte{frag(opText, "fragment1"), frag(fin|opCont, "fragment2"), frag(opCont, "fragment3"), text("fragment4")},
			want:  []event{whole}, fail: 1002, failOn: 3},
		{id: "5.16", desc: "twice: continuation frame (not final) with nothing to continue, then a text message in 2 fragments",
			parts: repeated(opCont), fail: 1002, failOn: 1},
		{id: "5.17", desc: "twice: continuation frame (final) with nothing to continue, then a text message in 2 fragments",
			parts: repeated(fin | opCont), fail: 1002, failOn: 1},
		{id: "5.18", desc: "text message in 2 fragments, both with the text opcode",
			parts: [][]byte{frag(opText, "fragment1"), frag(fin|opText, "fragment2")}, fail: 1002, failOn: 2},
		{id: "5.19", desc: "text message in 5 fragments, 2 pings in between", parts: [][]byte{bytes.Join(five, nil)}, want: fiveEvents},
		{id: "5.20", desc: "as 5.19, frame-wise", parts: five, want: fiveEvents},
	}
}

// Section 6: UTF-8 handling.
func utf8Cases() []abCase {
	oneByteFragments := func(s string) [][]byte {
		var frames [][]byte
		for i := range len(s) {
			b0 := byte(opCont)
			if i == 0 {
				b0 = opText
			}
			if i == len(s)-1 {
				b0 |= fin
			}
			frames = append(frames, frag(b0, s[i:i+1]))
		}
		return frames
	}
	mid := strings.IndexRune(utf8Msg, 'ä') // a code point boundary
	invalid := kosme + "\xed\xa0\x80" + "edited"
	// 6.4: κόσμε, then 0x110000 encoded as UTF-8 would encode it, which is
	// past Unicode, then "edited".
	failFast := kosme + "\xf4\x90\x80\x80" + "edited"
	failFastFrame := text(failFast)
	head := len(failFastFrame) - len(failFast) // its header's length
	cs := []abCase{
		{id: "6.1.1", desc: "text message of length 0", parts: [][]byte{text("")}, want: []event{msgText("")}},
		{id: "6.1.2", desc: "text message in 3 fragments of length 0",
			parts: [][]byte{frag(opText, ""), frag(opCont, ""), frag(fin|opCont, "")}, want: []event{msgText("")}},
		{id: "6.1.3", desc: "text message in 3 fragments, the first and last of length 0",
			parts: [][]byte{frag(opText, ""), frag(opCont, "middle frame payload"), frag(fin|opCont, "")},
			want:  []event{msgText("middle frame payload")}},
		{id: "6.2.1", desc: "valid UTF-8 text message in one fragment", parts: [][]byte{text(utf8Msg)}, want: []event{msgText(utf8Msg)}},
		{id: "6.2.2", desc: "valid UTF-8 text message in 2 fragments, cut on a code point boundary",
			parts: [][]byte{frag(opText, utf8Msg[:mid]), frag(fin|opCont, utf8Msg[mid:])}, want: []event{msgText(utf8Msg)}},
		{id: "6.2.3", desc: "valid UTF-8 text message in fragments of 1 octet", parts: oneByteFragments(utf8Msg),
			want: []event{msgText(utf8Msg)}},
		{id: "6.2.4", desc: "valid UTF-8 text message (κόσμε) in fragments of 1 octet", parts: oneByteFragments(kosme),
			want: []event{msgText(kosme)}},
		{id: "6.3.1", desc: "invalid UTF-8 text message in one fragment", parts: [][]byte{text(invalid)}, fail: 1007, failOn: 1},
		{id: "6.3.2", desc: "invalid UTF-8 text message in fragments of 1 octet", parts: oneByteFragments(invalid),
			fail: 1007, failOn: len(kosme) + 2}, // the surrogate's second octet
		{id: "6.4.1", desc: "invalid UTF-8 text message in 3 frames, the second making it invalid (fail fast)",
			parts: [][]byte{frag(opText, kosme), frag(opCont, "\xf4\x90\x80\x80"), frag(fin|opCont, "edited")},
			fail:  1007, failOn: 2},
		{id: "6.4.2", desc: "as 6.4.1, the second frame up to the octet making it invalid (fail fast)",
			parts: [][]byte{frag(opText, kosme+"\xf4"), frag(opCont, "\x90"), frag(fin|opCont, "\x80\x80edited")},
			fail:  1007, failOn: 2},
		{id: "6.4.3", desc: "as 6.4.1, in 3 chops of one frame (fail fast)",
			parts: [][]byte{
				failFastFrame[:head+len(kosme)],
				failFastFrame[head+len(kosme) : head+len(kosme)+4],
				failFastFrame[head+len(kosme)+4:],
			},
			fail: 1007, failOn: 2},
		{id: "6.4.4", desc: "as 6.4.2, in 3 chops of one frame (fail fast)",
			parts: [][]byte{
				failFastFrame[:head+len(kosme)+1],
				failFastFrame[head+len(kosme)+1 : head+len(kosme)+2],
				failFastFrame[head+len(kosme)+2:],
			},
			fail: 1007, failOn: 2},
	}
	for i, group := range utf8Sequences() {
		for j, seq := range group.seqs {
			c := abCase{
				id:    fmt.Sprintf("6.%d.%d", i+5, j+1),
				desc:  fmt.Sprintf("%s: text message %x", group.name, seq.b),
				parts: [][]byte{text(string(seq.b))},
			}
			if seq.valid {
				c.want = []event{msgText(string(seq.b))}
			} else {
				c.fail, c.failOn = 1007, 1
			}
			cs = append(cs, c)
		}
	}
	return cs
}

type utf8Seq struct {
	valid bool
	b     []byte
}

// utf8Sequences are the groups of cases 6.5 to 6.23, from Markus Kuhn's
// UTF-8 decoder stress test as the suite takes them.
func utf8Sequences() []struct {
	name string
	seqs []utf8Seq
} {
	valid := func(hexes ...string) []utf8Seq {
		var s []utf8Seq
		for _, h := range hexes {
			s = append(s, utf8Seq{true, unhex(h)})
		}
		return s
	}
	invalid := func(hexes ...string) []utf8Seq {
		s := valid(hexes...)
		for i := range s {
			s[i].valid = false
		}
		return s
	}
	var prefixes []utf8Seq
	for i := 1; i <= len(kosme); i++ {
		// The prefixes that end between code points are valid.
		end := i == 2 || i == 5 || i == 7 || i == 9 || i == 11
		prefixes = append(prefixes, utf8Seq{end, []byte(kosme[:i])})
	}
	var allContinuations []byte
	for c := 0x80; c < 0xbf; c++ {
		allContinuations = append(allContinuations, byte(c))
	}
	var lonely []utf8Seq
	for _, r := range [][2]int{{0xc0, 0xdf}, {0xe0, 0xef}, {0xf0, 0xf7}, {0xf8, 0xfb}, {0xfc, 0xfd}} {
		var b []byte
		for c := r[0]; c < r[1]; c++ {
			b = append(b, byte(c), ' ')
		}
		lonely = append(lonely, utf8Seq{false, b})
	}
	missingLast := []string{"c0", "e080", "f08080", "f8808080", "fc80808080", "df", "efbf", "f7bfbf", "fbbfbfbf", "fdbfbfbfbf"}
	nonCharacters := valid("efbfbe", "efbfbf")
	for _, z1 := range []string{"f0", "f1", "f2", "f3", "f4"} {
		for _, z2 := range []string{"8f", "9f", "af", "bf"} {
			if z1 == "f4" && z2 != "8f" {
				continue // past U+10FFFF
			}
			for _, z3 := range []string{"be", "bf"} {
				if s := z1 + z2 + "bf" + z3; s != "f08fbfbe" && s != "f08fbfbf" { // not overlong
					nonCharacters = append(nonCharacters, valid(s)...)
				}
			}
		}
	}
	return []struct {
		name string
		seqs []utf8Seq
	}{
		{"some valid UTF-8 sequences", valid(
			hex.EncodeToString([]byte("hello$world")), hex.EncodeToString([]byte("hello\u00a2world")),
			hex.EncodeToString([]byte("hello\u20acworld")), hex.EncodeToString([]byte("hello\U00024b62world")),
			hex.EncodeToString([]byte(kosme)))},
		{"all prefixes of a valid UTF-8 string with multi-octet code points", prefixes},
		{"first possible sequence of a certain length", valid("00", "c280", "e0a080", "f0908080")},
		{"first possible sequence of length 5 and 6 (invalid)", invalid("f888808080", "fc8480808080")},
		{"last possible sequence of a certain length", valid("7f", "dfbf", "efbfbf", "f48fbfbf")},
		{"last possible sequence of length 4, 5 and 6 (invalid)", invalid("f7bfbfbf", "fbbfbfbfbf", "fdbfbfbfbfbf")},
		{"other boundary conditions", append(valid("ed9fbf", "ee8080", "efbfbd", "f48fbfbf"), invalid("f4908080")...)},
		{"unexpected continuation octets", append(invalid("80", "bf", "80bf", "80bf80", "80bf80bf", "80bf80bf80", "80bf80bf80bf"),
			utf8Seq{false, allContinuations})},
		{"lonely start characters", lonely},
		{"sequences with the last continuation octet missing", invalid(missingLast...)},
		{"concatenation of incomplete sequences", invalid(strings.Join(missingLast, ""))},
		{"impossible octets", invalid("fe", "ff", "fefeffff")},
		{"overlong ASCII character", invalid("c0af", "e080af", "f08080af", "f8808080af", "fc80808080af")},
		{"maximum overlong sequences", invalid("c1bf", "e09fbf", "f08fbfbf", "f887bfbfbf", "fc83bfbfbfbf")},
		{"overlong NUL", invalid("c080", "e08080", "f0808080", "f880808080", "fc8080808080")},
		{"single UTF-16 surrogates", invalid("eda080", "edadbf", "edae80", "edafbf", "edb080", "edbe80", "edbfbf")},
		{"paired UTF-16 surrogates", invalid("eda080edb080", "eda080edbfbf", "edadbfedb080", "edadbfedbfbf",
			"edae80edb080", "edae80edbfbf", "edafbfedb080", "edafbfedbfbf")},
		{"non-character code points (valid UTF-8)", nonCharacters},
		{"Unicode specials", valid("efbfb9", "efbfba", "efbfbb", "efbfbc", "efbfbd", "efbfbe", "efbfbf")},
	}
}

// Section 7: close handling.
func closeCases() []abCase {
	long := repeat("BAsd7&jh23", 256<<10)
	reason123 := repeat("*", 123)
	cs := []abCase{
		{id: "7.1.1", desc: "text message, then close", parts: [][]byte{text("Hello World!"), closeFrame(1000, "")},
			want: []event{msgText("Hello World!"), gotClose(1000, "")}},
		{id: "7.1.2", desc: "close twice", parts: [][]byte{closeFrame(1000, ""), closeFrame(1000, "")},
			want: []event{gotClose(1000, "")}},
		{id: "7.1.3", desc: "ping after close", parts: [][]byte{closeFrame(1000, ""), ping("")},
			want: []event{gotClose(1000, "")}},
		{id: "7.1.4", desc: "text message after close", parts: [][]byte{closeFrame(1000, ""), text(hello)},
			want: []event{gotClose(1000, "")}},
		{id: "7.1.5", desc: "first fragment of a text message, then close, then the second fragment",
			parts: [][]byte{frag(opText, "fragment1"), closeFrame(1000, ""), frag(fin|opCont, "fragment2")},
			want:  []event{gotClose(1000, "")}},
		{id: "7.1.6", desc: "256 KiB text message, then close, then ping",
			parts: [][]byte{text(long), closeFrame(1000, ""), ping(hello)},
			want:  []event{msgText(long), gotClose(1000, "")}},
		{id: "7.3.1", desc: "close with payload of length 0", parts: [][]byte{clientFrame(fin|opClose, nil)},
			want: []event{gotClose(wsframe.CloseNoStatus, "")}},
		{id: "7.3.2", desc: "close with payload of length 1", parts: [][]byte{clientFrame(fin|opClose, []byte{0x03})},
			fail: 1002, failOn: 1},
		{id: "7.3.3", desc: "close with payload of length 2 (code only)", parts: [][]byte{closeFrame(1000, "")},
			want: []event{gotClose(1000, "")}},
		{id: "7.3.4", desc: "close with code and reason", parts: [][]byte{closeFrame(1000, "Hello World!")},
			want: []event{gotClose(1000, "Hello World!")}},
		{id: "7.3.5", desc: "close with code and a reason of 123 octets", parts: [][]byte{closeFrame(1000, reason123)},
			want: []event{gotClose(1000, reason123)}},
		{id: "7.3.6", desc: "close with payload of length 126", parts: [][]byte{closeFrame(1000, reason123+"*")},
			fail: 1002, failOn: 1},
		{id: "7.5.1", desc: "close with a reason that is not UTF-8",
			parts: [][]byte{closeFrame(1000, kosme+"\xed\xa0\x80edited")}, fail: 1007, failOn: 1},
	}
	for i, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		cs = append(cs, abCase{id: fmt.Sprintf("7.7.%d", i+1), desc: fmt.Sprintf("close with valid code %d", code),
			parts: [][]byte{closeFrame(code, "")}, want: []event{gotClose(code, "")}})
	}
	for i, code := range []int{0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999} {
		cs = append(cs, abCase{id: fmt.Sprintf("7.9.%d", i+1), desc: fmt.Sprintf("close with invalid code %d", code),
			parts: [][]byte{closeFrame(code, "")}, fail: 1002, failOn: 1})
	}
	// 7.13 is informational in the suite; RFC 6455 leaves these codes
	// undefined, so the reader fails them.
	for i, code := range []int{5000, 65535} {
		cs = append(cs, abCase{id: fmt.Sprintf("7.13.%d", i+1), desc: fmt.Sprintf("close with code %d", code),
			parts: [][]byte{closeFrame(code, "")}, fail: 1002, failOn: 1})
	}
	return cs
}

// bigCases are section 9 (limits and performance) as far as a reader
// goes: big messages, whole, in fragments and in chops (those sent whole
// are also read in chunks of 64 KiB, as from a socket); many messages.
// They are fed whole and as the suite sends them, in parallel, and skipped
// with -short.
func bigCases() []abCase {
	var cs []abCase
	sizes := []int{64 << 10, 256 << 10, 1 << 20, 4 << 20, 8 << 20, 16 << 20}
	for i, n := range sizes {
		p := repeat("*", n)
		b := bytes.Repeat([]byte{0xfe}, n)
		cs = append(cs,
			abCase{id: fmt.Sprintf("9.1.%d", i+1), desc: fmt.Sprintf("text message of %d octets", n),
				parts: chop(text(p), 64<<10), want: []event{msgText(p)}, big: true},
			abCase{id: fmt.Sprintf("9.2.%d", i+1), desc: fmt.Sprintf("binary message of %d octets", n),
				parts: chop(binaryMsg(b), 64<<10), want: []event{msgBinary(b)}, big: true},
		)
	}
	p4 := repeat("*", 4<<20)
	b4 := bytes.Repeat([]byte{0xfe}, 4<<20)
	for i, n := range []int{64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20} {
		cs = append(cs,
			abCase{id: fmt.Sprintf("9.3.%d", i+1), desc: fmt.Sprintf("text message of 4 MiB in fragments of %d octets", n),
				parts: fragments(opText, []byte(p4), n), want: []event{msgText(p4)}, big: true},
			abCase{id: fmt.Sprintf("9.4.%d", i+1), desc: fmt.Sprintf("binary message of 4 MiB in fragments of %d octets", n),
				parts: fragments(opBinary, b4, n), want: []event{msgBinary(b4)}, big: true},
		)
	}
	p1 := repeat("*", 1<<20)
	b1 := bytes.Repeat([]byte{0xfe}, 1<<20)
	for i, n := range []int{64, 128, 256, 512, 1024, 2048} {
		cs = append(cs,
			abCase{id: fmt.Sprintf("9.5.%d", i+1), desc: fmt.Sprintf("text message of 1 MiB in chops of %d octets", n),
				parts: chop(text(p1), n), want: []event{msgText(p1)}, big: true},
			abCase{id: fmt.Sprintf("9.6.%d", i+1), desc: fmt.Sprintf("binary message of 1 MiB in chops of %d octets", n),
				parts: chop(binaryMsg(b1), n), want: []event{msgBinary(b1)}, big: true},
		)
	}
	for i, n := range []int{0, 16, 64, 256, 1024, 4096} {
		var texts, binaries [][]byte
		var textEvents, binaryEvents []event
		for range 1000 {
			texts = append(texts, text(repeat("*", n)))
			textEvents = append(textEvents, msgText(repeat("*", n)))
			binaries = append(binaries, binaryMsg(bytes.Repeat([]byte{0xfe}, n)))
			binaryEvents = append(binaryEvents, msgBinary(bytes.Repeat([]byte{0xfe}, n)))
		}
		cs = append(cs,
			abCase{id: fmt.Sprintf("9.7.%d", i+1), desc: fmt.Sprintf("1000 text messages of %d octets", n),
				parts: texts, want: textEvents, big: true},
			abCase{id: fmt.Sprintf("9.8.%d", i+1), desc: fmt.Sprintf("1000 binary messages of %d octets", n),
				parts: binaries, want: binaryEvents, big: true},
		)
	}
	return cs
}

// readerCases are what RFC 6455 asks of a server's reader beyond the
// suite's cases: masking, the length forms, the message limit.
func readerCases() []abCase {
	const limit = 1024
	full := repeat("*", limit)
	half := repeat("*", limit/2)
	over := text(full + "*")
	return []abCase{
		{id: "rfc.mask.1", desc: "unmasked text message", parts: [][]byte{frameWith(fin|opText, []byte(hello), minimal, false)},
			fail: 1002, failOn: 1},
		{id: "rfc.mask.2", desc: "unmasked ping", parts: [][]byte{frameWith(fin|opPing, nil, minimal, false)}, fail: 1002, failOn: 1},
		{id: "rfc.mask.3", desc: "unmasked close", parts: [][]byte{frameWith(fin|opClose, []byte{0x03, 0xe8}, minimal, false)},
			fail: 1002, failOn: 1},
		{id: "rfc.length.1", desc: "a length of 5 in the 16-bit form", parts: [][]byte{frameWith(fin|opBinary, []byte("short"), len16, true)},
			want: []event{msgBinary([]byte("short"))}},
		{id: "rfc.length.2", desc: "a length of 5 in the 64-bit form", parts: [][]byte{frameWith(fin|opText, []byte("short"), len64, true)},
			want: []event{msgText("short")}},
		{id: "rfc.length.3", desc: "a 64-bit length with its most significant bit set",
			parts: [][]byte{{fin | opBinary, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4}}, fail: 1002, failOn: 1},
		{id: "rfc.length.4", desc: "a ping's length in the 16-bit form",
			parts: [][]byte{frameWith(fin|opPing, []byte("short"), len16, true)}, fail: 1002, failOn: 1},
		{id: "rfc.limit.1", desc: "a message of exactly the limit", limit: limit,
			parts: [][]byte{text(full)}, want: []event{msgText(full)}},
		{id: "rfc.limit.2", desc: "a frame past the limit fails on its header", limit: limit,
			parts: [][]byte{over[:8], over[8:]}, fail: 1009, failOn: 1},
		{id: "rfc.limit.3", desc: "fragments past the limit fail on the header of the one that crosses it", limit: limit,
			parts: [][]byte{frag(opBinary, half), ping("in between"), frag(opCont, half), frag(fin|opCont, "*")},
			want:  []event{gotPing("in between")}, fail: 1009, failOn: 4},
		{id: "rfc.limit.4", desc: "control frames do not count toward the limit", limit: limit,
			parts: [][]byte{frag(opBinary, full), ping(repeat("p", 125)), frag(fin|opCont, "")},
			want:  []event{gotPing(repeat("p", 125)), msgBinary([]byte(full))}},
		{id: "rfc.close.1", desc: "close codes the IANA registry added (1012-1014)",
			parts: [][]byte{closeFrame(1014, "")}, want: []event{gotClose(1014, "")}},
		{id: "rfc.close.2", desc: "close with code 1015, which must not be sent",
			parts: [][]byte{closeFrame(1015, "")}, fail: 1002, failOn: 1},
		{id: "rfc.text.1", desc: "a text message ending in the middle of a code point",
			parts: [][]byte{frag(opText, "ab\xc3"), frag(fin|opCont, "")}, fail: 1007, failOn: 2},
		{id: "rfc.text.2", desc: "a code point cut across fragments, a ping in between",
			parts: [][]byte{frag(opText, "\xe2\x82"), ping(""), frag(fin|opCont, "\xac")},
			want:  []event{gotPing(""), msgText("\u20ac")}},
		{id: "rfc.binary.1", desc: "a binary message is not checked for UTF-8",
			parts: [][]byte{binaryMsg([]byte{0xff, 0xfe})}, want: []event{msgBinary([]byte{0xff, 0xfe})}},
	}
}

// TestUTF8Sequences checks the table's own claims against the standard
// library, so that a typo in it cannot make a case pass.
func TestUTF8Sequences(t *testing.T) {
	n := 0
	for _, g := range utf8Sequences() {
		for _, s := range g.seqs {
			n++
			if utf8.Valid(s.b) != s.valid {
				t.Errorf("%s: %x valid=%v", g.name, s.b, s.valid)
			}
		}
	}
	if n != 5+11+4+2+4+3+5+8+5+10+1+3+5+5+5+7+8+34+7 {
		t.Errorf("%d sequences", n)
	}
}
