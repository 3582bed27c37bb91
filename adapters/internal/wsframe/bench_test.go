package wsframe_test

import (
	"bytes"
	"testing"

	"github.com/hotstate/hotstate/adapters/internal/wsframe"
)

// BenchmarkReader parses small masked binary messages, as a subscriber's
// calls arrive, from reads of a given size into one reused read buffer:
// MB/s is the rate of parsing, and allocs/op, per pass over 1000
// messages, should be 0. Reads of 1000 bytes cut frames, which the Reader
// then gathers in pooled buffers.
func BenchmarkReader(b *testing.B) {
	for _, bc := range []struct {
		name    string
		payload int
		read    int
	}{
		{"32B/read4096", 32, 4096},
		{"128B/read4096", 128, 4096},
		{"128B/read1000", 128, 1000},
		{"1024B/read4096", 1024, 4096},
	} {
		b.Run(bc.name, func(b *testing.B) {
			const messages = 1000
			var stream []byte
			for i := range messages {
				stream = append(stream, binaryMsg(bytes.Repeat([]byte{byte(i)}, bc.payload))...)
			}
			buf := make([]byte, bc.read)
			r := wsframe.NewReader(1 << 20)
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			for b.Loop() {
				got := 0
				for rest := stream; len(rest) > 0; {
					// What a read from the socket would do.
					p := buf[:copy(buf, rest)]
					rest = rest[len(p):]
					for {
						n, ev, err := r.Next(p)
						if err != nil {
							b.Fatal(err)
						}
						p = p[n:]
						if ev.Op == 0 {
							break
						}
						got++
					}
				}
				if got != messages {
					b.Fatalf("%d messages, want %d", got, messages)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*messages), "ns/msg")
		})
	}
}
