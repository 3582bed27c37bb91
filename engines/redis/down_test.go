package hotredis_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/enginetest"
	hotredis "github.com/hotstate/hotstate/engines/redis"
	"github.com/redis/go-redis/v9"
)

// scripts is a go-redis hook that counts the scripts sent.
type scripts struct{ n atomic.Int64 }

func (*scripts) DialHook(next redis.DialHook) redis.DialHook { return next }
func (*scripts) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (s *scripts) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if strings.HasPrefix(cmd.Name(), "eval") {
			s.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

// TestFailsFastWhileDown: once a call has found Redis gone, the engine's
// calls fail at once with ErrUnavailable without sending anything, and
// they succeed again on their own once Redis is back.
func TestFailsFastWhileDown(t *testing.T) {
	s, err := startRedis("", false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	rdb := client(t, s)
	sent := &scripts{}
	rdb.AddHook(sent)
	e := hotredis.New(rdb, hotredis.WithPrefix(freshPrefix()))
	defer e.Close()
	c := ctx(t)
	if err := e.Append(c, "N", enginetest.At(0, 0), enginetest.Snap(t, "N", 7, 0, 0)); err != nil {
		t.Fatal(err)
	}

	s.crash()
	err = e.Append(c, "N", enginetest.At(7, 0), enginetest.Patch(t, "N", 7, 1, 1))
	if !errors.Is(err, hotredis.ErrUnavailable) || !errors.Is(err, hotstate.ErrUnavailable) {
		t.Fatalf("append to a crashed Redis = %v, want ErrUnavailable", err)
	}
	before := sent.n.Load()
	for i := range 50 {
		err := e.Append(c, "N", enginetest.At(7, 0), enginetest.Patch(t, "N", 7, 1, 1))
		if !errors.Is(err, hotredis.ErrUnavailable) {
			t.Fatalf("append %d while Redis is down = %v, want ErrUnavailable", i, err)
		}
		if _, _, err := e.Load(c, "N"); !errors.Is(err, hotredis.ErrUnavailable) {
			t.Fatalf("load %d while Redis is down = %v, want ErrUnavailable", i, err)
		}
	}
	if n := sent.n.Load() - before; n != 0 {
		t.Fatalf("%d scripts were sent to a Redis known to be down, want none", n)
	}

	// This Redis keeps nothing: back, it holds no log, and a new lifetime
	// starts at the zero position.
	if err := s.start(false); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := e.Append(c, "N", enginetest.At(0, 0), enginetest.Snap(t, "N", 9, 0, 5))
		if err == nil {
			break
		}
		if !errors.Is(err, hotredis.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("append after Redis is back = %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	snap, after, err := e.Load(c, "N")
	if err != nil || snap.Epoch != 9 || len(after) != 0 {
		t.Fatalf("load after Redis is back = %d/%d +%d, %v; want the new lifetime 9/0", snap.Epoch, snap.Version, len(after), err)
	}
}

// TestCallersDeadlineKeepsOnline: a call that ran out of its own time says
// nothing about Redis, and the next call is sent.
func TestCallersDeadlineKeepsOnline(t *testing.T) {
	rdb := client(t, server)
	e := hotredis.New(rdb, hotredis.WithPrefix(freshPrefix()))
	defer e.Close()
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.Append(gone, "N", enginetest.At(0, 0), enginetest.Snap(t, "N", 7, 0, 0)); err == nil {
		t.Fatal("append with a cancelled context succeeded")
	}
	if err := e.Append(ctx(t), "N", enginetest.At(0, 0), enginetest.Snap(t, "N", 7, 0, 0)); err != nil {
		t.Fatalf("append after a caller's cancelled call = %v, want it sent", err)
	}
}
