package hotclient

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
)

// Client is one connection to a hotstate server, kept open across drops
// while reconnection is on. Create it with New or Dial. Its methods are safe
// for concurrent use.
type Client struct {
	opts options
	disp dispatcher
	// closedCh is closed by Close, for waits that must end with the client.
	closedCh chan struct{}
	// wg counts the supervisor goroutine, which owns each connection's
	// reader and writer.
	wg sync.WaitGroup

	mu      sync.Mutex // guards every field below
	started bool
	closed  bool
	// stopped is set when the supervisor gave up: reconnection is off and
	// the connection ended or could not be made.
	stopped bool
	cancel  context.CancelFunc
	conn    *conn  // the open connection, nil between connections
	id      string // the client id of the current or last connection
	lastErr error  // why the last connection ended or failed
	// changed is closed and replaced whenever conn, closed or stopped
	// change, waking Ready and the calls that wait for a connection.
	changed   chan struct{}
	stores    map[string]*store
	calls     map[uint64]*call   // sent and unanswered, by call id
	overlays  map[string][]*call // calls with an optimistic overlay, by store, in call order
	nextCall  uint64
	listeners map[string][]*listener
	lifecycle []*lifecycleListener
}

// New returns a client configured by opts, not yet connected. Defaults:
// reconnection on, backoff from 1 s up to 10 s, RPC timeout 10 s, dial
// timeout 10 s, read limit 16 MiB, and a logger that discards everything.
func New(opts ...Option) *Client {
	c := &Client{
		opts:      defaultOptions(),
		closedCh:  make(chan struct{}),
		changed:   make(chan struct{}),
		stores:    map[string]*store{},
		calls:     map[uint64]*call{},
		overlays:  map[string][]*call{},
		listeners: map[string][]*listener{},
	}
	for _, o := range opts {
		o.apply(&c.opts)
	}
	c.disp.init()
	return c
}

// Dial creates a client, connects it to rawURL and waits until the
// connection is open or ctx ends. With reconnection on (the default) it
// keeps trying until then; the error names the last failure.
func Dial(ctx context.Context, rawURL string, opts ...Option) (*Client, error) {
	c := New(opts...)
	if err := c.Connect(rawURL); err != nil {
		return nil, err
	}
	if err := c.Ready(ctx); err != nil {
		c.mu.Lock()
		last := c.lastErr
		c.mu.Unlock()
		_ = c.Close()
		if last != nil && !errors.Is(err, last) {
			return nil, fmt.Errorf("hotstate: dial %s: %w (last attempt: %v)", rawURL, err, last)
		}
		return nil, fmt.Errorf("hotstate: dial %s: %w", rawURL, err)
	}
	return c, nil
}

// Connect starts connecting to rawURL (ws://, wss://, http:// or https://)
// in the background and returns at once; Ready waits for the connection.
// Subscriptions and listeners made before are served as soon as it opens.
// It may be called once per client.
func (c *Client) Connect(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("hotstate: bad URL: %w", err)
	}
	switch u.Scheme {
	case "ws", "wss", "http", "https":
	default:
		return fmt.Errorf("hotstate: bad URL %q: scheme must be ws, wss, http or https", rawURL)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.started {
		return errors.New("hotstate: Connect called twice")
	}
	c.started = true
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.disp.start()
	c.wg.Add(1)
	go c.run(ctx, rawURL)
	return nil
}

// Ready returns nil once the connection is open (the server's hello has
// arrived), at once if it is open now. It says nothing about store data:
// Subscription.Ready waits for that. It returns ErrClosed after Close, and
// an error wrapping ErrDisconnected once a client that does not reconnect
// has lost its connection.
func (c *Client) Ready(ctx context.Context) error {
	for {
		c.mu.Lock()
		switch {
		case c.closed:
			c.mu.Unlock()
			return ErrClosed
		case c.conn != nil:
			c.mu.Unlock()
			return nil
		case c.stopped:
			err := c.lastErr
			c.mu.Unlock()
			if err == nil {
				return ErrDisconnected
			}
			return fmt.Errorf("%w: %w", ErrDisconnected, err)
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ID returns the client id the server gave the current connection, or the
// last one while disconnected; "" before the first. Servers address a
// client by it (hotstate's Server.EmitTo). It changes on every reconnection.
func (c *Client) ID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.id
}

// Close closes the connection and stops reconnecting. Calls in flight fail
// with ErrDisconnected, calls waiting for a connection with ErrClosed. It
// waits for the client's goroutines to end, except for a callback in
// progress (Close may be called from a callback); no other callback starts.
// Closing twice is harmless.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.closedCh)
	c.broadcastLocked()
	for _, st := range c.stores {
		st.stopRetryLocked()
	}
	cancel := c.cancel
	c.mu.Unlock()

	c.disp.stop()
	if cancel != nil {
		cancel()
	}
	c.wg.Wait()
	c.disp.wait()
	return nil
}

// broadcastLocked wakes everything waiting on changed.
func (c *Client) broadcastLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}
