package suite

import (
	"context"

	hotstate "github.com/hotstate/hotstate/core"
	hotinspect "github.com/hotstate/hotstate/inspector"
	hotprom "github.com/hotstate/hotstate/metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
)

// newObservedSystem is hotstate as a team runs it in production: its
// metrics registered with Prometheus and the inspector mounted, nobody
// looking at either during the run, so what shows against Hotstate is
// what they cost the hot paths.
func newObservedSystem(ctx context.Context, transport string, shared sharedEngine) (*hotSystem, error) {
	m := hotprom.New()
	if err := prometheus.NewRegistry().Register(m); err != nil {
		return nil, err
	}
	insp := hotinspect.New(hotinspect.Authorize(hotinspect.Token("hotbench")))
	h, err := newHotSystem(ctx, transport, shared, hotstate.WithObserver(m.Observer()), hotstate.WithObserver(insp.Observer()))
	if err != nil {
		insp.Close()
		return nil, err
	}
	_ = insp.Handler(h.srv) // registers its stores, as mounting it does
	closeEngine := h.closeEngine
	h.closeEngine = func() {
		insp.Close()
		closeEngine()
	}
	return h, nil
}
