package consumer_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	hotclient "github.com/hotstate/hotstate/client-go"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/hotstatetest"
	"github.com/hotstate/hotstate/core/wire"

	"example.com/consumer"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	m.Run()
}

// Every adapter serves the store, and the Go client sees it change.
func TestClientSeesUpdate(t *testing.T) {
	for _, framework := range consumer.Frameworks() {
		t.Run(framework, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			srv, counter := consumer.NewServer()
			url, stop := serve(t, framework, srv)
			defer stop()

			c, err := hotclient.Dial(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			seen := make(chan int, 16)
			sub := hotclient.SubscribeAs(c, "Counter", func(s consumer.Counter) { seen <- s.N })
			if err := sub.Ready(ctx); err != nil {
				t.Fatal(err)
			}
			if err := counter.Update(func(s *consumer.Counter) { s.N = 42 }); err != nil {
				t.Fatal(err)
			}
			for {
				select {
				case n := <-seen:
					if n == 42 {
						return
					}
				case <-ctx.Done():
					t.Fatalf("the client never saw the update: %v", ctx.Err())
				}
			}
		})
	}
}

// The conformance suite's raw peer, as a transport's own tests use it,
// reads the snapshot.
func TestConformancePeer(t *testing.T) {
	srv, _ := consumer.NewServer()
	url, stop := serve(t, "net/http", srv)
	defer stop()
	p := hotstatetest.Dial(t, url, nil)
	p.Send(wire.EncodeSub("Counter"))
	snap := p.Expect(wire.TypeSnap)
	if got := hotstatetest.Decode(t, snap.Value); got.(map[string]any)["n"] != int64(0) {
		t.Fatalf("snapshot %#v", got)
	}
}

func serve(t *testing.T, framework string, srv *hotstate.Server) (url string, stop func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stop, err = consumer.Serve(framework, srv, ln)
	if err != nil {
		t.Fatal(err)
	}
	return "ws://" + ln.Addr().String() + "/ws", stop
}
