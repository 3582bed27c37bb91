package hotnats

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/nats-io/nats.go/jetstream"
)

// Since implements hotstate.Engine. The subject's last message says where
// the log ends; the changes before it are read back to pos.
func (e *Engine) Since(ctx context.Context, name string, pos hotstate.Position) ([]hotstate.Change, error) {
	if err := e.connected("since on", name); err != nil {
		return nil, err
	}
	last, ok, err := e.lastStored(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("hotstate: nats: since on %q: %w", name, err)
	}
	if ok {
		e.tips.put(name, last.tip)
	}
	end := last.tip.end
	if !ok || end == (hotstate.Position{}) || end.Epoch != pos.Epoch || pos.Version > end.Version {
		return nil, fmt.Errorf("%w: %q", hotstate.ErrGone, name)
	}
	if pos.Version == end.Version {
		return nil, nil
	}
	cs, err := e.changesTo(ctx, name, last, pos.Version)
	if errors.Is(err, errTrimmed) {
		return nil, fmt.Errorf("%w: %q trimmed past version %d", hotstate.ErrGone, name, pos.Version)
	}
	if err != nil {
		return nil, fmt.Errorf("hotstate: nats: since on %q: %w", name, err)
	}
	return cs, nil
}

// errTrimmed is changesTo's answer when the stream no longer holds every
// change asked for.
var errTrimmed = errors.New("trimmed")

// walkBack is how many changes changesTo reads one by one, following each
// message's predecessor, before it takes a consumer for the rest: a
// writer that lost a race is typically one or two changes behind.
const walkBack = 8

// changesTo returns the changes of last's lifetime after version from, up
// to and including last, oldest first.
func (e *Engine) changesTo(ctx context.Context, name string, last stored, from uint64) ([]hotstate.Change, error) {
	n := last.Version - from
	if n > walkBack {
		return e.scan(ctx, name, last, from)
	}
	cs := make([]hotstate.Change, n)
	s := last
	for i := int(n) - 1; ; i-- {
		cs[i] = s.Change
		if i == 0 {
			return cs, nil
		}
		if s.prev == 0 {
			return nil, errTrimmed
		}
		m, err := e.logs.GetMsg(ctx, s.prev)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, errTrimmed
		}
		if err != nil {
			return nil, err
		}
		if s, err = readStored(m); err != nil {
			return nil, err
		}
		if s.Epoch != last.Epoch || s.Version != last.Version-uint64(n)+uint64(i) {
			return nil, errTrimmed
		}
	}
}

// scanBatch is how many messages one pull of scan asks for.
const scanBatch = 256

// scan reads the changes after version from up to last through a
// consumer of the instance's subject, from the lifetime's latest snap
// when it is not after from, else from the subject's oldest message: the
// subject holds at most the configured number of changes.
func (e *Engine) scan(ctx context.Context, name string, last stored, from uint64) ([]hotstate.Change, error) {
	start := uint64(1)
	if last.tip.snapVer <= from+1 {
		start = last.tip.snapSeq
	}
	cons, err := e.logs.CreateConsumer(ctx, jetstream.ConsumerConfig{
		FilterSubject:     e.logSubject(name),
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       start,
		AckPolicy:         jetstream.AckNonePolicy,
		MemoryStorage:     true,
		InactiveThreshold: 10 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		// The server drops it after the inactive threshold anyway.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
		defer cancel()
		_ = e.logs.DeleteConsumer(dctx, cons.CachedInfo().Name)
	}()
	var cs []hotstate.Change
	for {
		batch, err := cons.FetchNoWait(scanBatch)
		if err != nil {
			return nil, err
		}
		got, done := 0, false
		// Every message of the batch is read, even past last, so that
		// the fetch's goroutine finishes.
		for m := range batch.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil || done {
				continue
			}
			s, err := parseStored(m.Headers(), m.Data(), md.Sequence.Stream)
			if err != nil {
				return nil, err
			}
			done = s.seq >= last.seq
			if s.seq <= last.seq && s.Epoch == last.Epoch && s.Version > from && s.tip.end != (hotstate.Position{}) {
				cs = append(cs, s.Change)
			}
		}
		if err := batch.Error(); err != nil {
			return nil, err
		}
		if done || got == 0 {
			return contiguous(cs, from, last)
		}
	}
}

// contiguous checks that cs are exactly the versions after from up to
// last's, which a trimmed subject breaks.
func contiguous(cs []hotstate.Change, from uint64, last stored) ([]hotstate.Change, error) {
	if uint64(len(cs)) != last.Version-from {
		return nil, errTrimmed
	}
	for i, c := range cs {
		if c.Version != from+1+uint64(i) {
			return nil, errTrimmed
		}
	}
	return slices.Clip(cs), nil
}

// Load implements hotstate.Engine: the checkpoint is read before the end
// of the log, so that it is never ahead of the end read.
func (e *Engine) Load(ctx context.Context, name string) (hotstate.Change, []hotstate.Change, error) {
	if err := e.connected("load", name); err != nil {
		return hotstate.Change{}, nil, err
	}
	ck, haveCk, err := e.checkpoint(ctx, name)
	if err != nil {
		return hotstate.Change{}, nil, fmt.Errorf("hotstate: nats: load %q: %w", name, err)
	}
	last, ok, err := e.lastStored(ctx, name)
	if err != nil {
		return hotstate.Change{}, nil, fmt.Errorf("hotstate: nats: load %q: %w", name, err)
	}
	if !ok || last.tip.end == (hotstate.Position{}) {
		return hotstate.Change{}, nil, fmt.Errorf("%w: %q", hotstate.ErrNotFound, name)
	}
	e.tips.put(name, last.tip)
	end := last.tip.end
	haveCk = haveCk && ck.Epoch == end.Epoch && ck.Version <= end.Version
	var snap hotstate.Change
	switch {
	case haveCk && ck.Version >= last.tip.snapVer:
		snap = ck.Change
	case last.tip.snapSeq == last.seq:
		snap = last.Change
	default:
		m, err := e.logs.GetMsg(ctx, last.tip.snapSeq)
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound) && haveCk:
			snap = ck.Change // the log's snap was trimmed; the changes since the checkpoint include it
		case errors.Is(err, jetstream.ErrMsgNotFound):
			return hotstate.Change{}, nil, fmt.Errorf("hotstate: %q: no checkpoint before version %d", name, last.tip.snapVer)
		case err != nil:
			return hotstate.Change{}, nil, fmt.Errorf("hotstate: nats: load %q: %w", name, err)
		default:
			s, err := readStored(m)
			if err != nil {
				return hotstate.Change{}, nil, fmt.Errorf("hotstate: nats: load %q: %w", name, err)
			}
			snap = s.Change
		}
	}
	if snap.Version == end.Version {
		return snap, nil, nil
	}
	after, err := e.changesTo(ctx, name, last, snap.Version)
	if errors.Is(err, errTrimmed) {
		// A writer prevents it by checkpointing before the subject holds
		// that many changes.
		return hotstate.Change{}, nil, fmt.Errorf("hotstate: %q: no checkpoint before version %d", name, snap.Version+1)
	}
	if err != nil {
		return hotstate.Change{}, nil, fmt.Errorf("hotstate: nats: load %q: %w", name, err)
	}
	return snap, after, nil
}

// checkpoint reads the checkpoint kept for name.
func (e *Engine) checkpoint(ctx context.Context, name string) (stored, bool, error) {
	m, err := e.snaps.GetLastMsgForSubject(ctx, e.snapSubject(name))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return stored{}, false, nil
	}
	if err != nil {
		return stored{}, false, err
	}
	s, err := readStored(m)
	return s, err == nil, err
}

// Checkpoint implements hotstate.Engine. The checkpoint replaces the kept
// one by a publish that expects it, so a slow writer's older checkpoint
// never replaces a newer one.
func (e *Engine) Checkpoint(ctx context.Context, name string, snap hotstate.Change) error {
	if err := e.connected("checkpoint", name); err != nil {
		return err
	}
	t, ok := e.tips.get(name)
	// A guess of the end that is in snap's lifetime and not before it is
	// good enough: the end only moves on, and a checkpoint of an ended
	// lifetime is ignored by Load.
	if !ok || t.end.Epoch != snap.Epoch || t.end.Version < snap.Version {
		var err error
		if t, err = e.readTip(ctx, name); err != nil {
			return fmt.Errorf("hotstate: nats: checkpoint %q: %w", name, err)
		}
	}
	if t.end == (hotstate.Position{}) || t.end.Epoch != snap.Epoch || t.end.Version < snap.Version {
		return nil
	}
	for {
		kept, ok, err := e.checkpoint(ctx, name)
		if err != nil {
			return fmt.Errorf("hotstate: nats: checkpoint %q: %w", name, err)
		}
		if ok && kept.Epoch == snap.Epoch && kept.Version >= snap.Version {
			return nil
		}
		var seq uint64
		if ok {
			seq = kept.seq
		}
		_, err = e.js.PublishMsg(ctx, changeMsg(e.snapSubject(name), snap, tip{}),
			jetstream.WithExpectStream(e.prefix+"_snap"),
			jetstream.WithExpectLastSequencePerSubject(seq))
		if wrongLastSequence(err) {
			continue // another checkpoint came first: compare with it
		}
		if err != nil {
			return fmt.Errorf("hotstate: nats: checkpoint %q: %w", name, err)
		}
		return nil
	}
}
