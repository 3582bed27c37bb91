package hotclient_test

import (
	"context"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	hotclient "github.com/hotstate/hotstate/client-go"
	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/wire"
)

// Blob is the state of the slow consumer test: each update replaces a
// large string, so every patch is large and a peer that stops reading
// falls behind fast.
type Blob struct {
	N    int64  `json:"n"`
	Data string `json:"data"`
}

// TestSlowConsumer subscribes a client that then stops reading while a
// store sends large patches. The server must close it as a slow consumer
// once its queue passes WithMaxQueueBytes, keep its own memory bounded by
// that limit, and go on delivering every update to the other clients.
//
// What the slow client sees: nothing it can rely on. The server gives up
// on it while a write to it is blocked on the full TCP window, and
// cancelling that write closes the socket, so the 4000 close frame cannot
// be sent: the client reads what the kernel buffered and then the
// connection ends, without a close frame (status -1), or with 4000 if the
// writer happened to be idle. The test therefore asserts the server's
// side: OnDisconnect fires for it and the store's subscriber count drops.
func TestSlowConsumer(t *testing.T) {
	timed(t)
	const (
		maxQueue = 1 << 20
		blob     = 16 << 10
		updates  = 2000
		window   = 8 // how far ahead of the slowest reading client updates may run
		readers  = 4
	)
	log := newPanicLog(t)
	srv := hotstate.New(hotstate.WithMaxQueueBytes(maxQueue), hotstate.WithHeartbeat(0), hotstate.WithLogger(log.logger()))
	store := hotstate.NewStore(srv, "Blob", Blob{})
	gone := make(chan string, 16)
	srv.OnDisconnect(func(c hotstate.Caller) { gone <- c.ID })
	// Every sub the server accepted: a reader that fell behind and had to
	// resubscribe would add one.
	var subscribed atomic.Int64
	srv.OnSubscribe(func(string, hotstate.Caller) { subscribed.Add(1) })
	addr, _ := serveOn(t, srv, "127.0.0.1:0")
	url := "ws://" + addr

	// The clients that read: Go clients counting versions, and a raw peer
	// recording when each version arrived.
	versions := make([]atomic.Int64, readers)
	var subs []*hotclient.Subscription
	for i := range readers {
		c := dial(t, url)
		subs = append(subs, c.Subscribe("Blob", func(any) { versions[i].Add(1) }))
	}
	for _, s := range subs {
		if err := s.Ready(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	var sentAt sync.Map // version -> time the update returned
	arrivals := make(chan time.Duration, updates+1)
	var peerVersion atomic.Uint64
	timer := dialRaw(t, url, nil, func(f wire.Frame) {
		if f.Type == wire.TypePatch {
			if at, ok := sentAt.Load(f.Version); ok {
				arrivals <- time.Since(at.(time.Time))
			}
			if f.Version != peerVersion.Load()+1 {
				t.Errorf("the timer peer got version %d after %d", f.Version, peerVersion.Load())
			}
		}
		if f.Type == wire.TypeSnap || f.Type == wire.TypePatch {
			peerVersion.Store(f.Version)
		}
	})
	timer.mustSend(wire.EncodeSub("Blob"))
	eventually(t, "the timer's snapshot", func() bool { return store.SubscriberCount() == readers+1 })

	// The slow client: a small receive buffer, a subscription, and then
	// not one more read.
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			_ = c.(*net.TCPConn).SetReadBuffer(4 << 10)
		}
		return c, err
	}}
	defer tr.CloseIdleConnections()
	slow, _, err := websocket.Dial(ctxT(t), url, &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.CloseNow()
	_, b, err := slow.Read(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	hello, err := wire.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := slow.Write(ctxT(t), websocket.MessageBinary, wire.EncodeSub("Blob")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the slow subscription", func() bool { return store.SubscriberCount() == readers+2 })

	// The live heap, sampled with a collection every few milliseconds.
	base := heapInuse()
	var peak atomic.Uint64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if h := heapInuse(); h > peak.Load() {
				peak.Store(h)
			}
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
		}
	}()

	// Updates run as fast as the reading clients follow: never more than
	// window versions ahead of the slowest.
	start := time.Now()
	slowGone := time.Duration(0)
	data := []byte(strings.Repeat("x", blob))
	for i := 1; i <= updates; i++ {
		eventually(t, "the readers to keep up", func() bool {
			for k := range versions {
				// Each client counts its snapshot as one version.
				if versions[k].Load()-1 < int64(i-window) {
					return false
				}
			}
			return int64(peerVersion.Load()) >= int64(i-window)
		})
		data[i%blob] = byte('a' + i%26)
		text := string(data)
		err := store.Update(func(s *Blob) {
			s.N = int64(i)
			s.Data = text
			sentAt.Store(uint64(i), time.Now())
		})
		if err != nil {
			t.Fatal(err)
		}
		if slowGone == 0 {
			select {
			case id := <-gone:
				if id != hello.Client {
					t.Fatalf("%s left, not the slow client %s", id, hello.Client)
				}
				slowGone = time.Since(start)
				t.Logf("slow client closed after update %d, %v", i, slowGone.Round(time.Millisecond))
			default:
			}
		}
	}
	elapsed := time.Since(start)
	if slowGone == 0 {
		select {
		case id := <-gone:
			if id != hello.Client {
				t.Fatalf("%s left, not the slow client %s", id, hello.Client)
			}
		case <-time.After(wait):
			t.Fatal("the slow client was never closed")
		}
	}
	eventually(t, "the subscriber count to drop", func() bool { return store.SubscriberCount() == readers+1 })
	close(stopSampling)
	<-sampled
	grown := int64(peak.Load()) - int64(base)
	t.Logf("%d updates of %d KiB in %v; live heap %d KiB at start, peak %+d KiB (queue limit %d KiB)",
		updates, blob>>10, elapsed.Round(time.Millisecond), base>>10, grown>>10, maxQueue>>10)
	// Without the limit the slow client's queue alone would grow past 26
	// MiB; with it the server holds the queue up to the limit, the frames
	// the reading clients have in flight (at most window each) and the
	// store's history.
	if bound := int64(16 * maxQueue); grown > bound {
		t.Errorf("the live heap grew by %d KiB, more than %d KiB", grown>>10, bound>>10)
	}

	// Every reading client got every version, in order, and the state.
	want := tree(t, store.Get())
	for i, s := range subs {
		eventually(t, "a reader to converge", func() bool { return reflect.DeepEqual(s.State(), want) })
		eventually(t, "a reader's callbacks", func() bool { return versions[i].Load() >= updates+1 })
		if got := versions[i].Load(); got != updates+1 {
			t.Errorf("reader %d saw %d versions, want %d", i, got, updates+1)
		}
	}
	eventually(t, "the timer peer to finish", func() bool { return peerVersion.Load() == updates })
	if n := subscribed.Load(); n != readers+2 {
		t.Errorf("%d subscriptions for %d clients", n, readers+2)
	}
	select {
	case id := <-gone:
		t.Errorf("client %s was closed too", id)
	default:
	}
	close(arrivals)
	var lat []time.Duration
	for d := range arrivals {
		lat = append(lat, d)
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		t.Logf("delivery to a reading peer: p50 %v, p99 %v, max %v over %d updates",
			lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond), len(lat))
	}

	// Now the slow client reads. The server closed the socket with several
	// MiB still in its send buffer, which the kernel trickles out to a
	// receive window this small, so the client sees stale frames for a long
	// while before the end; it reads for a moment and must see no close
	// frame other than 4000.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	read := 0
	for {
		if _, _, err = slow.Read(ctx); err != nil {
			break
		}
		read++
	}
	status := websocket.CloseStatus(err)
	t.Logf("the slow client read %d buffered frames, then: %v", read, err)
	if status != -1 && status != wire.CloseSlowConsumer {
		t.Errorf("close status %d, want 4000 or none", status)
	}
}
