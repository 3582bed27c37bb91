package hotstate

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hotstate/hotstate/core/wire"
)

// saver runs one instance's OnSave hook: debounced after changes, never
// twice at once, retried after a failure, and flushed when the instance is
// reset, deleted or the server shuts down.
type saver[T any] struct {
	in *instance[T]

	mu    sync.Mutex // guards the fields below
	timer *time.Timer
	// dirty is set by a change not saved yet; since is when the first of
	// them came, which bounds how long saving may be put off.
	dirty bool
	since time.Time
	// running is closed when the save in progress ends; nil when none.
	running chan struct{}
	// failures counts saves that failed in a row, for the retry delay.
	failures int
}

// changed notes a change of the state and schedules a save: after the
// quiet period, or sooner if changes have kept coming for the longest
// allowed delay.
func (sv *saver[T]) changed() {
	o := &sv.in.fam.srv.opts
	sv.mu.Lock()
	defer sv.mu.Unlock()
	now := time.Now()
	if !sv.dirty {
		sv.dirty, sv.since = true, now
		sv.in.fam.srv.saves.add(sv)
	}
	if sv.failures > 0 {
		return // a retry is scheduled already
	}
	sv.scheduleLocked(min(o.saveQuiet, max(sv.since.Add(o.saveMax).Sub(now), 0)))
}

func (sv *saver[T]) scheduleLocked(d time.Duration) {
	if sv.timer == nil {
		sv.timer = time.AfterFunc(d, sv.fire)
		return
	}
	sv.timer.Reset(d)
}

func (sv *saver[T]) fire() { sv.save(context.Background()) }

// save runs the hook on a copy of the current state if anything changed
// since the last save, after waiting for a save in progress. It reports the
// hook's error.
func (sv *saver[T]) save(ctx context.Context) error {
	sv.mu.Lock()
	for sv.running != nil {
		running := sv.running
		sv.mu.Unlock()
		select {
		case <-running:
		case <-ctx.Done():
			return ctx.Err()
		}
		sv.mu.Lock()
	}
	if !sv.dirty {
		sv.mu.Unlock()
		return nil
	}
	if sv.timer != nil {
		sv.timer.Stop()
	}
	sv.dirty = false
	running := make(chan struct{})
	sv.running = running
	sv.mu.Unlock()

	in := sv.in
	in.mu.Lock()
	state, key := wire.Clone(in.state), in.key
	in.mu.Unlock()
	err := sv.call(ctx, key, state)

	sv.mu.Lock()
	sv.running = nil
	close(running)
	if err != nil {
		// Keep the change unsaved and try again later, backing off.
		sv.failures++
		if !sv.dirty {
			sv.dirty, sv.since = true, time.Now()
		}
		sv.scheduleLocked(min(in.fam.srv.opts.saveQuiet<<min(sv.failures, 6), time.Minute))
		in.fam.srv.listeners.failed(fmt.Errorf("hotstate: store %q: OnSave: %w", in.name, err), "")
	} else {
		sv.failures = 0
		if !sv.dirty {
			in.fam.srv.saves.remove(sv)
		}
	}
	sv.mu.Unlock()
	return err
}

// call runs the hook, turning a panic into an error.
func (sv *saver[T]) call(ctx context.Context, key string, state T) (err error) {
	defer func() {
		if v := recover(); v != nil {
			sv.in.fam.srv.logger().Error("hotstate: OnSave panicked", "store", sv.in.name, "panic", v)
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return sv.in.fam.hooks().onSave(ctx, key, state)
}

// flush saves now what is unsaved, for Shutdown.
func (sv *saver[T]) flush(ctx context.Context) error { return sv.save(ctx) }

// flusher is a saver as the server's registry sees it.
type flusher interface {
	flush(ctx context.Context) error
}

// saves is the server's registry of instances with unsaved changes.
type saves struct {
	mu    sync.Mutex // guards dirty
	dirty map[flusher]struct{}
}

func (s *saves) add(f flusher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dirty == nil {
		s.dirty = map[flusher]struct{}{}
	}
	s.dirty[f] = struct{}{}
}

func (s *saves) remove(f flusher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.dirty, f)
}

// flushAll saves every instance with unsaved changes, in parallel, and
// returns the first error.
func (s *saves) flushAll(ctx context.Context) error {
	s.mu.Lock()
	fs := make([]flusher, 0, len(s.dirty))
	for f := range s.dirty {
		fs = append(fs, f)
	}
	s.mu.Unlock()
	errs := make(chan error, len(fs))
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Go(func() { errs <- f.flush(ctx) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// WithSaveDelay sets when OnSave hooks run after changes: once changes have
// stopped for quiet, and at the latest max after the first unsaved change
// while they keep coming. The defaults are 2 s and 10 s.
func WithSaveDelay(quiet, max time.Duration) Option {
	return optionFunc(func(o *options) {
		if quiet > 0 {
			o.saveQuiet = quiet
		}
		if max > 0 {
			o.saveMax = max
		}
	})
}
