package hotnats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Subscriber counts live in the counts bucket, one key per instance whose
// value maps each member (a node's id and incarnation) to its count, and
// is changed only by compare-and-swap on the key's revision. A member
// counts while its key in the nodes bucket exists: the heartbeat rewrites
// it every third of the node TTL, and the bucket's max age drops it when
// the heartbeat stops. Server 2.9 has no per-key TTL, so the age is the
// bucket's: engines sharing a prefix share the node TTL. A member found
// dead is removed from the counts by whoever next writes them; a node
// closed with Close removes its own at once.

// AddSubscribers implements hotstate.Engine: one read and one conditional
// write of the instance's counts, plus one liveness read per other node
// counting it.
func (e *Engine) AddSubscribers(ctx context.Context, name string, delta int) (int, error) {
	if err := e.connected("count subscribers of", name); err != nil {
		return 0, err
	}
	if err := e.startHeartbeat(ctx); err != nil {
		return 0, fmt.Errorf("hotstate: nats: subscribers of %q: %w", name, err)
	}
	e.cmu.Lock()
	e.own[name] += delta
	mine := e.own[name]
	if mine <= 0 {
		delete(e.own, name)
	}
	e.cmu.Unlock()
	n, err := e.updateCounts(ctx, name, func(m map[string]int) {
		if mine > 0 {
			m[e.member] = mine
		} else {
			delete(m, e.member)
		}
	})
	if err != nil {
		e.cmu.Lock()
		if e.own[name] -= delta; e.own[name] <= 0 {
			delete(e.own, name)
		}
		e.cmu.Unlock()
		return 0, fmt.Errorf("hotstate: nats: subscribers of %q: %w", name, err)
	}
	return n, nil
}

// updateCounts applies set to the instance's counts, leaving out dead
// members, writes them back unless nothing changed, and returns the sum
// of the live members' counts.
func (e *Engine) updateCounts(ctx context.Context, name string, set func(map[string]int)) (int, error) {
	key := token(name)
	for {
		var (
			rev uint64
			was = map[string]int{}
		)
		entry, err := e.counts.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return 0, err
		default:
			rev = entry.Revision()
			if err := json.Unmarshal(entry.Value(), &was); err != nil {
				return 0, fmt.Errorf("counts: %w", err)
			}
		}
		m := maps.Clone(was)
		for member := range was {
			if member == e.member {
				continue
			}
			alive, err := e.alive(ctx, member)
			if err != nil {
				return 0, err
			}
			if !alive {
				delete(m, member)
			}
		}
		set(m)
		total := 0
		for _, n := range m {
			total += n
		}
		if maps.Equal(m, was) {
			return total, nil
		}
		b, err := json.Marshal(m)
		if err != nil {
			return 0, err
		}
		if rev == 0 {
			_, err = e.counts.Create(ctx, key, b)
		} else {
			_, err = e.counts.Update(ctx, key, b, rev)
		}
		if errors.Is(err, jetstream.ErrKeyExists) || wrongLastSequence(err) {
			continue // another node wrote first: read its counts
		}
		if err != nil {
			return 0, err
		}
		return total, nil
	}
}

func (e *Engine) alive(ctx context.Context, member string) (bool, error) {
	_, err := e.nodes.Get(ctx, member)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// startHeartbeat marks this node alive and starts the heartbeat that keeps
// it so, on the first count: an engine that counts nothing beats for
// nothing.
func (e *Engine) startHeartbeat(ctx context.Context) error {
	e.cmu.Lock()
	defer e.cmu.Unlock()
	if e.beating {
		return nil
	}
	if _, err := e.nodes.Put(ctx, e.member, []byte(e.node)); err != nil {
		return err
	}
	e.beating = e.spawn(e.heartbeat)
	return nil
}

func (e *Engine) heartbeat() {
	t := time.NewTicker(e.nodeTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
		}
		if err := e.beat(); err != nil {
			e.log.Warn("hotstate: nats: heartbeat", "node", e.node, "err", err)
		}
	}
}

// beat rewrites the liveness key. A key that was missing means the server
// lost it (a beat later than the TTL, or a server that lost its data),
// and another node may have removed this node's counts as dead: they are
// written again from this node's own.
func (e *Engine) beat() error {
	ctx, cancel := context.WithTimeout(e.ctx, opTimeout)
	defer cancel()
	if err := e.connected("heartbeat of", e.node); err != nil {
		return err
	}
	alive, err := e.alive(ctx, e.member)
	if err != nil {
		return err
	}
	if _, err := e.nodes.Put(ctx, e.member, []byte(e.node)); err != nil {
		return err
	}
	if alive {
		return nil
	}
	e.cmu.Lock()
	own := maps.Clone(e.own)
	e.cmu.Unlock()
	for name, n := range own {
		_, err := e.updateCounts(ctx, name, func(m map[string]int) { m[e.member] = n })
		if err != nil {
			return err
		}
	}
	return nil
}

// forgetNode removes this node's counts and liveness, for Close.
func (e *Engine) forgetNode() {
	e.cmu.Lock()
	beating := e.beating
	own := maps.Clone(e.own)
	e.cmu.Unlock()
	if !beating || !e.nc.IsConnected() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	for name := range own {
		if _, err := e.updateCounts(ctx, name, func(m map[string]int) { delete(m, e.member) }); err != nil {
			e.log.Warn("hotstate: nats: forget node", "node", e.node, "err", err)
			return
		}
	}
	if err := e.nodes.Delete(ctx, e.member); err != nil {
		e.log.Warn("hotstate: nats: forget node", "node", e.node, "err", err)
	}
}
