package evconn

import (
	"io"
	"os"
	"sync"
	"syscall"
)

// eventsSupported reports whether this platform has the event path.
const eventsSupported = true

// The epoll registration of a connection: level-triggered and one-shot, so
// that a wake-up hands the connection to one goroutine, and re-arming it
// after its turn reports at once whatever is left to read.
const armed = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

// maxEvents is how many ready connections one epoll_wait returns.
const maxEvents = 128

// events is the process's one poller. It is package state, like the
// buffer pools, because readiness is the kernel's for every socket of the
// process and one waiting goroutine serves them all; it holds nothing while
// no connection is registered: the epoll descriptor and its goroutine come
// with the first connection and go with the last.
var events poller

// poller watches the sockets of event-path connections with epoll. The
// epoll descriptor is itself waited on through Go's netpoller, which
// reports it readable when epoll_wait would return events; epoll_wait then
// runs with a zero timeout and never blocks a thread, so a server with
// GOMAXPROCS=1 is not slowed by it.
type poller struct {
	mu sync.Mutex // guards ep and next, and the conns of ep
	ep *epoll
	// next is the id of the next connection: ids, not descriptors, name
	// connections in the kernel's events, so that a stale event for a
	// closed descriptor, reused by a new connection, finds nobody.
	next uint64
}

// epoll is one epoll descriptor and the connections registered with it.
type epoll struct {
	fd    int
	file  *os.File
	conns map[uint64]*Conn
}

// add registers c, disarmed; arm makes it wake up.
func (p *poller) add(c *Conn) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ep == nil {
		fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return os.NewSyscallError("epoll_create1", err)
		}
		if err := syscall.SetNonblock(fd, true); err != nil {
			syscall.Close(fd)
			return os.NewSyscallError("setnonblock", err)
		}
		ep := &epoll{fd: fd, file: os.NewFile(uintptr(fd), "epoll"), conns: map[uint64]*Conn{}}
		p.ep = ep
		go p.wait(ep)
	}
	p.next++
	c.id = p.next
	if err := c.rs.ctl(c.raw, p.ep.fd, syscall.EPOLL_CTL_ADD, syscall.EPOLLONESHOT, c.id); err != nil {
		p.dropLocked(p.ep)
		return os.NewSyscallError("epoll_ctl", err)
	}
	p.ep.conns[c.id] = c
	c.ep = p.ep
	return nil
}

// arm has c woken up when its socket has bytes, or at once if it has.
// Called by the connection's reading goroutine with c.mu held, so c is
// still registered and its epoll open.
func (p *poller) arm(c *Conn) {
	if err := c.rs.ctl(c.raw, c.ep.fd, syscall.EPOLL_CTL_MOD, armed, c.id); err != nil {
		// Nothing would wake the connection again.
		go c.end(os.NewSyscallError("epoll_ctl", err))
	}
}

// remove unregisters c before its socket is closed.
func (p *poller) remove(c *Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ep := p.ep
	if ep == nil || ep.conns[c.id] != c {
		return
	}
	_ = c.raw.Control(func(fd uintptr) {
		_ = syscall.EpollCtl(ep.fd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	})
	delete(ep.conns, c.id)
	p.dropLocked(ep)
}

// dropLocked closes ep once no connection is left on it, which ends its
// goroutine.
func (p *poller) dropLocked(ep *epoll) {
	if len(ep.conns) == 0 && p.ep == ep {
		p.ep = nil
		_ = ep.file.Close()
	}
}

// wait hands each connection the kernel reports ready to a goroutine of
// its own, until ep is closed.
func (p *poller) wait(ep *epoll) {
	rc, err := ep.file.SyscallConn()
	if err != nil {
		return
	}
	evs := make([]syscall.EpollEvent, maxEvents)
	for {
		var n int
		var werr error
		if err := rc.Read(func(fd uintptr) bool {
			n, werr = syscall.EpollWait(int(fd), evs, 0)
			return n > 0 || (werr != nil && werr != syscall.EINTR)
		}); err != nil {
			return // closed: no connection is left
		}
		if werr != nil {
			n = 0
		}
		p.mu.Lock()
		for i := range evs[:n] {
			if c := ep.conns[getID(&evs[i])]; c != nil {
				c.wake()
			}
		}
		p.mu.Unlock()
	}
}

// putID stores a connection's id in the event's data.
func putID(ev *syscall.EpollEvent, id uint64) {
	ev.Fd, ev.Pad = int32(uint32(id)), int32(uint32(id>>32))
}

func getID(ev *syscall.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

// rawState is what a connection's reading goroutine hands to the system
// calls it makes on the socket's descriptor. The functions that make them
// are made once per connection and the arguments pass through here, so
// that reading and re-arming allocate nothing.
type rawState struct {
	p   []byte
	n   int
	err error
	// ev, epfd and op are epoll_ctl's arguments.
	ev       syscall.EpollEvent
	epfd, op int
	readFn   func(fd uintptr) bool
	waitFn   func(fd uintptr) bool
	ctlFn    func(fd uintptr)
}

// read reads what the socket under raw has without waiting; it reports
// syscall.EAGAIN when there is nothing.
func (r *rawState) read(raw syscall.RawConn, p []byte) (int, error) {
	if r.readFn == nil {
		r.readFn = func(fd uintptr) bool {
			r.n, r.err = syscall.Read(int(fd), r.p)
			return true
		}
	}
	r.p = p
	err := raw.Read(r.readFn)
	r.p = nil
	if err != nil {
		return 0, err
	}
	return r.n, r.err
}

// ctl registers the socket under raw with the epoll epfd (op), for events,
// naming it id.
func (r *rawState) ctl(raw syscall.RawConn, epfd, op int, events uint32, id uint64) error {
	if r.ctlFn == nil {
		r.ctlFn = func(fd uintptr) {
			r.err = syscall.EpollCtl(r.epfd, r.op, int(fd), &r.ev)
		}
	}
	r.epfd, r.op = epfd, op
	r.ev = syscall.EpollEvent{Events: events}
	putID(&r.ev, id)
	if err := raw.Control(r.ctlFn); err != nil {
		return err
	}
	return r.err
}

// readWait reads what the socket under raw has, waiting through Go's
// netpoller until it has something or the read deadline passes.
func (r *rawState) readWait(raw syscall.RawConn, p []byte) (int, error) {
	if r.waitFn == nil {
		r.waitFn = func(fd uintptr) bool {
			r.n, r.err = syscall.Read(int(fd), r.p)
			return r.err != syscall.EAGAIN
		}
	}
	r.p = p
	err := raw.Read(r.waitFn)
	r.p = nil
	if err != nil {
		return 0, err
	}
	if r.n < 0 {
		return 0, r.err
	}
	return r.n, r.err
}

// rawWriter writes to a socket's descriptor through syscall.RawConn,
// waiting on Go's netpoller while the socket's buffer is full. It is
// shallower than net.Conn's Write: the writer's goroutine, which the
// server starts whenever frames wait, then fits its starting stack
// instead of growing it on every start.
type rawWriter struct {
	raw syscall.RawConn
	p   []byte
	n   int
	err error
	fn  func(fd uintptr) bool
	// blocked, when set, is called when a write finds the socket's buffer
	// full and is about to wait; the stop it returns is called when the
	// write is over. Only the writer holding the socket's lock uses it.
	blocked func() (stop func() bool)
	stop    func() bool
}

func newRawWriter(raw syscall.RawConn, blocked func() (stop func() bool)) *rawWriter {
	w := &rawWriter{raw: raw, blocked: blocked}
	w.fn = func(fd uintptr) bool {
		for w.n < len(w.p) {
			k, err := syscall.Write(int(fd), w.p[w.n:])
			if k > 0 {
				w.n += k
			}
			switch {
			case err == syscall.EAGAIN:
				if w.stop == nil && w.blocked != nil {
					w.stop = w.blocked()
				}
				return false // wait until the socket takes more
			case err == syscall.EINTR:
			case err != nil:
				w.err = os.NewSyscallError("write", err)
				return true
			case k == 0:
				w.err = io.ErrShortWrite
				return true
			}
		}
		return true
	}
	return w
}

// write writes all of p; called under the socket's lock.
func (w *rawWriter) write(p []byte) (int, error) {
	w.p, w.n, w.err = p, 0, nil
	err := w.raw.Write(w.fn)
	n := w.n
	w.p = nil
	if w.stop != nil {
		w.stop()
		w.stop = nil
	}
	if err != nil {
		return n, err
	}
	return n, w.err
}
