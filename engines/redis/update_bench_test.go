package hotredis_test

import (
	"testing"

	hotstate "github.com/hotstate/hotstate/core"
	hotredis "github.com/hotstate/hotstate/engines/redis"
)

// BenchmarkUpdate is Store.Update of a small counter on a node whose store
// lives in Redis, one at a time: BenchmarkAppend plus what the server adds
// (the mutation, the diff, the patch encoded once, the local apply).
func BenchmarkUpdate(b *testing.B) {
	e := hotredis.New(client(b, server), hotredis.WithPrefix(freshPrefix()))
	srv := hotstate.New(hotstate.WithEngine(e))
	b.Cleanup(func() { _ = srv.Shutdown(ctx(b)); e.Close() })
	type counter struct {
		N int `json:"n"`
	}
	st := hotstate.NewStore(srv, "Counter", counter{})
	if err := st.Update(func(c *counter) { c.N++ }); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := st.Update(func(c *counter) { c.N++ }); err != nil {
			b.Fatal(err)
		}
	}
}
