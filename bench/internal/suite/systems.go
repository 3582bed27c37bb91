package suite

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/centrifugal/centrifuge"
	"github.com/coder/websocket"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// The systems compared.
const (
	Hotstate   = "hotstate"
	Raw        = "raw"
	Centrifuge = "centrifuge"
	// Observed is hotstate with the metrics modules' observers and the
	// inspector attached (nobody watching its page): what they cost,
	// against Hotstate in the same run. It runs only when -systems names
	// it.
	Observed = "hotstate+metrics"
)

// Systems lists every system in the order tables show them.
var Systems = []string{Hotstate, Observed, Raw, Centrifuge}

// DefaultSystems are the systems a run compares unless told otherwise.
var DefaultSystems = []string{Hotstate, Raw, Centrifuge}

// speaks is the protocol a system's clients use: hotstate's for both of
// its variants.
func speaks(sys string) string {
	if sys == Observed {
		return Hotstate
	}
	return sys
}

// system is one server under test.
type system interface {
	// serve serves WebSockets on ln until ctx ends, then stops every
	// connection and returns.
	serve(ctx context.Context, ln net.Listener) error
	// publish makes change number seq, stamped ts, and sends it to every
	// subscriber.
	publish(seq uint64, ts int64) error
	// subscribers counts the subscribed connections.
	subscribers() int
}

// newSystem returns the named system; transport serves hotstate and is
// ignored by the others. A zero shared runs the system on its own; else
// hotstate commits through the engine shared names and centrifuge uses
// its Redis broker there (the raw server has no cluster mode).
func newSystem(ctx context.Context, name, transport string, shared sharedEngine) (system, error) {
	switch name {
	case Hotstate:
		return newHotSystem(ctx, transport, shared)
	case Observed:
		return newObservedSystem(ctx, transport, shared)
	case Raw:
		if shared.URL != "" {
			return nil, fmt.Errorf("suite: the raw server has no cluster mode")
		}
		return newRawSystem(), nil
	case Centrifuge:
		return newCentSystem(shared)
	}
	return nil, fmt.Errorf("suite: unknown system %q", name)
}

// hotSystem is hotstate as a user runs it: core behind one of its
// transports (hothttp unless -transport says otherwise), one store changed
// with Update, one typed function, and the counter the update
// measurements change. On a cluster it commits through a shared engine.
type hotSystem struct {
	srv       *hotstate.Server
	feed      *hotstate.Store[Feed]
	counter   *hotstate.Store[Counter]
	transport string
	// closeEngine closes the shared engine, or does nothing.
	closeEngine func()
}

func newHotSystem(ctx context.Context, transport string, shared sharedEngine, opts ...hotstate.Option) (*hotSystem, error) {
	closeEngine := func() {}
	if shared.URL != "" {
		eng, closeFn, err := dialEngine(ctx, shared)
		if err != nil {
			return nil, err
		}
		opts = append(opts, hotstate.WithEngine(eng))
		closeEngine = closeFn
	}
	srv := hotstate.New(opts...)
	feed := hotstate.NewStore(srv, feedStore, Feed{})
	feed.Init()
	counter := hotstate.NewStore(srv, counterStore, Counter{})
	hotstate.Handle(srv, echoFunc, func(_ context.Context, a EchoArgs) (EchoArgs, error) { return a, nil })
	return &hotSystem{srv: srv, feed: feed, counter: counter, transport: transport, closeEngine: closeEngine}, nil
}

func (h *hotSystem) serve(ctx context.Context, ln net.Listener) error {
	defer h.closeEngine()
	return serveHot(ctx, h.transport, h.srv, ln)
}

// increment is one change of the counter the update measurements make;
// runs counts how often its mutation ran, which is more than once for a
// writer that lost a race with another node.
func (h *hotSystem) increment(runs *atomic.Uint64) error {
	return h.counter.Update(func(c *Counter) {
		runs.Add(1)
		c.N++
	})
}

func (h *hotSystem) publish(seq uint64, ts int64) error {
	m := newMessage(seq, ts)
	return h.feed.Update(func(f *Feed) {
		f.Seq = seq
		f.Last = m
	})
}

func (h *hotSystem) subscribers() int { return h.feed.SubscriberCount() }

// rawSystem is the ceiling: a github.com/coder/websocket server that encodes
// each change once as the same hotstate patch frame and writes it to every
// connection from the publishing goroutine, with no queue, no diff, no
// write timeout and no heartbeat. It greets each connection with a hello
// frame once registered and echoes every message it receives (the RPC
// ceiling).
type rawSystem struct {
	hello []byte
	wg    sync.WaitGroup // the connection handlers

	mu     sync.Mutex // guards conns, list and closed
	conns  map[*websocket.Conn]struct{}
	list   []*websocket.Conn // conns as a slice; nil when it must be rebuilt
	closed bool
}

func newRawSystem() *rawSystem {
	return &rawSystem{hello: wire.EncodeHello("raw"), conns: map[*websocket.Conn]struct{}{}}
}

func (r *rawSystem) serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: http.HandlerFunc(r.handle), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	_ = hs.Close()
	<-errc
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		_ = c.CloseNow()
	}
	r.mu.Unlock()
	r.wg.Wait()
	return nil
}

func (r *rawSystem) handle(w http.ResponseWriter, req *http.Request) {
	ws, err := websocket.Accept(w, req, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	ws.SetReadLimit(64 << 10)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		_ = ws.CloseNow()
		return
	}
	// Added under mu, so serve's Wait, which follows closed = true, sees it.
	r.wg.Add(1)
	r.conns[ws] = struct{}{}
	r.list = nil
	r.mu.Unlock()
	defer r.wg.Done()
	defer func() {
		r.mu.Lock()
		delete(r.conns, ws)
		r.list = nil
		r.mu.Unlock()
		_ = ws.CloseNow()
	}()
	ctx := context.Background()
	if ws.Write(ctx, websocket.MessageBinary, r.hello) != nil {
		return
	}
	for {
		typ, b, err := ws.Read(ctx)
		if err != nil || ws.Write(ctx, typ, b) != nil {
			return
		}
	}
}

func (r *rawSystem) publish(seq uint64, ts int64) error {
	m := newMessage(seq, ts)
	frame, err := wire.EncodePatch(feedStore, 1, seq, []wire.Op{
		{Op: wire.OpReplace, Path: "/seq", Value: seq},
		{Op: wire.OpReplace, Path: "/last/text", Value: m.Text},
		{Op: wire.OpReplace, Path: "/last/ts", Value: m.TS},
	})
	if err != nil {
		return err
	}
	r.mu.Lock()
	if r.list == nil {
		r.list = make([]*websocket.Conn, 0, len(r.conns))
		for c := range r.conns {
			r.list = append(r.list, c)
		}
	}
	list := r.list
	r.mu.Unlock()
	ctx := context.Background()
	for _, c := range list {
		_ = c.Write(ctx, websocket.MessageBinary, frame)
	}
	return nil
}

func (r *rawSystem) subscribers() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.conns)
}

// centSystem is github.com/centrifugal/centrifuge with its defaults: a Node
// with the in-memory broker, one channel, an RPC handler that decodes and
// encodes its JSON arguments as a user's would, and its WebSocket handler.
// Clients speak its protobuf protocol, its most compact. On a cluster the
// Node uses its Redis broker, with one RedisShard, and the defaults of
// both.
type centSystem struct {
	node *centrifuge.Node
}

func newCentSystem(shared sharedEngine) (*centSystem, error) {
	node, err := centrifuge.New(centrifuge.Config{LogLevel: centrifuge.LogLevelNone})
	if err != nil {
		return nil, err
	}
	if shared.URL != "" {
		if err := useRedisBroker(node, shared); err != nil {
			return nil, err
		}
	}
	node.OnConnecting(func(context.Context, centrifuge.ConnectEvent) (centrifuge.ConnectReply, error) {
		return centrifuge.ConnectReply{Credentials: &centrifuge.Credentials{UserID: "bench"}}, nil
	})
	node.OnConnect(func(c *centrifuge.Client) {
		c.OnSubscribe(func(_ centrifuge.SubscribeEvent, cb centrifuge.SubscribeCallback) {
			cb(centrifuge.SubscribeReply{}, nil)
		})
		c.OnRPC(func(e centrifuge.RPCEvent, cb centrifuge.RPCCallback) {
			var a EchoArgs
			if err := json.Unmarshal(e.Data, &a); err != nil {
				cb(centrifuge.RPCReply{}, centrifuge.ErrorBadRequest)
				return
			}
			out, err := json.Marshal(a)
			if err != nil {
				cb(centrifuge.RPCReply{}, centrifuge.ErrorInternal)
				return
			}
			cb(centrifuge.RPCReply{Data: out}, nil)
		})
	})
	if err := node.Run(); err != nil {
		return nil, err
	}
	return &centSystem{node: node}, nil
}

func (c *centSystem) serve(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("/connection/websocket", centrifuge.NewWebsocketHandler(c.node, centrifuge.WebsocketConfig{
		CheckOrigin: func(*http.Request) bool { return true },
	}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		_ = c.node.Shutdown(context.Background())
		return err
	case <-ctx.Done():
	}
	_ = hs.Close()
	<-errc
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.node.Shutdown(sctx)
}

func (c *centSystem) publish(seq uint64, ts int64) error {
	data, err := json.Marshal(Feed{Seq: seq, Last: newMessage(seq, ts)})
	if err != nil {
		return err
	}
	_, err = c.node.Publish(feedChannel, data)
	return err
}

func (c *centSystem) subscribers() int { return c.node.Hub().NumSubscribers(feedChannel) }

// useRedisBroker makes node publish and subscribe through centrifuge's
// Redis broker on the server shared names, with one shard.
func useRedisBroker(node *centrifuge.Node, shared sharedEngine) error {
	addr, ok := strings.CutPrefix(shared.URL, "redis://")
	if !ok {
		return fmt.Errorf("suite: centrifuge's broker here is Redis, not %q", shared.URL)
	}
	shard, err := centrifuge.NewRedisShard(node, centrifuge.RedisShardConfig{Address: addr})
	if err != nil {
		return err
	}
	broker, err := centrifuge.NewRedisBroker(node, centrifuge.RedisBrokerConfig{Prefix: shared.Prefix, Shards: []*centrifuge.RedisShard{shard}})
	if err != nil {
		shard.Close()
		return err
	}
	node.SetBroker(broker)
	return nil
}
