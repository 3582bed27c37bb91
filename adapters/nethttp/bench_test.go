package hothttp_test

import (
	"context"
	"fmt"
	"testing"

	hothttp "github.com/hotstate/hotstate/adapters/nethttp"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// BenchmarkCall measures a function call's round trip on loopback, both
// ends in this process: allocations counted are the server's and the raw
// client's, which allocates one result per call.
func BenchmarkCall(b *testing.B) {
	for _, on := range []bool{true, false} {
		b.Run(fmt.Sprintf("events=%v", on), func(b *testing.B) {
			srv := hotstate.New()
			srv.HandleFunc("echo", func(ctx context.Context, args any) (any, error) { return args, nil })
			c := dialRaw(b, serveRaw(b, srv, hothttp.WithEventLoop(on)))
			c.next() // hello
			call, err := wire.EncodeRPC(1, "echo", "hi")
			if err != nil {
				b.Fatal(err)
			}
			req := frame(0x82, call, false)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				c.send(req)
				if op, _ := c.next(); op != 0x2 {
					b.Fatalf("opcode %#x", op)
				}
			}
		})
	}
}
