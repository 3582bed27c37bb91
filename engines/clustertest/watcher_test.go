package clustertest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/coder/websocket"
	"github.com/hotstate/hotstate/core/wire"
)

// watcher is a raw subscriber of one store on one node: it keeps the state
// the way a client does and records any version out of order, which a
// client library would hide by resubscribing.
type watcher struct {
	store string

	mu      sync.Mutex
	epoch   uint64
	version uint64
	state   any
	snaps   int
	fault   error
}

func watch(t *testing.T, n *node, store string) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ws, _, err := websocket.Dial(ctx, n.url(), nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ws.SetReadLimit(1 << 24)
	w := &watcher{store: store}
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		_ = ws.CloseNow()
		<-done
	})
	if err := ws.Write(ctx, websocket.MessageBinary, wire.EncodeSub(store)); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(done)
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				return
			}
			f, err := wire.Decode(b)
			if err != nil {
				w.fail(err)
				return
			}
			if f.Store == store {
				w.take(f)
			}
		}
	}()
	return w
}

func (w *watcher) take(f wire.Frame) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch f.Type {
	case wire.TypeSnap:
		v, err := wire.DecodeAny(f.Value)
		if err != nil {
			w.failLocked(err)
			return
		}
		w.state, w.epoch, w.version = v, f.Epoch, f.Version
		w.snaps++
	case wire.TypePatch:
		if f.Epoch != w.epoch || f.Version != w.version+1 {
			w.failLocked(fmt.Errorf("%s: patch %d/%d after %d/%d", w.store, f.Epoch, f.Version, w.epoch, w.version))
			return
		}
		next, err := wire.Apply(w.state, f.Ops)
		if err != nil {
			w.failLocked(err)
			return
		}
		w.state, w.version = next, f.Version
	}
}

func (w *watcher) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failLocked(err)
}

func (w *watcher) failLocked(err error) {
	if w.fault == nil {
		w.fault = err
	}
}

// n returns the counter the watcher holds and where it stands.
func (w *watcher) n() (n int, epoch, version uint64, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if m, ok := w.state.(map[string]any); ok {
		n = toInt(m["n"])
	}
	return n, w.epoch, w.version, w.fault
}

func toInt(v any) int {
	switch n := v.(type) {
	case int8:
		return int(n)
	case int16:
		return int(n)
	case int32:
		return int(n)
	case int64:
		return int(n)
	case uint8:
		return int(n)
	case uint16:
		return int(n)
	case uint32:
		return int(n)
	case uint64:
		return int(n)
	}
	return -1
}
