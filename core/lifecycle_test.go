package hotstate_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// TestOnIdleDeleteSparesANewSubscriber: a subscriber joining while OnIdle
// runs must not get a snapshot of the instance the hook then deletes.
func TestOnIdleDeleteSparesANewSubscriber(t *testing.T) {
	srv := hotstate.New()
	rooms := hotstate.NewFamily(srv, "Room:*", room{Messages: []string{}})
	entered, release := make(chan struct{}), make(chan struct{})
	var idles atomic.Int32
	rooms.OnIdle(func(key string) {
		if idles.Add(1) == 1 {
			close(entered)
			<-release
		}
		rooms.Delete(key)
	})
	a, b := connect(t, srv), connect(t, srv)
	a.send(wire.EncodeSub("Room:x"))
	a.expect(wire.TypeSnap)
	a.send(wire.EncodeUnsub("Room:x"))
	<-entered
	// b subscribes while the hook holds its decision.
	b.send(wire.EncodeSub("Room:x"))
	within(t, "b's subscription to wait", func() bool { return rooms.SubscriberCount("x") == 0 })
	close(release)
	snap := b.expect(wire.TypeSnap)
	if snap.Store != "Room:x" {
		t.Fatalf("snap for %q", snap.Store)
	}
	within(t, "b to hold a live room", func() bool { return rooms.SubscriberCount("x") == 1 })
	if err := rooms.Update("x", func(r *room) { r.Messages = append(r.Messages, "hi") }); err != nil {
		t.Fatal(err)
	}
	if f := b.next(); f.Type != wire.TypePatch || f.Epoch != snap.Epoch {
		t.Fatalf("after the idle hook b got %+v, want a patch of epoch %x", f, snap.Epoch)
	}
	if n := idles.Load(); n != 1 {
		t.Fatalf("OnIdle ran %d times for one idle transition", n)
	}
}

// storeCalls are the calls a hook may make on a store key.
func storeCalls(rooms *hotstate.Family[room], key string) map[string]func() error {
	return map[string]func() error{
		"Update":    func() error { return rooms.Update(key, func(r *room) { r.Name = "u" }) },
		"UpdateOps": func() error { return rooms.UpdateOps(key, func(r *room) []hotstate.Op { return nil }) },
		"Set":       func() error { return rooms.Set(key, room{Name: "s", Messages: []string{}}) },
		"Get":       func() error { _ = rooms.Get(key); return nil },
		"Has":       func() error { _ = rooms.Has(key); return nil },
		"Init":      func() error { rooms.Init(key); return nil },
		"Reset":     func() error { rooms.Reset(key); return nil },
		"Delete":    func() error { rooms.Delete(key); return nil },
		"IsInit":    func() error { _ = rooms.IsInitialized(key); return nil },
		"Count":     func() error { _ = rooms.SubscriberCount(key); return nil },
		"Keys":      func() error { _ = rooms.Keys(); return nil },
	}
}

// TestHooksCallingBackNeverDeadlock has every hook and listener call every
// store method on its own key and on another; each must return (with
// ErrReentrant where the call cannot be allowed), and Shutdown must too.
func TestHooksCallingBackNeverDeadlock(t *testing.T) {
	hooks := []string{"OnCreate", "OnTerminate:Reset", "OnTerminate:Delete", "OnIdle", "OnStoreCreated", "OnStoreDeleted", "OnSubscribe", "OnUnsubscribe"}
	for _, hook := range hooks {
		for _, method := range []string{"Update", "UpdateOps", "Set", "Get", "Has", "Init", "Reset", "Delete", "IsInit", "Count", "Keys"} {
			for _, target := range []string{"own", "other"} {
				t.Run(hook+"/"+method+"/"+target, func(t *testing.T) {
					hookCalls(t, hook, method, target)
				})
			}
		}
	}
}

func hookCalls(t *testing.T, hook, method, target string) {
	srv := hotstate.New()
	rooms := hotstate.NewFamily(srv, "Room:*", room{Messages: []string{}})
	var ran atomic.Bool
	var callErr atomic.Value
	call := func(key string) {
		if !ran.CompareAndSwap(false, true) {
			return // once: a Delete inside OnStoreDeleted would recurse
		}
		k := key
		if target == "other" {
			k = "other"
		}
		defer func() {
			if v := recover(); v != nil {
				callErr.Store(fmt.Errorf("panic: %v", v))
			}
		}()
		if err := storeCalls(rooms, k)[method](); err != nil {
			callErr.Store(err)
		}
	}
	name := func(full string) string { return strings.TrimPrefix(full, "Room:") }
	switch hook {
	case "OnCreate":
		rooms.OnCreate(func(key string, r *room) { call(key) })
	case "OnTerminate:Reset", "OnTerminate:Delete":
		rooms.OnTerminate(func(key string) { call(key) })
	case "OnIdle":
		rooms.OnIdle(func(key string) { call(key) })
	case "OnStoreCreated":
		srv.OnStoreCreated(func(n, key string) { call(key) })
	case "OnStoreDeleted":
		srv.OnStoreDeleted(func(n string) { call(name(n)) })
	case "OnSubscribe":
		srv.OnSubscribe(func(n string, c hotstate.Caller) { call(name(n)) })
	case "OnUnsubscribe":
		srv.OnUnsubscribe(func(n string, c hotstate.Caller) { call(name(n)) })
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c := connect(t, srv)
		c.send(wire.EncodeSub("Room:a"))
		c.next() // the snapshot, or the err of a refused creation
		switch hook {
		case "OnTerminate:Reset":
			rooms.Reset("a")
		case "OnTerminate:Delete", "OnStoreDeleted":
			rooms.Delete("a")
		}
		c.send(wire.EncodeUnsub("Room:a"))
		c.close()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s calling %s on its %s key hung", hook, method, target)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if !ran.Load() {
		t.Fatalf("the %s hook did not run", hook)
	}
	err, _ := callErr.Load().(error)
	reentrant := hook == "OnCreate" && target == "own" && strings.Contains("Update UpdateOps Set Init Reset Delete", method)
	switch {
	case reentrant && !errors.Is(err, hotstate.ErrReentrant) && !strings.Contains(fmt.Sprint(err), hotstate.ErrReentrant.Error()):
		t.Fatalf("%s from its own OnCreate: %v, want ErrReentrant", method, err)
	case !reentrant && err != nil:
		t.Fatalf("%s: %v", method, err)
	}
}

// TestStoreCreatedListenerCapsRooms: a listener deleting the room just
// created ends that room for its subscriber with del, once.
func TestStoreCreatedListenerCapsRooms(t *testing.T) {
	srv := hotstate.New()
	rooms := hotstate.NewFamily(srv, "Room:*", room{Messages: []string{}})
	srv.OnStoreCreated(func(name, key string) {
		if len(rooms.Keys()) > 1 {
			rooms.Delete(key)
		}
	})
	rooms.Init("first")
	c := connect(t, srv)
	c.send(wire.EncodeSub("Room:second"))
	c.expect(wire.TypeSnap)
	if f := c.expect(wire.TypeDel); f.Store != "Room:second" {
		t.Fatalf("del for %q", f.Store)
	}
	if rooms.Has("second") || !rooms.Has("first") {
		t.Fatalf("rooms %q", rooms.Keys())
	}
}

// TestShutdownHonoursItsDeadline: a handler that ignores its context does
// not hold Shutdown past ctx.
func TestShutdownHonoursItsDeadline(t *testing.T) {
	srv := hotstate.New()
	stuck, release := make(chan struct{}), make(chan struct{})
	srv.HandleFunc("stuck", func(ctx context.Context, args any) (any, error) {
		close(stuck)
		<-release // ignores ctx
		return nil, nil
	})
	c := connect(t, srv)
	defer close(release)
	c.send(must(wire.EncodeRPC(1, "stuck", nil)))
	<-stuck
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want context.DeadlineExceeded", err)
	}
	select {
	case <-c.p.closed:
	default:
		t.Fatal("Shutdown returned with the connection still open")
	}
}

// TestShutdownWaitsForDisconnectListeners: when Shutdown returns, the
// OnDisconnect listeners of every connection it ended have run.
func TestShutdownWaitsForDisconnectListeners(t *testing.T) {
	srv := hotstate.New()
	var done atomic.Int32
	srv.OnDisconnect(func(hotstate.Caller) {
		time.Sleep(20 * time.Millisecond)
		done.Add(1)
	})
	connect(t, srv)
	connect(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n := done.Load(); n != 2 {
		t.Fatalf("Shutdown returned after %d of 2 OnDisconnect listeners", n)
	}
}

// TestRefusedSubscriptionsCreateNothing: subscriptions past the limit must
// not create family instances nobody will ever leave.
func TestRefusedSubscriptionsCreateNothing(t *testing.T) {
	srv := hotstate.New(hotstate.WithMaxSubscriptions(2))
	rooms := hotstate.NewFamily(srv, "Room:*", room{Messages: []string{}})
	var created atomic.Int32
	rooms.OnCreate(func(string, *room) { created.Add(1) })
	c := connect(t, srv)
	for i := range 200 {
		c.send(wire.EncodeSub(fmt.Sprintf("Room:%d", i)))
		f := c.next()
		if i < 2 && f.Type != wire.TypeSnap {
			t.Fatalf("sub %d: %+v", i, f)
		}
		if i >= 2 && (f.Type != wire.TypeErr || f.Err.Code != wire.CodeTooManySubscriptions) {
			t.Fatalf("sub %d: %+v, want too_many_subscriptions", i, f)
		}
	}
	if n := len(rooms.Keys()); n != 2 || created.Load() != 2 {
		t.Fatalf("%d instances, OnCreate ran %d times; want 2", n, created.Load())
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
