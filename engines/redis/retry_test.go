package hotredis_test

import (
	"context"
	"strings"
	"testing"

	hotredis "github.com/hotstate/hotstate/engines/redis"
	"github.com/redis/go-redis/v9"
)

// resend is a go-redis hook that sends every script twice and answers
// with the second reply, as go-redis does when a connection fails after
// Redis ran a command but before its reply arrived.
type resend struct{}

func (resend) DialHook(next redis.DialHook) redis.DialHook { return next }
func (resend) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (resend) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !strings.HasPrefix(cmd.Name(), "eval") {
			return next(ctx, cmd)
		}
		_ = next(ctx, cmd)
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
	if err := e.Append(c, "N", at(0, 0), snap(t, "N", 7, 0, 0)); err != nil {
		t.Fatal(err)
	}
	for v := uint64(1); v <= 3; v++ {
		if err := e.Append(c, "N", at(7, v-1), patch(t, "N", 7, v, int(v))); err != nil {
			t.Fatalf("append %d sent twice: %v", v, err)
		}
	}
	cs, err := e.Since(c, "N", at(7, 0))
	if err != nil || len(cs) != 3 {
		t.Fatalf("the log holds %d changes after version 0 (%v), want 3", len(cs), err)
	}
}
