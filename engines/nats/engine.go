// Package hotnats is a hotstate.Engine on NATS JetStream: the log of every
// store instance is one subject of a stream, written only by a publish
// that expects the subject's last sequence, so every node that shares the
// NATS deployment shares the stores.
//
//	nc, _ := nats.Connect(nats.DefaultURL)
//	js, _ := jetstream.New(nc)
//	eng, err := hotnats.New(ctx, js)
//	srv := hotstate.New(hotstate.WithEngine(eng))
//
// It needs nats-server 2.9 or later with JetStream enabled. New creates
// (or updates) two streams and two key-value buckets, all named after the
// prefix P (default "hotstate"):
//
//	stream P_log    subjects P.log.*: one subject per instance, its changes
//	stream P_snap   subjects P.snap.*: the latest checkpoint per instance
//	bucket P_counts key N: every node's subscribers of the instance
//	bucket P_nodes  key per node: its liveness, expiring after the node TTL
//	subject P.msg.C core NATS subject of Publish and Listen on channel C
//
// Instance names and channels are arbitrary strings ("Room:general", a
// user's key with dots, spaces, '*' or '>'), which are not valid subject
// tokens: each is written as one token N, its base64url encoding without
// padding (RFC 4648 §5), or "_" for the empty name. The subject of the
// instance "Room:general" is thus "hotstate.log.Um9vbTpnZW5lcmFs". Names
// are limited only by the server's maximum control line (4 KiB by
// default), which the encoded subject must fit in.
//
// Every change is a message whose body is the change's frame and whose
// headers carry its position (Hotstate-Epoch, Hotstate-Version), since
// stream sequences are shared by every subject of the stream and cannot
// be the version, and the sequences of the instance's previous message
// and latest snapshot, so readers find them without scanning.
//
// Durability is the stream's: the default file storage survives a
// restart of the server; WithReplicas keeps copies on more servers of a
// cluster, which also survives the loss of a machine.
package hotnats

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrUnavailable is returned, wrapped, by the engine's calls while its
// connection to NATS is down: they fail at once rather than wait for the
// connection to come back.
var ErrUnavailable = fmt.Errorf("hotstate: nats: not connected: %w", hotstate.ErrUnavailable)

// Engine is a hotstate.Engine that keeps its logs in NATS JetStream. Make
// one with New; it is safe for concurrent use. Close stops its background
// work.
type Engine struct {
	js         jetstream.JetStream
	nc         *nats.Conn
	prefix     string
	maxChanges int
	replicas   int
	node       string
	nodeTTL    time.Duration
	log        *slog.Logger
	// disconnect closes a connection the engine made itself (Connect);
	// nil for the caller's.
	disconnect func()

	logs   jetstream.Stream
	snaps  jetstream.Stream
	counts jetstream.KeyValue
	nodes  jetstream.KeyValue

	// member is this node's name in the subscriber counts: its node id
	// and a random incarnation, so that the counts a crashed node left
	// behind never count again when a node of the same id starts.
	member string

	tips tipCache

	// ctx is cancelled by Close: background work and its calls end on it.
	ctx       context.Context
	cancel    context.CancelFunc
	closeOnce sync.Once
	// wg counts the goroutines the engine started: the heartbeat and the
	// watchers waiting for the server.
	wg sync.WaitGroup

	// mu guards closed, watchers and listeners.
	mu        sync.Mutex
	closed    bool
	watchers  map[*watcher]struct{}
	listeners map[*listener]*nats.Subscription

	// cmu guards own and beating.
	cmu sync.Mutex
	// own is this node's subscriber count per instance, kept to write
	// them again when the server has dropped them (see beat).
	own     map[string]int
	beating bool
}

// Option configures an Engine made by New.
type Option interface{ apply(*Engine) }

type optionFunc func(*Engine)

func (f optionFunc) apply(e *Engine) { f(e) }

// WithPrefix sets the prefix of every subject, stream and bucket the
// engine uses; engines that share stores use the same prefix. It must be
// a non-empty run of letters, digits, '-' and '_' (a subject token that
// is also a valid stream name). The default is "hotstate".
func WithPrefix(prefix string) Option {
	return optionFunc(func(e *Engine) { e.prefix = prefix })
}

// WithMaxChanges sets how many changes each instance's subject keeps for
// catching up (Since); older ones are dropped by the stream. Checkpoints
// keep Load working past them. The default is 1024.
func WithMaxChanges(n int) Option {
	return optionFunc(func(e *Engine) {
		if n > 0 {
			e.maxChanges = n
		}
	})
}

// WithReplicas sets how many servers of a NATS cluster keep each stream
// and bucket. The default is 1.
func WithReplicas(n int) Option {
	return optionFunc(func(e *Engine) {
		if n > 0 {
			e.replicas = n
		}
	})
}

// WithNodeID names this node in the subscriber counts. The default is
// random.
func WithNodeID(id string) Option {
	return optionFunc(func(e *Engine) {
		if id != "" {
			e.node = id
		}
	})
}

// WithNodeTTL sets how long this node's subscribers keep counting after
// its heartbeat stops (the node crashed or lost NATS). The heartbeat runs
// every third of it. It is the max age of the nodes bucket, so engines
// sharing a prefix use the same TTL. The default is 15 seconds.
func WithNodeTTL(d time.Duration) Option {
	return optionFunc(func(e *Engine) {
		if d > 0 {
			e.nodeTTL = d
		}
	})
}

// WithLogger sets where the engine reports failures of its background
// work (watching, heartbeats, clean-up). The default discards them.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(e *Engine) {
		if l != nil {
			e.log = l
		}
	})
}

// New returns an engine that keeps its logs in js, creating its streams
// and buckets or updating their limits. The engine does not own js's
// connection: close it after the engine.
func New(ctx context.Context, js jetstream.JetStream, opts ...Option) (*Engine, error) {
	e := &Engine{
		js:         js,
		nc:         js.Conn(),
		prefix:     "hotstate",
		maxChanges: 1024,
		replicas:   1,
		nodeTTL:    15 * time.Second,
		log:        slog.New(slog.DiscardHandler),
		own:        map[string]int{},
	}
	for _, o := range opts {
		o.apply(e)
	}
	if !validPrefix(e.prefix) {
		return nil, fmt.Errorf("hotstate: nats: prefix %q is not a run of letters, digits, '-' and '_'", e.prefix)
	}
	if e.node == "" {
		e.node = randomID()
	}
	e.member = token(e.node) + "." + randomID()
	e.tips = tipCache{m: map[string]tip{}}
	if err := e.setUp(ctx); err != nil {
		return nil, err
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	return e, nil
}

// setUp creates the streams and buckets, or updates their limits to this
// engine's options.
func (e *Engine) setUp(ctx context.Context) error {
	var err error
	e.logs, err = e.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              e.prefix + "_log",
		Subjects:          []string{e.prefix + ".log.*"},
		Storage:           jetstream.FileStorage,
		Replicas:          e.replicas,
		MaxMsgsPerSubject: int64(e.maxChanges),
		Discard:           jetstream.DiscardOld,
		AllowDirect:       true,
	})
	if err != nil {
		return fmt.Errorf("hotstate: nats: stream %s_log: %w", e.prefix, err)
	}
	e.snaps, err = e.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              e.prefix + "_snap",
		Subjects:          []string{e.prefix + ".snap.*"},
		Storage:           jetstream.FileStorage,
		Replicas:          e.replicas,
		MaxMsgsPerSubject: 1,
		Discard:           jetstream.DiscardOld,
		AllowDirect:       true,
	})
	if err != nil {
		return fmt.Errorf("hotstate: nats: stream %s_snap: %w", e.prefix, err)
	}
	e.counts, err = e.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:   e.prefix + "_counts",
		Storage:  jetstream.FileStorage,
		Replicas: e.replicas,
	})
	if err != nil {
		return fmt.Errorf("hotstate: nats: bucket %s_counts: %w", e.prefix, err)
	}
	e.nodes, err = e.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:   e.prefix + "_nodes",
		Storage:  jetstream.FileStorage,
		Replicas: e.replicas,
		TTL:      e.nodeTTL,
	})
	if err != nil {
		return fmt.Errorf("hotstate: nats: bucket %s_nodes: %w", e.prefix, err)
	}
	return nil
}

// Close stops the engine's background goroutines and every watch and
// listen still running, and removes this node's subscriber counts, so that
// other nodes stop counting them at once rather than after the node TTL.
func (e *Engine) Close() {
	e.closeOnce.Do(func() {
		e.mu.Lock()
		e.closed = true
		e.mu.Unlock()
		e.stopWatchers()
		e.stopListeners()
		e.cancel()
		e.wg.Wait()
		// After the heartbeat stopped, which could mark the node alive
		// again.
		e.forgetNode()
		if e.disconnect != nil {
			e.disconnect()
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

// connected fails fast while the connection is down: a request sent then
// would sit in the client's reconnect buffer until its context ends.
func (e *Engine) connected(op, name string) error {
	if e.nc.IsConnected() {
		return nil
	}
	return fmt.Errorf("%w: %s %q", ErrUnavailable, op, name)
}

// opTimeout bounds the calls of background work, which has no caller's
// context.
const opTimeout = 5 * time.Second

// token encodes name as one subject token (and key-value key): base64url
// without padding, whose alphabet holds no '.', '*', '>' or space.
func token(name string) string {
	if name == "" {
		return "_" // no encoding of a non-empty name is this short
	}
	return base64.RawURLEncoding.EncodeToString([]byte(name))
}

func (e *Engine) logSubject(name string) string  { return e.prefix + ".log." + token(name) }
func (e *Engine) snapSubject(name string) string { return e.prefix + ".snap." + token(name) }
func (e *Engine) msgSubject(ch string) string    { return e.prefix + ".msg." + token(ch) }

func validPrefix(p string) bool {
	if p == "" {
		return false
	}
	for _, r := range p {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
		if !ok {
			return false
		}
	}
	return true
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
