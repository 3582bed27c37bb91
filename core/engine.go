package hotstate

import (
	"context"
	"errors"
)

// Errors an Engine returns, matched with errors.Is.
var (
	// ErrConflict is returned by Engine.Append when the log no longer ends
	// where the writer saw it: another writer committed first.
	ErrConflict = errors.New("hotstate: the store changed first")
	// ErrGone is returned by Engine.Since when the log no longer holds every
	// change asked for (it was trimmed, or another lifetime began): the
	// reader needs a snapshot.
	ErrGone = errors.New("hotstate: changes no longer kept")
	// ErrNotFound is returned by Engine.Load for an instance that does not
	// exist: never created, or deleted.
	ErrNotFound = errors.New("hotstate: no such store instance")
)

// Position is where the log of a store instance stands: the epoch of the
// instance's current lifetime and the version reached in it. The zero
// Position is the log of an instance that does not exist.
type Position struct {
	Epoch   uint64
	Version uint64
}

// Change is one entry of an instance's log, kept as the frame subscribers
// receive for it, encoded once by the writer and fanned out as it is: a
// patch reaching Version, a snap holding the whole state at Version (a new
// lifetime at version 0, or a Set), or a del ending the instance.
type Change struct {
	Position
	Frame []byte
}

// Engine keeps the log of every store instance and tells nodes that share
// stores of each other's changes. The server commits every change through
// one; the default keeps everything in this process's memory (see
// NewMemoryEngine). Engines for shared storage live in their own modules.
// An engine is safe for concurrent use.
type Engine interface {
	// Append adds c to the log of the instance name if the log still ends
	// at prev; otherwise it appends nothing and returns an error wrapping
	// ErrConflict. A new lifetime (creation, reset) is a snap change at
	// version 0 of a new epoch after prev, the end of the previous lifetime
	// or the zero Position; a deletion is a del change, after which the
	// log ends at the zero Position.
	Append(ctx context.Context, name string, prev Position, c Change) error
	// Since returns the changes after pos in its epoch, oldest first; an
	// error wrapping ErrGone when the log no longer holds all of them.
	Since(ctx context.Context, name string, pos Position) ([]Change, error)
	// Load returns the latest snapshot of the instance (a snap change) and
	// the changes after it: enough to rebuild its state. It returns an
	// error wrapping ErrNotFound for an instance that does not exist.
	Load(ctx context.Context, name string) (snap Change, after []Change, err error)
	// Checkpoint keeps snap, the whole state at a position the log has
	// reached, so that Load works after the changes before it are trimmed.
	// It does not move the log; a checkpoint of another lifetime, or older
	// than the one kept, is ignored.
	Checkpoint(ctx context.Context, name string, snap Change) error
	// Watch calls fn with every change appended to name after Watch
	// returns, by any node, in log order, until stop is called. fn must
	// not block or call the engine; it may run on the goroutine of an
	// Append of this engine, which then returns after it.
	Watch(name string, fn func(Change)) (stop func())
	// Publish sends msg to every node listening on channel, this one
	// included: events for all clients, or for one client on its node.
	Publish(ctx context.Context, channel string, msg []byte) error
	// Listen calls fn with every message published on channel after Listen
	// returns, until stop is called. fn must not block.
	Listen(channel string, fn func(msg []byte)) (stop func())
	// AddSubscribers adds delta to this node's count of subscribers of the
	// instance name and returns the count across every node.
	AddSubscribers(ctx context.Context, name string, delta int) (int, error)
	// Names returns the names of the instances that exist (created or
	// reset, not deleted) among those starting with prefix, in any order.
	// It may read every instance the engine keeps: it serves listings, not
	// hot paths.
	Names(ctx context.Context, prefix string) ([]string, error)
}
