package suite

import (
	"bytes"
	"strconv"
	"strings"
)

// The fan-out scenario: one store (hotstate) or one channel (the peers)
// that every client subscribes to, changed by the server again and again.
const (
	feedStore   = "Feed" // hotstate store name
	feedChannel = "feed" // centrifuge channel
	echoFunc    = "echo" // the RPC every system answers
	// counterStore is the store the update measurements change: hotstate
	// only, since the peers keep no state.
	counterStore = "Counter"
)

// Feed is the state of the fan-out store. Each publish changes Seq and the
// text and timestamp of Last, which makes a patch frame of about 150 bytes.
type Feed struct {
	Seq  uint64  `json:"seq"`
	Last Message `json:"last"`
}

// Message is the part of Feed that each publish replaces.
type Message struct {
	From string `json:"from"`
	Text string `json:"text"`
	TS   string `json:"ts"`
}

// Counter is the state of the counter store; each update adds one to N.
type Counter struct {
	N uint64 `json:"n"`
}

// EchoArgs is what the RPC scenario sends and gets back.
type EchoArgs struct {
	ID   int64  `json:"id"`
	Text string `json:"text"`
}

// filler pads each message to a realistic chat line.
const filler = "the quick brown fox jumps over the lazy dog, twice"

// marker starts the publish timestamp inside every payload: "ts=" and 19
// decimal digits of Unix nanoseconds. The load generator finds it with a
// byte search, so it reads hotstate's MessagePack, centrifuge's protobuf
// and the raw frames alike without decoding them.
const marker = "ts="

// newMessage is the change published as number seq at time ts.
func newMessage(seq uint64, ts int64) Message {
	return Message{From: "bench", Text: "message " + pad(seq) + " " + filler, TS: stamp(ts)}
}

func pad(seq uint64) string {
	s := strconv.FormatUint(seq, 10)
	if len(s) < 8 {
		s = strings.Repeat("0", 8-len(s)) + s
	}
	return s
}

func stamp(ts int64) string {
	s := strconv.FormatInt(ts, 10)
	if len(s) < 19 {
		s = strings.Repeat("0", 19-len(s)) + s
	}
	return marker + s
}

// stamps calls fn with every publish timestamp found in msg; a centrifuge
// frame may carry several publications.
func stamps(msg []byte, fn func(ts int64)) {
	for {
		i := bytes.Index(msg, []byte(marker))
		if i < 0 || len(msg) < i+len(marker)+19 {
			return
		}
		digits := msg[i+len(marker) : i+len(marker)+19]
		var ts int64
		ok := true
		for _, d := range digits {
			if d < '0' || d > '9' {
				ok = false
				break
			}
			ts = ts*10 + int64(d-'0')
		}
		if ok {
			fn(ts)
		}
		msg = msg[i+len(marker):]
	}
}
