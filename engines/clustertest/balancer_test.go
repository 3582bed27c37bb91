package clustertest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// balancer is a TCP load balancer in front of the nodes, as a deployment
// has: each connection goes to the next node that accepts it, so a client
// whose node died reconnects to a live one.
type balancer struct {
	ln    net.Listener
	addrs []string

	mu   sync.Mutex
	next int
	wg   sync.WaitGroup
}

func balance(t *testing.T, nodes []*node) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{ln: ln}
	for _, n := range nodes {
		b.addrs = append(b.addrs, n.addr)
	}
	b.wg.Add(1)
	go b.serve()
	t.Cleanup(func() {
		ln.Close()
		b.wg.Wait()
	})
	return b
}

func (b *balancer) url() string { return "ws://" + b.ln.Addr().String() + "/" }

func (b *balancer) serve() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.forward(c)
		}()
	}
}

// forward pipes c to the first node, round robin, that accepts it.
func (b *balancer) forward(c net.Conn) {
	defer c.Close()
	b.mu.Lock()
	start := b.next
	b.next++
	b.mu.Unlock()
	var up net.Conn
	for i := range b.addrs {
		var err error
		if up, err = net.Dial("tcp", b.addrs[(start+i)%len(b.addrs)]); err == nil {
			break
		}
	}
	if up == nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		// Either side ending ends both, as a balancer does.
		dst.Close()
		src.Close()
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	<-done
}
