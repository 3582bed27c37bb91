package hotstate_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

type obsRoom struct {
	Messages []string `json:"messages"`
}

type obsList struct {
	Items []int64 `json:"items"`
}

// recorder is an Observer that keeps what it heard.
type recorder struct {
	mu      sync.Mutex // guards everything below
	opened  int
	closed  []int
	subs    []hotstate.SubscribedInfo
	unsubs  []string
	created []string
	deleted []string
	changes []hotstate.ChangeInfo
	calls   []hotstate.CallInfo
	refused []string
	queue   int
	appends int
}

func (r *recorder) observer() *hotstate.Observer {
	lock := func(fn func()) { r.mu.Lock(); defer r.mu.Unlock(); fn() }
	return &hotstate.Observer{
		ConnOpened:      func(hotstate.ConnOpenedInfo) { lock(func() { r.opened++ }) },
		ConnClosed:      func(i hotstate.ConnClosedInfo) { lock(func() { r.closed = append(r.closed, i.Code) }) },
		Subscribed:      func(i hotstate.SubscribedInfo) { lock(func() { r.subs = append(r.subs, i) }) },
		Unsubscribed:    func(i hotstate.UnsubscribedInfo) { lock(func() { r.unsubs = append(r.unsubs, i.Store) }) },
		InstanceCreated: func(i hotstate.InstanceInfo) { lock(func() { r.created = append(r.created, i.Store) }) },
		InstanceDeleted: func(i hotstate.InstanceInfo) { lock(func() { r.deleted = append(r.deleted, i.Store) }) },
		ChangeApplied:   func(i hotstate.ChangeInfo) { lock(func() { r.changes = append(r.changes, i) }) },
		CallDone:        func(i hotstate.CallInfo) { lock(func() { r.calls = append(r.calls, i) }) },
		FrameRefused:    func(i hotstate.RefusedInfo) { lock(func() { r.refused = append(r.refused, i.Code) }) },
		QueueChanged:    func(i hotstate.QueueInfo) { lock(func() { r.queue += i.Delta }) },
		EngineAppended:  func(hotstate.AppendInfo) { lock(func() { r.appends++ }) },
	}
}

func (r *recorder) read(fn func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn()
}

func TestObserverHearsTheServer(t *testing.T) {
	var r, second recorder
	srv := hotstate.New(hotstate.WithObserver(r.observer()), hotstate.WithObserver(&hotstate.Observer{
		CallDone: second.observer().CallDone,
	}))
	rooms := hotstate.NewFamily(srv, "Room:*", obsRoom{Messages: []string{}})
	hotstate.Handle(srv, "post", func(ctx context.Context, a struct{ Room, Text string }) (bool, error) {
		return true, rooms.Update(a.Room, func(r *obsRoom) { r.Messages = append(r.Messages, a.Text) })
	})
	hotstate.Handle(srv, "fail", func(ctx context.Context, _ any) (any, error) {
		return nil, &hotstate.Error{Code: "nope", Message: "no"}
	})

	c := connect(t, srv)
	c.send(wire.EncodeSub("Room:general"))
	snap := c.expect(wire.TypeSnap)
	rpc, _ := wire.EncodeRPC(1, "post", map[string]any{"Room": "general", "Text": "hi"})
	c.send(rpc)
	c.expect(wire.TypePatch)
	c.expect(wire.TypeRes)
	fail, _ := wire.EncodeRPC(2, "fail", nil)
	c.send(fail)
	c.expect(wire.TypeRes)
	unknown, _ := wire.EncodeRPC(3, "nobody", nil)
	c.send(unknown)
	c.expect(wire.TypeRes)
	c.send(wire.EncodeResume("Room:general", snap.Epoch, snap.Version))
	c.expect(wire.TypePatch) // the missed patch again: a resume
	c.send(wire.EncodeUnsub("Room:general"))
	within(t, "the unsubscription", func() bool {
		n := 0
		r.read(func() { n = len(r.unsubs) })
		return n == 1
	})
	rooms.Delete("general")
	c.close()

	r.read(func() {
		if r.opened != 1 || len(r.closed) != 1 || r.closed[0] != 0 {
			t.Errorf("opened %d, closed %v; want 1 and [0] (closed by the client)", r.opened, r.closed)
		}
		want := []hotstate.SubscribedInfo{{Store: "Room:*"}, {Store: "Room:*", Resumed: true, Again: true}}
		if len(r.subs) != 2 || r.subs[0] != want[0] || r.subs[1] != want[1] {
			t.Errorf("subscriptions %+v, want %+v", r.subs, want)
		}
		if len(r.unsubs) != 1 || r.unsubs[0] != "Room:*" {
			t.Errorf("unsubscriptions %q", r.unsubs)
		}
		if len(r.created) != 1 || r.created[0] != "Room:*" || len(r.deleted) != 1 || r.deleted[0] != "Room:*" {
			t.Errorf("instances created %q, deleted %q", r.created, r.deleted)
		}
		// The creation's snapshot, with nobody subscribed yet, then the patch.
		if len(r.changes) != 2 || r.changes[1].Store != "Room:*" || r.changes[1].Subscribers != 1 || r.changes[1].Bytes == 0 {
			t.Errorf("changes %+v", r.changes)
		}
		if len(r.calls) != 2 || r.calls[0].Function != "post" || r.calls[0].Code != "ok" || r.calls[1].Code != "nope" {
			t.Errorf("calls %+v", r.calls)
		}
		if len(r.refused) != 1 || r.refused[0] != wire.CodeUnknownFunction {
			t.Errorf("refused %q", r.refused)
		}
		if r.queue != 0 {
			t.Errorf("%d bytes left queued by a closed connection", r.queue)
		}
		if r.appends != 3 { // creation, patch, deletion
			t.Errorf("%d appends, want 3", r.appends)
		}
	})
	second.read(func() {
		if len(second.calls) != 2 {
			t.Errorf("the second observer heard %d calls, want 2", len(second.calls))
		}
	})
}

func TestObserverHearsSlowConsumersAndConflicts(t *testing.T) {
	slow := make(chan string, 1)
	var mu sync.Mutex
	var conflicts int
	eng := &conflicting{Engine: hotstate.NewMemoryEngine(256, 256<<10)}
	srv := hotstate.New(hotstate.WithMaxQueueBytes(1), hotstate.WithEngine(eng), hotstate.WithObserver(&hotstate.Observer{
		SlowConsumer: func(i hotstate.SlowConsumerInfo) { slow <- i.ClientID },
		EngineAppended: func(i hotstate.AppendInfo) {
			if i.IsConflict() {
				mu.Lock()
				conflicts++
				mu.Unlock()
			}
		},
	}))
	todos := hotstate.NewStore(srv, "Todos", obsList{Items: []int64{}})
	eng.conflicts.Store(1)
	if err := todos.Update(func(s *obsList) { s.Items = append(s.Items, 1) }); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if conflicts != 1 {
		t.Errorf("%d conflicts heard, want 1", conflicts)
	}
	mu.Unlock()

	// A client that reads nothing, with a one-byte queue: the second frame
	// queued behind the first closes it.
	p := newStalledPipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeConn(context.Background(), p)
	}()
	p.in <- wire.EncodeSub("Todos")
	deadline := time.After(5 * time.Second)
	for i := int64(2); ; i++ {
		// Until the subscription has come in and a frame waits behind
		// another, each change is one more try.
		_ = todos.Update(func(s *obsList) { s.Items = append(s.Items, i) })
		select {
		case <-slow:
		case <-deadline:
			t.Fatal("no slow consumer reported")
		case <-time.After(time.Millisecond):
			continue
		}
		break
	}
	close(p.release)
	<-done
}

// conflicting is an engine that refuses the next appends with ErrConflict
// as though another node had written first, though nothing moved.
type conflicting struct {
	hotstate.Engine
	conflicts atomicInt
}

func (e *conflicting) Append(ctx context.Context, name string, prev hotstate.Position, c hotstate.Change) error {
	if e.conflicts.take() {
		return errors.Join(hotstate.ErrConflict)
	}
	return e.Engine.Append(ctx, name, prev, c)
}

type atomicInt struct {
	mu sync.Mutex
	n  int
}

func (a *atomicInt) Store(n int) { a.mu.Lock(); a.n = n; a.mu.Unlock() }
func (a *atomicInt) take() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == 0 {
		return false
	}
	a.n--
	return true
}

// stalledPipe is a Conn whose writes block until release is closed, the
// way a client that stopped reading fills its socket.
type stalledPipe struct {
	in      chan []byte
	release chan struct{}
	closed  chan struct{}
	once    sync.Once
}

func newStalledPipe() *stalledPipe {
	return &stalledPipe{in: make(chan []byte, 8), release: make(chan struct{}), closed: make(chan struct{})}
}

func (p *stalledPipe) Read(ctx context.Context) ([]byte, error) {
	select {
	case b := <-p.in:
		return b, nil
	case <-p.closed:
		return nil, errors.New("closed")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *stalledPipe) Write(ctx context.Context, frame []byte) error {
	select {
	case <-p.release:
		return nil
	case <-p.closed:
		return errors.New("closed")
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *stalledPipe) Ping(ctx context.Context) error { return nil }
func (p *stalledPipe) Close(code int, reason string) error {
	p.once.Do(func() { close(p.closed) })
	return nil
}
func (p *stalledPipe) Info() hotstate.ConnInfo { return hotstate.ConnInfo{RemoteAddr: "stalled"} }
