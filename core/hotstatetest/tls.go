package hotstatetest

import (
	"context"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/coder/websocket"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

type tlsCounter struct {
	N int `json:"n"`
}

// TLSServer returns a server with what CheckTLS uses: a store "Count" and
// a function "inc" that increments it.
func TLSServer() *hotstate.Server {
	srv := hotstate.New()
	count := hotstate.NewStore(srv, "Count", tlsCounter{})
	hotstate.Handle(srv, "inc", func(ctx context.Context, _ any) (int, error) {
		var n int
		err := count.Update(func(c *tlsCounter) { c.N++; n = c.N })
		return n, err
	})
	return srv
}

// CheckTLS dials url (wss://) with client, whose transport trusts the test
// server's certificate, checks that the upgrade happened over TLS on
// HTTP/1.1 (WebSockets over HTTP/2 are off on every transport), then
// subscribes to Count, calls inc and expects its patch. The server is one
// TLSServer made, mounted by the transport under test.
func CheckTLS(t *testing.T, url string, client *http.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	if resp.TLS == nil || resp.ProtoMajor != 1 {
		t.Fatalf("handshake over %s, TLS %v; want HTTP/1.1 over TLS", resp.Proto, resp.TLS)
	}
	p := Attach(t, ws)
	p.Send(wire.EncodeSub("Count"))
	snap := p.Expect(wire.TypeSnap)
	if got := Decode(t, snap.Value); !reflect.DeepEqual(got, map[string]any{"n": int64(0)}) {
		t.Fatalf("snapshot %#v", got)
	}
	if res := p.Call(1, "inc", nil); res.Err != nil || Decode(t, res.Value) != int64(1) {
		t.Fatalf("res %+v", res)
	}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		f := p.Next()
		if f.Type != wire.TypePatch {
			continue
		}
		if f.Store != "Count" || f.Epoch != snap.Epoch || f.Version != 1 || len(f.Ops) != 1 {
			t.Fatalf("patch %+v", f)
		}
		return
	}
	t.Fatal("no patch for the call")
}
