//go:build !linux

package evconn

import "syscall"

// eventsSupported reports whether this platform has the event path.
const eventsSupported = false

// events is a poller that is never used off Linux.
var events poller

type poller struct{}

// epoll is never used off Linux.
type epoll struct{}

func (p *poller) add(c *Conn) error { return nil }
func (p *poller) arm(c *Conn)       {}
func (p *poller) remove(c *Conn)    {}

// rawState is never used off Linux.
type rawState struct{}

func (r *rawState) read(raw syscall.RawConn, p []byte) (int, error) { return 0, errEventConn }

func (r *rawState) readWait(raw syscall.RawConn, p []byte) (int, error) { return 0, errEventConn }

// rawWriter is never used off Linux.
type rawWriter struct{}

func newRawWriter(raw syscall.RawConn, blocked func() (stop func() bool)) *rawWriter { return nil }

func (w *rawWriter) write(p []byte) (int, error) { return 0, errEventConn }
