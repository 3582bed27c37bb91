package hotnats

import (
	"fmt"
	"strconv"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers of a change's message. Positions and sequences are decimal.
//
// Prev and the snapshot pointers let readers find earlier messages of the
// same subject by sequence without scanning the stream: every message
// knows its predecessor (the sequence its publish expected), and the
// latest snap of its lifetime (the creation or the last Set).
const (
	hdrEpoch   = "Hotstate-Epoch"
	hdrVersion = "Hotstate-Version"
	// hdrPrev is the sequence of the previous message on the subject;
	// absent when there was none.
	hdrPrev = "Hotstate-Prev"
	// hdrSnap and hdrSnapVersion are the sequence and version of the
	// latest snap of the message's lifetime; absent on a snap, which is
	// its own.
	hdrSnap        = "Hotstate-Snap"
	hdrSnapVersion = "Hotstate-Snap-Version"
)

// tip is where an instance's subject ends: its last message.
type tip struct {
	// end is the log's position: the zero Position when the subject is
	// empty or ends with a deletion.
	end hotstate.Position
	// seq is the stream sequence of the last message, 0 when none.
	seq uint64
	// snapSeq and snapVer locate the latest snap of the lifetime that
	// ends at end.
	snapSeq, snapVer uint64
}

func u(n uint64) string { return strconv.FormatUint(n, 10) }

// changeMsg is the message of change c, published after the tip t.
func changeMsg(subject string, c hotstate.Change, t tip) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Data = c.Frame
	m.Header.Set(hdrEpoch, u(c.Epoch))
	m.Header.Set(hdrVersion, u(c.Version))
	if t.seq != 0 {
		m.Header.Set(hdrPrev, u(t.seq))
	}
	if wire.TypeOf(c.Frame) == wire.TypePatch {
		m.Header.Set(hdrSnap, u(t.snapSeq))
		m.Header.Set(hdrSnapVersion, u(t.snapVer))
	}
	return m
}

// after is the tip once c is stored at sequence seq after t.
func after(t tip, c hotstate.Change, seq uint64) tip {
	switch wire.TypeOf(c.Frame) {
	case wire.TypeDel:
		return tip{seq: seq}
	case wire.TypeSnap:
		return tip{end: c.Position, seq: seq, snapSeq: seq, snapVer: c.Version}
	}
	return tip{end: c.Position, seq: seq, snapSeq: t.snapSeq, snapVer: t.snapVer}
}

// stored is one change's message read back from the stream.
type stored struct {
	hotstate.Change
	seq  uint64
	prev uint64
	tip  tip
}

func readStored(m *jetstream.RawStreamMsg) (stored, error) {
	return parseStored(m.Header, m.Data, m.Sequence)
}

func parseStored(h nats.Header, data []byte, seq uint64) (stored, error) {
	s := stored{seq: seq, Change: hotstate.Change{Frame: data}}
	var err error
	if s.Epoch, err = num(h, hdrEpoch); err != nil {
		return stored{}, fmt.Errorf("message %d: %w", seq, err)
	}
	if s.Version, err = num(h, hdrVersion); err != nil {
		return stored{}, fmt.Errorf("message %d: %w", seq, err)
	}
	if h.Get(hdrPrev) != "" {
		if s.prev, err = num(h, hdrPrev); err != nil {
			return stored{}, fmt.Errorf("message %d: %w", seq, err)
		}
	}
	switch wire.TypeOf(data) {
	case wire.TypeDel:
		s.tip = tip{seq: seq}
	case wire.TypeSnap:
		s.tip = tip{end: s.Position, seq: seq, snapSeq: seq, snapVer: s.Version}
	default:
		s.tip = tip{end: s.Position, seq: seq}
		if s.tip.snapSeq, err = num(h, hdrSnap); err != nil {
			return stored{}, fmt.Errorf("message %d: %w", seq, err)
		}
		if s.tip.snapVer, err = num(h, hdrSnapVersion); err != nil {
			return stored{}, fmt.Errorf("message %d: %w", seq, err)
		}
	}
	return s, nil
}

func num(h nats.Header, key string) (uint64, error) {
	v := h.Get(key)
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad header %s %q", key, v)
	}
	return n, nil
}
