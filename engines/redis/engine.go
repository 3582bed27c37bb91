// Package hotredis is a hotstate.Engine on Redis: the log of every store
// instance lives in a Redis stream next to its position and its latest
// snapshot, written by one Lua script per change, so every node that shares
// the Redis deployment shares the stores.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	srv := hotstate.New(hotstate.WithEngine(hotredis.New(rdb)))
//
// It takes a redis.UniversalClient, so a single server, Sentinel and
// Cluster all work: every key of one instance carries the same hash tag,
// and on a Cluster a channel's messages go through the master of its slot,
// which keeps them in order. The tests run the conformance suite on a
// private Cluster of three masters.
// It needs Redis 6.2 or later, and a maxmemory policy that evicts nothing
// (noeviction or a volatile-* policy): an evicted position or stream is a
// lost log.
//
// Keys, for the prefix P and the instance name N:
//
//	{P:N}:m   hash e, v: where the log ends; missing means the zero Position
//	{P:N}:s   hash e, v, f: the latest snapshot (creation, Set or checkpoint)
//	{P:N}:x   stream of changes, entry id "<version>-1", fields e, v, f and
//	          n, the nonce of the append that wrote it
//	{P:N}:n   hash node id → that node's subscribers of the instance
//	{P:N}:w   Pub/Sub channel: a wake-up after every change
//	P:node:ID liveness of a node, with a TTL its heartbeat refreshes
//	P:msg:C   Pub/Sub channel of Publish and Listen
package hotredis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
	"github.com/redis/go-redis/v9"
)

// Engine is a hotstate.Engine that keeps its logs in Redis. Make one with
// New; it is safe for concurrent use. Close stops its background work.
type Engine struct {
	rdb        redis.UniversalClient
	prefix     string
	maxChanges int
	node       string
	nodeTTL    time.Duration
	log        *slog.Logger
	// replicas is how many replicas an append waits for, at most
	// replicaWait (WithReplicas).
	replicas    int
	replicaWait time.Duration

	// ctx is cancelled by Close: background work and its Redis calls end
	// on it.
	ctx       context.Context
	cancel    context.CancelFunc
	closeOnce sync.Once
	// wg counts the goroutines the engine started: the Pub/Sub reader,
	// watchers' fetches and the heartbeat.
	wg sync.WaitGroup

	// subMu serializes subscribing and unsubscribing, so that waiting for
	// a channel's confirmation never races with leaving the same channel.
	subMu sync.Mutex
	// mu guards ps, subs and closed.
	mu     sync.Mutex
	ps     *redis.PubSub
	subs   map[string]*channelSubs
	closed bool

	// pmu guards pending: the nonces of this engine's appends under way,
	// each true once its wake-up has come. The Pub/Sub reader leaves those
	// wake-ups to Append, which holds the change (see settle).
	pmu     sync.Mutex
	pending map[string]bool

	// cmu guards counts and beating.
	cmu sync.Mutex
	// counts is this node's own subscriber count per instance, kept to
	// write them again when Redis has lost them (see heartbeat).
	counts  map[string]int
	beating bool

	// offline is set while Redis is believed unreachable (see down.go).
	offline atomic.Bool

	// disconnect closes a client the engine made itself (Dial); nil for
	// the caller's.
	disconnect func() error
}

// Option configures an Engine made by New.
type Option interface{ apply(*Engine) }

type optionFunc func(*Engine)

func (f optionFunc) apply(e *Engine) { f(e) }

// WithPrefix sets the prefix of every key and channel the engine uses.
// Engines that share stores use the same prefix. The default is
// "hotstate".
func WithPrefix(prefix string) Option {
	return optionFunc(func(e *Engine) { e.prefix = prefix })
}

// WithMaxChanges sets how many changes each instance's stream keeps for
// catching up (Since); older ones are trimmed. Checkpoints keep Load
// working past the trimmed part. The default is 1024.
func WithMaxChanges(n int) Option {
	return optionFunc(func(e *Engine) {
		if n > 0 {
			e.maxChanges = n
		}
	})
}

// WithNodeID names this node in the subscriber counts. Node ids must be
// unique among the engines sharing a prefix. The default is random.
func WithNodeID(id string) Option {
	return optionFunc(func(e *Engine) {
		if id != "" {
			e.node = id
		}
	})
}

// WithNodeTTL sets how long this node's subscribers keep counting after
// its heartbeat stops (the node crashed or lost Redis). The heartbeat runs
// every third of it. The default is 15 seconds.
func WithNodeTTL(d time.Duration) Option {
	return optionFunc(func(e *Engine) {
		if d > 0 {
			e.nodeTTL = d
		}
	})
}

// WithLogger sets where the engine reports failures of its background
// work (watching, heartbeats). The default discards them.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(e *Engine) {
		if l != nil {
			e.log = l
		}
	})
}

// New returns an engine that keeps its logs in rdb. The engine does not
// own rdb: close rdb after the engine.
func New(rdb redis.UniversalClient, opts ...Option) *Engine {
	e := &Engine{
		rdb:        rdb,
		prefix:     "hotstate",
		maxChanges: 1024,
		nodeTTL:    15 * time.Second,
		log:        slog.New(slog.DiscardHandler),
		subs:       map[string]*channelSubs{},
		pending:    map[string]bool{},
		counts:     map[string]int{},
	}
	for _, o := range opts {
		o.apply(e)
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	if e.node == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		e.node = hex.EncodeToString(b[:])
	}
	return e
}

// Close stops the engine's background goroutines, leaves its Pub/Sub
// channels, and removes this node's subscriber counts, so that other nodes
// stop counting them at once rather than after the node TTL.
func (e *Engine) Close() {
	e.closeOnce.Do(func() {
		e.mu.Lock()
		e.closed = true
		ps := e.ps
		e.mu.Unlock()
		if ps != nil {
			_ = ps.Close()
		}
		e.cancel()
		e.wg.Wait()
		// After the heartbeat stopped, which could mark the node alive
		// again.
		e.forgetNode()
		if e.disconnect != nil {
			_ = e.disconnect()
		}
	})
}

var _ hotstate.Engine = (*Engine)(nil)

// spawn runs f on a goroutine that Close waits for, unless the engine is
// closed. Checking and adding under mu keeps wg.Add from racing wg.Wait.
func (e *Engine) spawn(f func()) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.wg.Go(f)
	return true
}

// every calls f every d until f reports it is done or the engine closes.
func (e *Engine) every(d time.Duration, f func() (done bool)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
		}
		if f() {
			return
		}
	}
}

// keys are the names of one instance's keys and wake-up channel, all under
// one hash tag so that a script or MULTI may touch them in a Cluster.
type keys struct {
	meta, snap, stream, counts, wake string
}

func (e *Engine) keys(name string) keys {
	tag := "{" + e.prefix + ":" + name + "}"
	return keys{
		meta:   tag + ":m",
		snap:   tag + ":s",
		stream: tag + ":x",
		counts: tag + ":n",
		wake:   tag + ":w",
	}
}

// tombstoneTTL is how long a deleted instance's stream stays, ending with
// the del change, for watchers that have not read it yet.
const tombstoneTTL = time.Minute

// opTimeout bounds the Redis calls of background work, which has no
// caller's context.
const opTimeout = 5 * time.Second

func u(n uint64) string { return strconv.FormatUint(n, 10) }

// nonce names one Append, for the script to recognise its own retry.
func nonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// entryID is the stream id of the change at version v: the version in the
// id lets readers range over versions, and the stream's own ordering of
// ids refuses a version that does not grow.
func entryID(v uint64) string { return u(v) + "-1" }

// Append implements hotstate.Engine with one script (appendScript), so the
// position check and the write are one atomic step on the server: a
// writer that saw an older end of the log is refused by Redis itself.
func (e *Engine) Append(ctx context.Context, name string, prev hotstate.Position, c hotstate.Change) error {
	if err := e.online("append to", name); err != nil {
		return err
	}
	kind, id := "p", entryID(c.Version)
	switch wire.TypeOf(c.Frame) {
	case wire.TypeDel:
		// A del needs no version of its own: it ends the log after prev.
		kind, id = "d", entryID(prev.Version+1)
	case wire.TypeSnap:
		kind = "s"
	}
	if c.Version == 0 && kind != "d" {
		kind = "l"
	}
	follows := "0"
	if c.Epoch == prev.Epoch && c.Version == prev.Version+1 {
		follows = "1"
	}
	k := e.keys(name)
	n := notice{nonce: nonce(), to: place{prev.Epoch, idVersion(id) + 1}, change: c, frame: true}
	if prev != (hotstate.Position{}) {
		n.from = place{prev.Epoch, prev.Version + 1}
	}
	if kind == "l" {
		n.to.epoch = c.Epoch
	}
	e.pend(n.nonce)
	res, err := e.runAppend(ctx, []string{k.meta, k.stream, k.snap},
		u(prev.Epoch), u(prev.Version), u(c.Epoch), u(c.Version), kind, follows, id,
		c.Frame, e.maxChanges, k.wake, tombstoneTTL.Milliseconds(), n.nonce,
		n.head(), maxNoticeFrame)
	var code int64 = -1
	if err == nil {
		code, _ = res[0].(int64)
	}
	// A del of what does not exist appends nothing.
	e.settle(k.wake, &n, code == 1 && !(kind == "d" && prev.Epoch == 0))
	if err != nil {
		return fmt.Errorf("hotstate: redis: append to %q: %w", name, e.down(ctx, err))
	}
	switch code {
	case 1:
		return nil
	case 0:
		return fmt.Errorf("%w: %q is at %v/%v, not %d/%d", hotstate.ErrConflict, name, res[1], res[2], prev.Epoch, prev.Version)
	default:
		return fmt.Errorf("hotstate: change %d/%d does not follow %d/%d", c.Epoch, c.Version, prev.Epoch, prev.Version)
	}
}

// Since implements hotstate.Engine. The position and the stream are read
// in one MULTI, so the changes returned end where the position says.
func (e *Engine) Since(ctx context.Context, name string, pos hotstate.Position) ([]hotstate.Change, error) {
	if err := e.online("since on", name); err != nil {
		return nil, err
	}
	k := e.keys(name)
	var meta *redis.SliceCmd
	var xs *redis.XMessageSliceCmd
	_, err := e.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		meta = p.HMGet(ctx, k.meta, "e", "v")
		xs = p.XRange(ctx, k.stream, "("+entryID(pos.Version), "+")
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hotstate: redis: since on %q: %w", name, e.down(ctx, err))
	}
	end, err := position(meta.Val())
	if err != nil {
		return nil, fmt.Errorf("hotstate: redis: %q: %w", name, down(err))
	}
	if end == (hotstate.Position{}) || end.Epoch != pos.Epoch || pos.Version > end.Version {
		return nil, fmt.Errorf("%w: %q", hotstate.ErrGone, name)
	}
	if pos.Version == end.Version {
		return nil, nil
	}
	cs, err := changes(xs.Val())
	if err != nil {
		return nil, fmt.Errorf("hotstate: redis: %q: %w", name, down(err))
	}
	// MAXLEN trimming drops the oldest entries: a first entry past the one
	// asked for means the rest is gone.
	if len(cs) == 0 || cs[0].Version != pos.Version+1 || cs[len(cs)-1].Version != end.Version {
		return nil, fmt.Errorf("%w: %q trimmed past version %d", hotstate.ErrGone, name, pos.Version)
	}
	return cs, nil
}

// Load implements hotstate.Engine.
func (e *Engine) Load(ctx context.Context, name string) (hotstate.Change, []hotstate.Change, error) {
	if err := e.online("load", name); err != nil {
		return hotstate.Change{}, nil, err
	}
	k := e.keys(name)
	res, err := loadScript.Run(ctx, e.rdb, []string{k.meta, k.stream, k.snap}).Slice()
	if errors.Is(err, redis.Nil) {
		return hotstate.Change{}, nil, fmt.Errorf("%w: %q", hotstate.ErrNotFound, name)
	}
	if err != nil {
		return hotstate.Change{}, nil, fmt.Errorf("hotstate: redis: load %q: %w", name, e.down(ctx, err))
	}
	if len(res) != 4 {
		return hotstate.Change{}, nil, fmt.Errorf("hotstate: redis: load %q: %d values", name, len(res))
	}
	snap, err := change(res[0], res[1], res[2])
	if err != nil {
		return hotstate.Change{}, nil, fmt.Errorf("hotstate: redis: load %q: %w", name, down(err))
	}
	after, err := scriptChanges(res[3])
	if err != nil {
		return hotstate.Change{}, nil, fmt.Errorf("hotstate: redis: load %q: %w", name, down(err))
	}
	if len(after) > 0 && after[0].Version != snap.Version+1 {
		// Trimmed past the last checkpoint: a writer prevents it by
		// checkpointing before the stream holds that many changes.
		return hotstate.Change{}, nil, fmt.Errorf("hotstate: %q: no checkpoint before version %d", name, after[0].Version)
	}
	return snap, after, nil
}

// Checkpoint implements hotstate.Engine. The script compares the snapshot
// with the log's end and the kept snapshot on the server, so a slow
// writer's old checkpoint never replaces a newer one.
func (e *Engine) Checkpoint(ctx context.Context, name string, snap hotstate.Change) error {
	if err := e.online("checkpoint", name); err != nil {
		return err
	}
	k := e.keys(name)
	err := checkpointScript.Run(ctx, e.rdb, []string{k.meta, k.snap}, u(snap.Epoch), u(snap.Version), snap.Frame).Err()
	if err != nil {
		return fmt.Errorf("hotstate: redis: checkpoint %q: %w", name, e.down(ctx, err))
	}
	return nil
}

// position reads an HMGET of e and v; missing fields are the zero
// Position.
func position(vals []any) (hotstate.Position, error) {
	if len(vals) != 2 || vals[0] == nil || vals[1] == nil {
		return hotstate.Position{}, nil
	}
	return parsePosition(vals[0], vals[1])
}

func parsePosition(ev, vv any) (hotstate.Position, error) {
	es, _ := ev.(string)
	vs, _ := vv.(string)
	ep, err1 := strconv.ParseUint(es, 10, 64)
	ver, err2 := strconv.ParseUint(vs, 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return hotstate.Position{}, fmt.Errorf("bad position %v/%v", ev, vv)
	}
	return hotstate.Position{Epoch: ep, Version: ver}, nil
}

func change(ev, vv, fv any) (hotstate.Change, error) {
	p, err := parsePosition(ev, vv)
	if err != nil {
		return hotstate.Change{}, err
	}
	f, ok := fv.(string)
	if !ok {
		return hotstate.Change{}, fmt.Errorf("bad frame %T", fv)
	}
	return hotstate.Change{Position: p, Frame: []byte(f)}, nil
}

// changes turns stream entries into changes.
func changes(xs []redis.XMessage) ([]hotstate.Change, error) {
	cs := make([]hotstate.Change, 0, len(xs))
	for _, x := range xs {
		c, err := change(x.Values["e"], x.Values["v"], x.Values["f"])
		if err != nil {
			return nil, fmt.Errorf("entry %s: %w", x.ID, err)
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// scriptChanges reads stream entries as a script returns them: an array
// of [id, [field, value, ...]].
func scriptChanges(v any) ([]hotstate.Change, error) {
	xs, _ := v.([]any)
	cs := make([]hotstate.Change, 0, len(xs))
	for _, x := range xs {
		entry, _ := x.([]any)
		if len(entry) != 2 {
			return nil, fmt.Errorf("bad entry %v", x)
		}
		fields, _ := entry[1].([]any)
		var e, ver, f any
		for i := 0; i+1 < len(fields); i += 2 {
			switch fields[i] {
			case "e":
				e = fields[i+1]
			case "v":
				ver = fields[i+1]
			case "f":
				f = fields[i+1]
			}
		}
		c, err := change(e, ver, f)
		if err != nil {
			return nil, fmt.Errorf("entry %v: %w", entry[0], err)
		}
		cs = append(cs, c)
	}
	return cs, nil
}
