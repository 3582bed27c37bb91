package hotnats_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsServer is a private nats-server with JetStream, on a free port and
// its own store directory: never the machine's shared one.
type natsServer struct {
	port int
	dir  string
	cmd  *exec.Cmd
}

// startNATS starts nats-server on a free port, keeping its files in a new
// temporary directory, and returns once it answers.
func startNATS() (*natsServer, error) {
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		bin = "/usr/sbin/nats-server" // Debian's package puts it there
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("nats-server is not installed (scripts/ensure-servers.sh installs it): %w", err)
		}
	}
	dir, err := os.MkdirTemp("", "hotnats-")
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &natsServer{port: port, dir: dir}
	return s, s.start(bin)
}

func (s *natsServer) start(bin string) error {
	s.cmd = exec.Command(bin, "-js", "-a", "127.0.0.1", "-p", strconv.Itoa(s.port), "-sd", s.dir)
	if err := s.cmd.Start(); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		nc, err := nats.Connect(s.url(), nats.Timeout(time.Second), nats.NoReconnect())
		if err == nil {
			js, _ := jetstream.New(nc)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err = js.AccountInfo(ctx)
			cancel()
			nc.Close()
			if err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			s.crash()
			return fmt.Errorf("nats-server on port %d does not answer: %w", s.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// restart starts the server again on the same port and store directory.
func (s *natsServer) restart() error { return s.start(s.cmd.Path) }

func (s *natsServer) url() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// crash kills the server without letting it write anything more.
func (s *natsServer) crash() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

func (s *natsServer) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
	_ = os.RemoveAll(s.dir)
}

// connect returns a JetStream context on a connection to s that keeps
// reconnecting, closed when t ends.
func connect(t testing.TB, s *natsServer) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(s.url(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}
