package hotclient_test

import (
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hotstate/hotstate/core/wire"
)

// proxy is an in-process TCP proxy between a client and a server, for
// network faults on demand: Cut drops every connection, Pause holds all
// bytes in both directions (a server that stops answering), Delay adds
// latency to each chunk, Bandwidth limits throughput, CutMidFrame drops
// the connections halfway through a WebSocket frame, and Tap shows every
// frame the server sends.
type proxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	// mu guards conns, paused, resume, delay, bandwidth, midFrame, tap,
	// accepted and closed.
	mu        sync.Mutex
	conns     map[net.Conn]struct{}
	paused    bool
	resume    chan struct{} // closed by Resume
	delay     time.Duration
	bandwidth int           // bytes per second and direction; 0 is no limit
	midFrame  chan struct{} // armed by CutMidFrame; closed when the cut happened
	tap       func(conn int, f wire.Frame)
	accepted  int
	closed    bool
	quit      chan struct{} // closed by close
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}, quit: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// URL returns the WebSocket URL that reaches the target through the proxy.
func (p *proxy) URL() string { return "ws://" + p.ln.Addr().String() }

// Accepted returns how many client connections the proxy has accepted.
func (p *proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Cut closes every open connection, both sides.
func (p *proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

// Pause stops forwarding: bytes are read but held until Resume.
func (p *proxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.paused {
		p.paused = true
		p.resume = make(chan struct{})
	}
}

// Resume forwards again, the held bytes first.
func (p *proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused {
		p.paused = false
		close(p.resume)
	}
}

// Delay makes every chunk wait d before it is forwarded.
func (p *proxy) Delay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// Bandwidth limits every connection to bytesPerSec in each direction; 0
// lifts the limit.
func (p *proxy) Bandwidth(bytesPerSec int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bandwidth = bytesPerSec
}

// CutMidFrame arms a cut: the next WebSocket frame from the server with a
// payload of at least two bytes is forwarded up to half its payload, and
// then every connection is cut. The returned channel is closed once that
// happened.
func (p *proxy) CutMidFrame() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.midFrame = make(chan struct{})
	return p.midFrame
}

// Tap calls fn with every hotstate frame the server sends through the
// proxy, on the connection's forwarding goroutine; conn numbers the
// connections from 1 in the order they were accepted. Set it before the
// connections it should see are made.
func (p *proxy) Tap(fn func(conn int, f wire.Frame)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tap = fn
}

func (p *proxy) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.quit)
	p.mu.Unlock()
	_ = p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = client.Close()
			_ = server.Close()
			return
		}
		p.accepted++
		n := p.accepted
		p.conns[client] = struct{}{}
		p.conns[server] = struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pipe(client, server, nil)
		go p.pipe(server, client, &wsScanner{conn: n})
	}
}

// pipe copies from src to dst until either fails, then closes both. scan,
// set for the server's direction, follows its WebSocket frames.
func (p *proxy) pipe(src, dst net.Conn, scan *wsScanner) {
	defer p.wg.Done()
	defer func() {
		_ = src.Close()
		_ = dst.Close()
		p.mu.Lock()
		delete(p.conns, src)
		delete(p.conns, dst)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.gate() {
				return
			}
			chunk, cut := buf[:n], false
			if scan != nil {
				p.mu.Lock()
				armed, tap := p.midFrame, p.tap
				p.mu.Unlock()
				var at int
				at, cut = scan.scan(chunk, armed != nil, tap)
				chunk = chunk[:at]
			}
			if !p.send(dst, chunk) {
				return
			}
			if cut {
				p.mu.Lock()
				if p.midFrame != nil {
					close(p.midFrame)
					p.midFrame = nil
				}
				p.mu.Unlock()
				p.Cut()
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// send writes b to dst within the bandwidth limit; it reports false when
// the write failed or the proxy is closing.
func (p *proxy) send(dst net.Conn, b []byte) bool {
	for len(b) > 0 {
		p.mu.Lock()
		bw := p.bandwidth
		p.mu.Unlock()
		n := len(b)
		if bw > 0 {
			// Pace in slices of a twentieth of a second's worth.
			n = min(n, max(bw/20, 1))
		}
		if _, err := dst.Write(b[:n]); err != nil {
			return false
		}
		b = b[n:]
		if bw > 0 {
			t := time.NewTimer(time.Duration(n) * time.Second / time.Duration(bw))
			select {
			case <-t.C:
			case <-p.quit:
				t.Stop()
				return false
			}
		}
	}
	return true
}

// wsScanner follows the server's side of one connection: the HTTP
// response, then WebSocket frames, so the proxy can cut inside a frame
// and report the hotstate frames it carried.
type wsScanner struct {
	conn int
	// http counts the bytes of the "\r\n\r\n" that ends the HTTP response
	// matched so far; 4 once frames have begun.
	http int
	// head holds the frame header read so far; inPayload is set while
	// payload bytes are due.
	head      []byte
	inPayload bool
	// opcode is the current frame's; dataOp the message's, which
	// continuation frames (opcode 0) and control frames do not change.
	opcode  byte
	dataOp  byte
	fin     bool
	size    int // payload length of the current frame
	read    int // payload bytes of the current frame seen
	message []byte
}

// scan consumes chunk and returns how much of it to forward: all of it,
// or, when cut is armed and a frame's payload is halfway, up to that
// point with cut set.
func (w *wsScanner) scan(chunk []byte, armed bool, tap func(int, wire.Frame)) (at int, cut bool) {
	i := 0
	for i < len(chunk) {
		c := chunk[i]
		switch {
		case w.http < 4:
			switch {
			case c == "\r\n\r\n"[w.http]:
				w.http++
			case c == '\r':
				w.http = 1
			default:
				w.http = 0
			}
			i++
		case !w.inPayload:
			w.head = append(w.head, c)
			i++
			if need := headLen(w.head); need > 0 && len(w.head) == need {
				w.startFrame()
				if w.size == 0 {
					w.endFrame(tap)
				}
			}
		default:
			k := min(w.size-w.read, len(chunk)-i)
			if armed && w.size >= 2 && w.read < w.size/2 && w.read+k >= w.size/2 {
				return i + w.size/2 - w.read, true
			}
			if tap != nil && w.opcode&0x8 == 0 && w.dataOp == 0x2 {
				w.message = append(w.message, chunk[i:i+k]...)
			}
			w.read += k
			i += k
			if w.read == w.size {
				w.endFrame(tap)
			}
		}
	}
	return len(chunk), false
}

// headLen returns the length of the frame header that begins with head,
// or 0 while it cannot tell yet.
func headLen(head []byte) int {
	if len(head) < 2 {
		return 0
	}
	n := 2
	switch head[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if head[1]&0x80 != 0 {
		n += 4
	}
	return n
}

func (w *wsScanner) startFrame() {
	h := w.head
	w.fin, w.read = h[0]&0x80 != 0, 0
	w.opcode = h[0] & 0x0f
	if w.opcode != 0 && w.opcode&0x8 == 0 {
		w.dataOp = w.opcode
	}
	switch l := int(h[1] & 0x7f); l {
	case 126:
		w.size = int(binary.BigEndian.Uint16(h[2:]))
	case 127:
		w.size = int(binary.BigEndian.Uint64(h[2:]))
	default:
		w.size = l
	}
	w.inPayload = w.size > 0
	w.head = w.head[:0]
}

func (w *wsScanner) endFrame(tap func(int, wire.Frame)) {
	w.inPayload = false
	if !w.fin || w.opcode&0x8 != 0 || w.dataOp != 0x2 {
		return
	}
	msg := w.message
	w.message = nil
	if tap == nil {
		return
	}
	if f, err := wire.DecodeDepth(msg, wire.MaxStateDepth); err == nil {
		tap(w.conn, f)
	}
}

// gate waits while the proxy is paused and for the configured delay; it
// reports false when the proxy is closing.
func (p *proxy) gate() bool {
	for {
		p.mu.Lock()
		paused, resume, delay := p.paused, p.resume, p.delay
		p.mu.Unlock()
		if paused {
			select {
			case <-resume:
				continue
			case <-p.quit:
				return false
			}
		}
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-p.quit:
				t.Stop()
				return false
			}
		}
		return true
	}
}
