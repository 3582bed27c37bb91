package hotredis_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hotstate/hotstate/core/enginetest"
	hotredis "github.com/hotstate/hotstate/engines/redis"
	"github.com/redis/go-redis/v9"
)

// resend is a go-redis hook that sends every script twice and answers
// with the second reply, as go-redis does when a connection fails after
// Redis ran a command but before its reply arrived; between the two,
// another node may write.
type resend struct{ between func() }

func (resend) DialHook(next redis.DialHook) redis.DialHook { return next }
func (resend) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (r resend) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !strings.HasPrefix(cmd.Name(), "eval") {
			return next(ctx, cmd)
		}
		_ = next(ctx, cmd)
		if r.between != nil {
			r.between()
		}
		return next(ctx, cmd)
	}
}

// TestAppendSentTwiceCountsOnce: an append that reached Redis and is sent
// again is found done, not refused as a conflict, which would make the
// writer catch up on its own change and apply it a second time.
func TestAppendSentTwiceCountsOnce(t *testing.T) {
	rdb := client(t, server)
	rdb.AddHook(resend{})
	e := hotredis.New(rdb, hotredis.WithPrefix(freshPrefix()))
	t.Cleanup(e.Close)
	c := ctx(t)
	if err := e.Append(c, "N", enginetest.At(0, 0), enginetest.Snap(t, "N", 7, 0, 0)); err != nil {
		t.Fatal(err)
	}
	for v := uint64(1); v <= 3; v++ {
		if err := e.Append(c, "N", enginetest.At(7, v-1), enginetest.Patch(t, "N", 7, v, int(v))); err != nil {
			t.Fatalf("append %d sent twice: %v", v, err)
		}
	}
	cs, err := e.Since(c, "N", enginetest.At(7, 0))
	if err != nil || len(cs) != 3 {
		t.Fatalf("the log holds %d changes after version 0 (%v), want 3", len(cs), err)
	}
}

// TestAppendSentAgainAfterOthersCountsOnce: the resent append finds itself
// in the log even when another node's change followed it meanwhile.
func TestAppendSentAgainAfterOthersCountsOnce(t *testing.T) {
	prefix := freshPrefix()
	other := hotredis.New(client(t, server), hotredis.WithPrefix(prefix))
	t.Cleanup(other.Close)
	c := ctx(t)
	if err := other.Append(c, "N", enginetest.At(0, 0), enginetest.Snap(t, "N", 7, 0, 0)); err != nil {
		t.Fatal(err)
	}
	rdb := client(t, server)
	next := uint64(2)
	rdb.AddHook(resend{between: func() {
		if err := other.Append(c, "N", enginetest.At(7, next-1), enginetest.Patch(t, "N", 7, next, 0)); err != nil {
			t.Error(err)
		}
		next += 2
	}})
	e := hotredis.New(rdb, hotredis.WithPrefix(prefix))
	t.Cleanup(e.Close)
	for v := uint64(1); v <= 5; v += 2 {
		if err := e.Append(c, "N", enginetest.At(7, v-1), enginetest.Patch(t, "N", 7, v, 1)); err != nil {
			t.Fatalf("append %d sent again after another node's: %v", v, err)
		}
	}
	if cs, err := e.Since(c, "N", enginetest.At(7, 0)); err != nil || len(cs) != 6 {
		t.Fatalf("the log holds %d changes after version 0 (%v), want 6", len(cs), err)
	}
}
