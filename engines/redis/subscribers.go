package hotredis

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// A node's subscriber counts are fields of each instance's count hash; a
// node counts while its liveness key exists. A crashed node's fields stay
// behind but stop counting once its key expires; a node closed with Close
// removes its fields at once.

func (e *Engine) liveKey(node string) string { return e.prefix + ":node:" + node }

// AddSubscribers implements hotstate.Engine: this node's count moves by
// delta in one script that returns every node's count, and the counts of
// nodes whose liveness key has expired are left out of the sum.
func (e *Engine) AddSubscribers(ctx context.Context, name string, delta int) (int, error) {
	if err := e.online("subscribers of", name); err != nil {
		return 0, err
	}
	if err := e.startHeartbeat(ctx); err != nil {
		return 0, fmt.Errorf("hotstate: redis: subscribers of %q: %w", name, e.down(ctx, err))
	}
	e.cmu.Lock()
	if n := e.counts[name] + delta; n > 0 {
		e.counts[name] = n
	} else {
		delete(e.counts, name)
	}
	e.cmu.Unlock()
	k := e.keys(name)
	all, err := countScript.Run(ctx, e.rdb, []string{k.counts}, e.node, delta).StringSlice()
	if err != nil {
		return 0, fmt.Errorf("hotstate: redis: subscribers of %q: %w", name, e.down(ctx, err))
	}
	total := 0
	var others []string
	var their []int
	for i := 0; i+1 < len(all); i += 2 {
		n, err := strconv.Atoi(all[i+1])
		if err != nil || n <= 0 {
			continue
		}
		if all[i] == e.node {
			total += n
			continue
		}
		others = append(others, all[i])
		their = append(their, n)
	}
	if len(others) == 0 {
		return total, nil
	}
	// Liveness keys hash to other slots than the count hash: a pipeline,
	// which a Cluster client splits by slot, rather than a script.
	alive := make([]*redis.IntCmd, len(others))
	_, err = e.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, node := range others {
			alive[i] = p.Exists(ctx, e.liveKey(node))
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("hotstate: redis: subscribers of %q: %w", name, e.down(ctx, err))
	}
	for i, c := range alive {
		if c.Val() == 1 {
			total += their[i]
		}
	}
	return total, nil
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
	if err := e.rdb.Set(ctx, e.liveKey(e.node), "1", e.nodeTTL).Err(); err != nil {
		return err
	}
	e.beating = e.spawn(e.heartbeat)
	return nil
}

func (e *Engine) heartbeat() {
	e.every(e.nodeTTL/3, func() bool {
		if err := e.beat(); err != nil {
			e.log.Warn("hotstate: redis: heartbeat", "node", e.node, "err", err)
		}
		return false
	})
}

// beat refreshes the liveness key. A key that was missing means Redis lost
// it (a restart without persistence, or a beat later than the TTL), and
// maybe the counts with it: they are written again from this node's own.
// An AddSubscribers running meanwhile may count its delta twice until the
// instance's next change of count.
func (e *Engine) beat() error {
	ctx, cancel := context.WithTimeout(e.ctx, opTimeout)
	defer cancel()
	err := e.rdb.SetArgs(ctx, e.liveKey(e.node), "1", redis.SetArgs{TTL: e.nodeTTL, Get: true}).Err()
	if !errors.Is(err, redis.Nil) {
		return err
	}
	e.cmu.Lock()
	counts := make(map[string]int, len(e.counts))
	for name, n := range e.counts {
		counts[name] = n
	}
	e.cmu.Unlock()
	_, err = e.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for name, n := range counts {
			p.HSet(ctx, e.keys(name).counts, e.node, n)
		}
		return nil
	})
	return err
}

// forgetNode removes this node's counts and liveness, for Close.
func (e *Engine) forgetNode() {
	e.cmu.Lock()
	beating := e.beating
	names := make([]string, 0, len(e.counts))
	for name := range e.counts {
		names = append(names, name)
	}
	e.cmu.Unlock()
	if !beating {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	_, err := e.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, e.liveKey(e.node))
		for _, name := range names {
			p.HDel(ctx, e.keys(name).counts, e.node)
		}
		return nil
	})
	if err != nil {
		e.log.Warn("hotstate: redis: forget node", "node", e.node, "err", err)
	}
}
