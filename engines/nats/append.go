package hotnats

import (
	"context"
	"errors"
	"fmt"
	"sync"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// Conflict detection lives in the server: a change is published with
// Nats-Expected-Last-Subject-Sequence set to the sequence of the message
// that holds prev, so the stream stores it only while that message is
// still the subject's last. Two writers that both saw prev race for one
// slot; the stream takes the first and refuses the other.
//
// Finding that sequence costs a read of the subject's last message, which
// the tip cache saves a node that keeps writing the same instance: the
// cached sequence is only a guess, since a message's sequence names that
// message alone, a wrong guess is refused like a stale writer, and the
// refused writer reads the tip and tries once more.

// tipCache remembers the tip of instances this node wrote or read last.
type tipCache struct {
	// mu guards m.
	mu sync.Mutex
	m  map[string]tip
}

// maxTips bounds the cache; past it an arbitrary entry makes room.
const maxTips = 4096

func (c *tipCache) get(name string) (tip, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.m[name]
	return t, ok
}

func (c *tipCache) put(name string, t tip) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[name]; !ok && len(c.m) >= maxTips {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[name] = t
}

func (c *tipCache) forget(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, name)
}

// lastStored reads the last message of name's subject; ok is false when
// the subject holds none.
func (e *Engine) lastStored(ctx context.Context, name string) (s stored, ok bool, err error) {
	m, err := e.logs.GetLastMsgForSubject(ctx, e.logSubject(name))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return stored{}, false, nil
	}
	if err != nil {
		return stored{}, false, err
	}
	s, err = readStored(m)
	return s, err == nil, err
}

// readTip reads where name's subject ends and remembers it.
func (e *Engine) readTip(ctx context.Context, name string) (tip, error) {
	s, ok, err := e.lastStored(ctx, name)
	if err != nil || !ok {
		return tip{}, err
	}
	e.tips.put(name, s.tip)
	return s.tip, nil
}

func conflict(name string, end, prev hotstate.Position) error {
	return fmt.Errorf("%w: %q is at %d/%d, not %d/%d", hotstate.ErrConflict, name, end.Epoch, end.Version, prev.Epoch, prev.Version)
}

// Append implements hotstate.Engine with one conditional publish: see the
// comment on tipCache.
func (e *Engine) Append(ctx context.Context, name string, prev hotstate.Position, c hotstate.Change) error {
	if err := e.connected("append to", name); err != nil {
		return err
	}
	kind := wire.TypeOf(c.Frame)
	t, guessed := e.tips.get(name)
	// A deletion at the zero Position appends nothing, so nothing else
	// would check the guess.
	if !guessed || t.end != prev || kind == wire.TypeDel && prev == (hotstate.Position{}) {
		var err error
		if t, err = e.readTip(ctx, name); err != nil {
			return fmt.Errorf("hotstate: nats: append to %q: %w", name, err)
		}
		guessed = false
	}
	for {
		if t.end != prev {
			return conflict(name, t.end, prev)
		}
		switch {
		case kind == wire.TypeDel && prev == (hotstate.Position{}):
			return nil // nothing to delete
		case kind != wire.TypeDel && c.Version != 0 && (c.Epoch != prev.Epoch || c.Version != prev.Version+1):
			return fmt.Errorf("hotstate: change %d/%d does not follow %d/%d", c.Epoch, c.Version, prev.Epoch, prev.Version)
		}
		ack, err := e.js.PublishMsg(ctx, changeMsg(e.logSubject(name), c, t),
			jetstream.WithExpectStream(e.prefix+"_log"),
			jetstream.WithExpectLastSequencePerSubject(t.seq))
		if wrongLastSequence(err) {
			e.tips.forget(name)
			if !guessed {
				// The tip was read just now: another writer came first.
				return fmt.Errorf("%w: %q moved past %d/%d", hotstate.ErrConflict, name, prev.Epoch, prev.Version)
			}
			if t, err = e.readTip(ctx, name); err != nil {
				return fmt.Errorf("hotstate: nats: append to %q: %w", name, err)
			}
			guessed = false
			continue
		}
		if err != nil {
			e.tips.forget(name)
			return fmt.Errorf("hotstate: nats: append to %q: %w", name, err)
		}
		e.tips.put(name, after(t, c, ack.Sequence))
		if kind == wire.TypeDel {
			e.dropDeleted(ctx, name, ack.Sequence)
		}
		return nil
	}
}

// dropDeleted removes the messages of a deleted instance before its del
// message, which stays: it is where the log of the zero Position ends,
// and what watchers behind the end still read. The checkpoint of the
// ended lifetime stays too; Load ignores it by its epoch.
func (e *Engine) dropDeleted(ctx context.Context, name string, del uint64) {
	err := e.logs.Purge(ctx, jetstream.WithPurgeSubject(e.logSubject(name)), jetstream.WithPurgeSequence(del))
	if err != nil {
		e.log.Warn("hotstate: nats: purge a deleted instance", "name", name, "err", err)
	}
}

func wrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}
