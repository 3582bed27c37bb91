package hotredis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis replicates asynchronously: a master that acknowledged an append
// and crashed before its replicas had it takes the append with it when
// Sentinel (or a Cluster) promotes a replica. WithReplicas closes that
// window for those who run replicas: each append is followed, on the same
// connection, by WAIT, and succeeds only once that many replicas hold it.

// WithReplicas makes every append wait until n replicas of the master hold
// it, for at most timeout (1 s when not positive; keep it below the
// client's read timeout, 3 s by default). An append that n replicas did not confirm in
// time fails with ErrUnavailable, though the master took it: like a reply
// lost on the way, its outcome is unknown, and if the master survives the
// change stands (the node that made it applies it when its watch reports
// it). With n > 0, a master that keeps its replicas also keeps every
// acknowledged change through a failover. The default, 0, waits for none.
func WithReplicas(n int, timeout time.Duration) Option {
	if timeout <= 0 {
		timeout = time.Second // WAIT with no timeout would wait for ever
	}
	return optionFunc(func(e *Engine) {
		e.replicas, e.replicaWait = max(n, 0), timeout
	})
}

// runAppend runs the append script: alone when no replica is awaited,
// else in one pipeline with WAIT, which counts the replicas that hold
// what this connection wrote, on the master that holds the instance.
func (e *Engine) runAppend(ctx context.Context, keys []string, args ...any) ([]any, error) {
	if e.replicas == 0 {
		return appendScript.Run(ctx, e.rdb, keys, args...).Slice()
	}
	var via redis.Cmdable = e.rdb
	if cc, ok := e.rdb.(*redis.ClusterClient); ok {
		node, err := cc.MasterForKey(ctx, keys[0])
		if err != nil {
			return nil, err
		}
		via = node
	}
	res, acked, err := e.appendAndWait(ctx, via, appendScript.EvalSha, keys, args)
	if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
		// A master that never ran the script (a promoted replica, or a
		// restarted one) learns it from the whole text.
		res, acked, err = e.appendAndWait(ctx, via, appendScript.Eval, keys, args)
	}
	if err != nil {
		return nil, err
	}
	if code, _ := res[0].(int64); code == 1 && acked < int64(e.replicas) {
		return nil, fmt.Errorf("%w: %d of %d replicas confirmed the change within %v", errNotReplicated, acked, e.replicas, e.replicaWait)
	}
	return res, nil
}

// errNotReplicated is an append the master took but too few replicas
// confirmed: unavailable, of unknown outcome.
var errNotReplicated = fmt.Errorf("%w: not replicated", ErrUnavailable)

func (e *Engine) appendAndWait(ctx context.Context, via redis.Cmdable,
	run func(context.Context, redis.Scripter, []string, ...any) *redis.Cmd, keys []string, args []any,
) ([]any, int64, error) {
	var script *redis.Cmd
	var wait *redis.Cmd
	_, err := via.Pipelined(ctx, func(p redis.Pipeliner) error {
		script = run(ctx, p, keys, args...)
		wait = p.Do(ctx, "WAIT", e.replicas, e.replicaWait.Milliseconds())
		return nil
	})
	if err := script.Err(); err != nil {
		return nil, 0, err
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, 0, err
	}
	res, err := script.Slice()
	acked, _ := wait.Int64()
	return res, acked, err
}
