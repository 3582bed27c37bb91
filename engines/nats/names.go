package hotnats

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	hotstate "github.com/hotstate/hotstate/core"

	"github.com/nats-io/nats.go/jetstream"
)

// Names implements hotstate.Engine: the log stream's subjects name every
// instance it holds messages of, and an instance exists while the last of
// them does not end it. It reads one message per instance with the prefix.
func (e *Engine) Names(ctx context.Context, prefix string) ([]string, error) {
	if err := e.connected("names", prefix); err != nil {
		return nil, err
	}
	head := e.prefix + ".log."
	info, err := e.logs.Info(ctx, jetstream.WithSubjectFilter(head+"*"))
	if err != nil {
		return nil, fmt.Errorf("hotstate: nats: names %q: %w", prefix, err)
	}
	var names []string
	for subject := range info.State.Subjects {
		name, ok := untoken(strings.TrimPrefix(subject, head))
		if !ok || !strings.HasPrefix(name, prefix) {
			continue
		}
		last, ok, err := e.lastStored(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("hotstate: nats: names %q: %w", prefix, err)
		}
		if ok && last.tip.end != (hotstate.Position{}) {
			names = append(names, name)
		}
	}
	return names, nil
}

// untoken reverses token.
func untoken(t string) (string, bool) {
	if t == "_" {
		return "", true
	}
	b, err := base64.RawURLEncoding.DecodeString(t)
	return string(b), err == nil
}
