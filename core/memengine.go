package hotstate

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/hotstate/hotstate/core/wire"
)

// MemoryEngine is the Engine that keeps everything in this process: the
// default of New. Each instance's log keeps its latest changes, bounded by
// count and bytes, and the latest checkpoint. Nothing survives the process,
// and nothing is shared with other processes.
type MemoryEngine struct {
	maxCount int
	maxBytes int

	mu       sync.Mutex // guards logs, channels, counts and every log's fields
	logs     map[string]*memLog
	channels map[string][]*memListener
	counts   map[string]int
}

// memLog is one instance's log.
type memLog struct {
	end Position
	// changes hold the latest changes, oldest first, ending at end.
	changes []Change
	size    int
	// snap is the latest snapshot: the change that began the lifetime, a
	// Set, or a checkpoint.
	snap     Change
	watchers []*memListener
}

type memListener struct {
	change func(Change)
	msg    func([]byte)
}

// NewMemoryEngine returns an in-memory engine whose logs keep up to
// maxCount changes and maxBytes of frames per instance.
func NewMemoryEngine(maxCount, maxBytes int) *MemoryEngine {
	return &MemoryEngine{
		maxCount: maxCount,
		maxBytes: maxBytes,
		logs:     map[string]*memLog{},
		channels: map[string][]*memListener{},
		counts:   map[string]int{},
	}
}

// Append implements Engine.
func (e *MemoryEngine) Append(_ context.Context, name string, prev Position, c Change) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.logs[name]
	var end Position
	if l != nil {
		end = l.end
	}
	if end != prev {
		return fmt.Errorf("%w: %q is at %d/%d, not %d/%d", ErrConflict, name, end.Epoch, end.Version, prev.Epoch, prev.Version)
	}
	switch {
	case wire.TypeOf(c.Frame) == wire.TypeDel:
		if l != nil {
			l.notify(c)
			e.forgetLocked(name, l)
		}
		return nil
	case c.Version == 0: // a new lifetime
		if l == nil {
			l = &memLog{}
			e.logs[name] = l
		}
		l.changes, l.size = l.changes[:0], 0
		l.snap = c
	case c.Epoch != end.Epoch || c.Version != end.Version+1:
		return fmt.Errorf("hotstate: change %d/%d does not follow %d/%d", c.Epoch, c.Version, end.Epoch, end.Version)
	case wire.TypeOf(c.Frame) == wire.TypeSnap:
		l.snap = c
	}
	l.end = c.Position
	l.add(c, e.maxCount, e.maxBytes)
	l.notify(c)
	return nil
}

// forgetLocked ends a deleted instance's log, keeping only its watchers.
func (e *MemoryEngine) forgetLocked(name string, l *memLog) {
	if len(l.watchers) == 0 {
		delete(e.logs, name)
		return
	}
	*l = memLog{watchers: l.watchers}
}

func (l *memLog) add(c Change, maxCount, maxBytes int) {
	l.changes = append(l.changes, c)
	l.size += len(c.Frame)
	for len(l.changes) > maxCount || l.size > maxBytes {
		l.size -= len(l.changes[0].Frame)
		l.changes[0] = Change{}
		l.changes = l.changes[1:]
	}
}

// notify runs the watchers under the engine's lock, which keeps their calls
// in log order however many writers append.
func (l *memLog) notify(c Change) {
	for _, w := range l.watchers {
		w.change(c)
	}
}

// Since implements Engine.
func (e *MemoryEngine) Since(_ context.Context, name string, pos Position) ([]Change, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.logs[name]
	if l == nil || l.end == (Position{}) || l.end.Epoch != pos.Epoch || pos.Version > l.end.Version {
		return nil, fmt.Errorf("%w: %q", ErrGone, name)
	}
	if pos.Version == l.end.Version {
		return nil, nil
	}
	if len(l.changes) == 0 || l.changes[0].Version > pos.Version+1 {
		return nil, fmt.Errorf("%w: %q trimmed past version %d", ErrGone, name, pos.Version)
	}
	i := int(pos.Version + 1 - l.changes[0].Version)
	return slices.Clone(l.changes[i:]), nil
}

// Load implements Engine.
func (e *MemoryEngine) Load(_ context.Context, name string) (Change, []Change, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.logs[name]
	if l == nil || l.end == (Position{}) {
		return Change{}, nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	var after []Change
	for _, c := range l.changes {
		if c.Version > l.snap.Version {
			after = append(after, c)
		}
	}
	if n := len(after); n > 0 && after[0].Version != l.snap.Version+1 {
		// The log was trimmed past the last checkpoint: nothing can
		// rebuild the state, which a writer prevents by checkpointing
		// before the log holds that many changes.
		return Change{}, nil, fmt.Errorf("hotstate: %q: no checkpoint before version %d", name, after[0].Version)
	}
	return l.snap, after, nil
}

// Checkpoint implements Engine.
func (e *MemoryEngine) Checkpoint(_ context.Context, name string, snap Change) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.logs[name]
	if l == nil || snap.Epoch != l.end.Epoch || snap.Version > l.end.Version || snap.Version <= l.snap.Version {
		return nil
	}
	l.snap = snap
	return nil
}

// Watch implements Engine.
func (e *MemoryEngine) Watch(name string, fn func(Change)) (stop func()) {
	w := &memListener{change: fn}
	e.mu.Lock()
	l := e.logs[name]
	if l == nil {
		l = &memLog{}
		e.logs[name] = l
	}
	l.watchers = append(l.watchers, w)
	e.mu.Unlock()
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if l := e.logs[name]; l != nil {
			l.watchers = slices.DeleteFunc(l.watchers, func(x *memListener) bool { return x == w })
		}
	}
}

// Publish implements Engine.
// Listeners run outside the engine's lock: they may take locks of their
// own that are held around other calls into the engine.
func (e *MemoryEngine) Publish(_ context.Context, channel string, msg []byte) error {
	e.mu.Lock()
	ls := slices.Clone(e.channels[channel])
	e.mu.Unlock()
	for _, l := range ls {
		l.msg(msg)
	}
	return nil
}

// Listen implements Engine.
func (e *MemoryEngine) Listen(channel string, fn func(msg []byte)) (stop func()) {
	l := &memListener{msg: fn}
	e.mu.Lock()
	e.channels[channel] = append(e.channels[channel], l)
	e.mu.Unlock()
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.channels[channel] = slices.DeleteFunc(e.channels[channel], func(x *memListener) bool { return x == l })
		if len(e.channels[channel]) == 0 {
			delete(e.channels, channel)
		}
	}
}

// AddSubscribers implements Engine: this process is the whole cluster.
func (e *MemoryEngine) AddSubscribers(_ context.Context, name string, delta int) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := e.counts[name] + delta
	if n <= 0 {
		delete(e.counts, name)
		return 0, nil
	}
	e.counts[name] = n
	return n, nil
}

// Names implements Engine.
func (e *MemoryEngine) Names(_ context.Context, prefix string) ([]string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var names []string
	for name, l := range e.logs {
		if l.end != (Position{}) && strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	return names, nil
}
