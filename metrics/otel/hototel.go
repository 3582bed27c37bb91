// Package hototel records the metrics of a hotstate server with
// OpenTelemetry.
//
//	m, err := hototel.New(otel.GetMeterProvider())
//	if err != nil {
//		return err
//	}
//	srv := hotstate.New(hotstate.WithObserver(m.Observer()))
//
// The instruments are named hotstate.*, with units in UCUM (s, By,
// {connection}); the meter is named after this module. Stores are told
// apart by the attribute hotstate.store, their pattern ("Todos",
// "Room:*"), never by a family's key, and functions by hotstate.function,
// their registered name, so the number of series stays bounded by the
// application's code, not by its traffic.
package hototel

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"

	hotstate "github.com/hotstate/hotstate/core"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ScopeName is the name of the meter the instruments belong to.
const ScopeName = "github.com/hotstate/hotstate/metrics/otel"

// The attributes the instruments carry.
const (
	// AttrStore is a store's pattern.
	AttrStore = attribute.Key("hotstate.store")
	// AttrFunction is a function's registered name.
	AttrFunction = attribute.Key("hotstate.function")
	// AttrCode is "ok" or the error code a client was sent.
	AttrCode = attribute.Key("hotstate.code")
	// AttrCloseCode is the WebSocket close code the server sent, or
	// "peer" when the client closed first or the network failed.
	AttrCloseCode = attribute.Key("hotstate.close_code")
	// AttrStart is how a subscription started: "snapshot" or "resume".
	AttrStart = attribute.Key("hotstate.subscription.start")
)

// Metrics holds the instruments a server's Observer feeds. Create it with
// New; several servers may share one.
type Metrics struct {
	connections   metric.Int64UpDownCounter
	opened        metric.Int64Counter
	closed        metric.Int64Counter
	subscriptions metric.Int64UpDownCounter
	started       metric.Int64Counter
	created       metric.Int64Counter
	deleted       metric.Int64Counter
	changes       metric.Int64Counter
	broadcast     metric.Int64Counter
	calls         metric.Float64Histogram
	refused       metric.Int64Counter
	slow          metric.Int64Counter
	appends       metric.Float64Histogram
	conflicts     metric.Int64Counter
	appendErrors  metric.Int64Counter

	// queued is what the queue instrument reports when read: an atomic
	// add per queued or written frame, instead of a measurement.
	queued atomic.Int64
	// stores, calls and codes cache attribute sets, sparing a set's
	// construction on every change, subscription and call.
	stores    sync.Map // store pattern → *storeAttrs
	callAttrs sync.Map // callKey → metric.MeasurementOption
	codeAttrs sync.Map // error code → metric.MeasurementOption
}

type storeAttrs struct {
	store, resume, snapshot metric.MeasurementOption
}

type callKey struct{ function, code string }

// Option configures Metrics.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	callBuckets   []float64
	appendBuckets []float64
}

// WithCallBuckets sets the bucket boundaries, in seconds, advised for
// hotstate.call.duration. The default runs from 100 µs to 10 s.
func WithCallBuckets(b []float64) Option {
	return optionFunc(func(c *config) { c.callBuckets = b })
}

// WithAppendBuckets sets the bucket boundaries, in seconds, advised for
// hotstate.engine.append.duration. The default runs from 10 µs to 1 s.
func WithAppendBuckets(b []float64) Option {
	return optionFunc(func(c *config) { c.appendBuckets = b })
}

// New creates the instruments on a meter of mp.
func New(mp metric.MeterProvider, opts ...Option) (*Metrics, error) {
	c := config{
		callBuckets:   []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		appendBuckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
	}
	for _, o := range opts {
		o.apply(&c)
	}
	meter := mp.Meter(ScopeName)
	m := &Metrics{}
	var b builder
	m.connections = b.upDown(meter, "hotstate.connections", "{connection}", "Connections being served.")
	m.opened = b.counter(meter, "hotstate.connections.opened", "{connection}", "Connections the server started serving.")
	m.closed = b.counter(meter, "hotstate.connections.closed", "{connection}", "Connections ended, by the close code the server sent.")
	m.subscriptions = b.upDown(meter, "hotstate.subscriptions", "{subscription}", "Subscriptions held by connections.")
	m.started = b.counter(meter, "hotstate.subscriptions.started", "{subscription}", "Subscriptions accepted, by how they started: snapshot or resume.")
	m.created = b.counter(meter, "hotstate.instances.created", "{instance}", "Store instances created on this node.")
	m.deleted = b.counter(meter, "hotstate.instances.deleted", "{instance}", "Store instances held by this node that were deleted.")
	m.changes = b.counter(meter, "hotstate.changes", "{change}", "Changes committed and sent to this node's subscribers.")
	m.broadcast = b.counter(meter, "hotstate.broadcast.io", "By", "Bytes of changes queued to subscribers: each frame's size times its subscribers.")
	m.calls = b.histogram(meter, "hotstate.call.duration", "Duration of function calls, by function and result code.", c.callBuckets)
	m.refused = b.counter(meter, "hotstate.frames.refused", "{frame}", "Client frames answered with an error instead of acted on.")
	m.slow = b.counter(meter, "hotstate.slow_consumer.closes", "{connection}", "Connections closed because their outbound queue passed its limit.")
	m.appends = b.histogram(meter, "hotstate.engine.append.duration", "Time the engine took to append a change to a store's log.", c.appendBuckets)
	m.conflicts = b.counter(meter, "hotstate.engine.conflicts", "{conflict}", "Appends refused because another node wrote first.")
	m.appendErrors = b.counter(meter, "hotstate.engine.append.errors", "{error}", "Appends that failed for another reason than a conflict.")
	if b.err == nil {
		_, b.err = meter.Int64ObservableUpDownCounter("hotstate.outbound_queue.size",
			metric.WithUnit("By"),
			metric.WithDescription("Bytes queued to be written to clients."),
			metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
				o.Observe(m.queued.Load())
				return nil
			}))
	}
	if b.err != nil {
		return nil, b.err
	}
	return m, nil
}

// builder creates instruments, keeping the first error.
type builder struct{ err error }

func (b *builder) counter(meter metric.Meter, name, unit, desc string) metric.Int64Counter {
	c, err := meter.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	b.keep(err)
	return c
}

func (b *builder) upDown(meter metric.Meter, name, unit, desc string) metric.Int64UpDownCounter {
	c, err := meter.Int64UpDownCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	b.keep(err)
	return c
}

func (b *builder) histogram(meter metric.Meter, name, desc string, buckets []float64) metric.Float64Histogram {
	h, err := meter.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc), metric.WithExplicitBucketBoundaries(buckets...))
	b.keep(err)
	return h
}

func (b *builder) keep(err error) {
	if b.err == nil {
		b.err = err
	}
}

// Observer returns the observer that feeds the instruments, for
// hotstate.WithObserver.
func (m *Metrics) Observer() *hotstate.Observer {
	ctx := context.Background()
	return &hotstate.Observer{
		ConnOpened: func(hotstate.ConnOpenedInfo) {
			m.opened.Add(ctx, 1)
			m.connections.Add(ctx, 1)
		},
		ConnClosed: func(i hotstate.ConnClosedInfo) {
			m.connections.Add(ctx, -1)
			m.closed.Add(ctx, 1, metric.WithAttributes(AttrCloseCode.String(closeCode(i.Code))))
		},
		Subscribed: func(i hotstate.SubscribedInfo) {
			a := m.store(i.Store)
			if !i.Again {
				m.subscriptions.Add(ctx, 1, a.store)
			}
			if i.Resumed {
				m.started.Add(ctx, 1, a.resume)
			} else {
				m.started.Add(ctx, 1, a.snapshot)
			}
		},
		Unsubscribed:    func(i hotstate.UnsubscribedInfo) { m.subscriptions.Add(ctx, -1, m.store(i.Store).store) },
		InstanceCreated: func(i hotstate.InstanceInfo) { m.created.Add(ctx, 1, m.store(i.Store).store) },
		InstanceDeleted: func(i hotstate.InstanceInfo) { m.deleted.Add(ctx, 1, m.store(i.Store).store) },
		ChangeApplied: func(i hotstate.ChangeInfo) {
			a := m.store(i.Store).store
			m.changes.Add(ctx, 1, a)
			m.broadcast.Add(ctx, int64(i.Bytes*i.Subscribers), a)
		},
		CallDone:     func(i hotstate.CallInfo) { m.calls.Record(ctx, i.Duration.Seconds(), m.call(i.Function, i.Code)) },
		FrameRefused: func(i hotstate.RefusedInfo) { m.refused.Add(ctx, 1, m.code(i.Code)) },
		SlowConsumer: func(hotstate.SlowConsumerInfo) { m.slow.Add(ctx, 1) },
		QueueChanged: func(i hotstate.QueueInfo) { m.queued.Add(int64(i.Delta)) },
		EngineAppended: func(i hotstate.AppendInfo) {
			m.appends.Record(ctx, i.Duration.Seconds())
			switch {
			case i.IsConflict():
				m.conflicts.Add(ctx, 1)
			case i.Err != nil:
				m.appendErrors.Add(ctx, 1)
			}
		},
	}
}

func (m *Metrics) store(pattern string) *storeAttrs {
	if a, ok := m.stores.Load(pattern); ok {
		return a.(*storeAttrs)
	}
	s := AttrStore.String(pattern)
	a, _ := m.stores.LoadOrStore(pattern, &storeAttrs{
		store:    metric.WithAttributeSet(attribute.NewSet(s)),
		resume:   metric.WithAttributeSet(attribute.NewSet(s, AttrStart.String("resume"))),
		snapshot: metric.WithAttributeSet(attribute.NewSet(s, AttrStart.String("snapshot"))),
	})
	return a.(*storeAttrs)
}

func (m *Metrics) call(function, code string) metric.MeasurementOption {
	k := callKey{function, code}
	if o, ok := m.callAttrs.Load(k); ok {
		return o.(metric.MeasurementOption)
	}
	o, _ := m.callAttrs.LoadOrStore(k, metric.WithAttributeSet(attribute.NewSet(AttrFunction.String(function), AttrCode.String(code))))
	return o.(metric.MeasurementOption)
}

func (m *Metrics) code(code string) metric.MeasurementOption {
	if o, ok := m.codeAttrs.Load(code); ok {
		return o.(metric.MeasurementOption)
	}
	o, _ := m.codeAttrs.LoadOrStore(code, metric.WithAttributeSet(attribute.NewSet(AttrCode.String(code))))
	return o.(metric.MeasurementOption)
}

// closeCode is the attribute value of a close code.
func closeCode(code int) string {
	if code == 0 {
		return "peer"
	}
	return strconv.Itoa(code)
}
