package hotstate

import "fmt"

// stepKind names a lifecycle step that runs a user hook.
type stepKind uint8

const (
	stepCreate    stepKind = iota + 1 // OnCreate
	stepTerminate                     // OnTerminate, before Reset or Delete
)

// lifeStep is a lifecycle step in progress on one instance. Its hook runs
// without the instance lock; other creates, resets and deletes of the
// instance wait for done, while the hook's own calls back into the
// instance (same goroutine) are answered without waiting.
type lifeStep struct {
	kind stepKind
	done chan struct{}
	goid uint64
}

func newLifeStep(kind stepKind) *lifeStep {
	return &lifeStep{kind: kind, done: make(chan struct{}), goid: goroutineID()}
}

func (st *lifeStep) mine() bool { return st.goid == goroutineID() }

// reentrant is the error for a call an OnCreate hook makes on the instance
// it is creating.
func reentrant(name, method string) error {
	return fmt.Errorf("%w: %s on store %q; change the state the hook is given instead", ErrReentrant, method, name)
}
