package hotclient

import (
	"errors"
	"testing"
	"time"

	"github.com/hotstate/hotstate/core/wire"
)

func refuse(t *testing.T, c *Client, store, code string) {
	t.Helper()
	feed(t, c, wire.EncodeErr(store, wire.Error{Code: code, Message: "no"}), nil)
}

func onlySubs(fs []wire.Frame) bool {
	for _, f := range fs {
		if f.Type != wire.TypeSub {
			return false
		}
	}
	return true
}

// pending reports whether store has a retry scheduled.
func pending(c *Client, store string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.stores[store]
	return st != nil && st.retry != nil
}

// TestRefusalRetryLifetime follows the retry of a transient refusal: it
// asks for a snapshot, and it is dropped by a snapshot, a disconnection,
// Unsubscribe, a refusal for good and Close.
func TestRefusalRetryLifetime(t *testing.T) {
	c, cn := offline(t)
	h := c.Subscribe("S", nil)
	expectSub(t, cn)
	snap(t, c, 1, 1, map[string]any{"n": int64(1)})
	if h.Stale() {
		t.Fatal("stale while served")
	}

	// A refused resume is retried as a plain sub, after at most the first
	// backoff ceiling.
	refuse(t, c, "S", wire.CodeRateLimited)
	if !h.Stale() || h.Err() != nil || !pending(c, "S") {
		t.Fatalf("after a refusal: Stale %v, Err %v, pending %v", h.Stale(), h.Err(), pending(c, "S"))
	}
	deadline := time.Now().Add(time.Second)
	var fs []wire.Frame
	for len(fs) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		fs = sent(t, cn)
	}
	if len(fs) != 1 || fs[0].Type != wire.TypeSub || fs[0].Resume {
		t.Fatalf("retried with %+v, want one plain sub", fs)
	}
	if !h.Stale() {
		t.Fatal("fresh before the snapshot the retry asked for")
	}
	snap(t, c, 1, 2, map[string]any{"n": int64(2)})
	if h.Stale() || pending(c, "S") {
		t.Fatal("still stale after the snapshot")
	}

	// A disconnection drops the retry; the next connection resumes.
	refuse(t, c, "S", wire.CodeBusy)
	c.detach(errors.New("cut"))
	if pending(c, "S") || !h.Stale() {
		t.Fatal("the retry outlived the connection")
	}
	next := newConn(nil)
	if !c.attach(next, wire.Frame{Type: wire.TypeHello, Protocol: 1, Client: "x"}) {
		t.Fatal("attach refused")
	}
	if fs := sent(t, next); len(fs) != 1 || !fs[0].Resume || h.Stale() {
		t.Fatalf("after reconnecting: sent %+v, Stale %v", fs, h.Stale())
	}

	// Unsubscribe drops it.
	refuse(t, c, "S", wire.CodeRateLimited)
	h.Unsubscribe()
	if pending(c, "S") {
		t.Fatal("the retry outlived Unsubscribe")
	}
	// A retry may have fired before Unsubscribe.
	if fs := sent(t, next); len(fs) == 0 || fs[len(fs)-1].Type != wire.TypeUnsub || !onlySubs(fs[:len(fs)-1]) {
		t.Fatalf("sent %+v, want the unsub", fs)
	}

	// A refusal for good ends the store, retry and all, and the handle
	// keeps its state; a store never served needs no unsub.
	h = c.Subscribe("S", nil)
	refuse(t, c, "S", wire.CodeRateLimited)
	refuse(t, c, "S", wire.CodeForbidden)
	var re *RemoteError
	if !errors.As(h.Err(), &re) || re.Code != wire.CodeForbidden || pending(c, "S") {
		t.Fatalf("after forbidden: Err %v, pending %v", h.Err(), pending(c, "S"))
	}
	if fs := sent(t, next); !onlySubs(fs) {
		t.Fatalf("sent %+v, want subs only", fs)
	}

	// Close drops it.
	h = c.Subscribe("T", nil)
	refuse(t, c, "T", wire.CodeRateLimited)
	_ = c.Close()
	if pending(c, "T") || !errors.Is(h.Err(), ErrClosed) {
		t.Fatalf("after Close: pending %v, Err %v", pending(c, "T"), h.Err())
	}
}
