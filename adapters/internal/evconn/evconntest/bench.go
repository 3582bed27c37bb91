package evconntest

import (
	"context"
	"fmt"
	"net"
	"testing"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// BenchmarkCall measures a function call's round trip on loopback through
// the transport that serve serves, on both paths, both ends in this
// process: allocations counted are the server's and the raw client's,
// which allocates one result per call.
func BenchmarkCall(b *testing.B, serve Serve) {
	for _, on := range []bool{true, false} {
		b.Run(fmt.Sprintf("events=%v", on), func(b *testing.B) {
			srv := hotstate.New()
			srv.HandleFunc("echo", func(ctx context.Context, args any) (any, error) { return args, nil })
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			serve(b, srv, ln, on)
			c := DialRaw(b, ln.Addr().String())
			c.Next() // hello
			call, err := wire.EncodeRPC(1, "echo", "hi")
			if err != nil {
				b.Fatal(err)
			}
			req := Frame(0x82, call, false)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				c.Send(req)
				if op, _ := c.Next(); op != 0x2 {
					b.Fatalf("opcode %#x", op)
				}
			}
		})
	}
}
