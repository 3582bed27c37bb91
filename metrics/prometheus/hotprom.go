// Package hotprom exports the metrics of a hotstate server to Prometheus.
//
// Metrics is a prometheus.Collector: register it, and give its Observer to
// the server.
//
//	m := hotprom.New()
//	prometheus.MustRegister(m)
//	srv := hotstate.New(hotstate.WithObserver(m.Observer()))
//	mux.Handle("/metrics", promhttp.Handler())
//
// Every name starts with hotstate_. Stores are labelled by their pattern
// ("Todos", "Room:*"), never by a family's key, and functions by their
// registered name, so the number of series stays bounded by the
// application's code, not by its traffic.
package hotprom

import (
	"strconv"
	"sync"
	"sync/atomic"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds the collectors a server's Observer feeds. Create it with
// New; its methods are safe for concurrent use.
type Metrics struct {
	connections   prometheus.Gauge
	opened        prometheus.Counter
	closed        *prometheus.CounterVec
	subscriptions *prometheus.GaugeVec
	resumes       *prometheus.CounterVec
	snapshots     *prometheus.CounterVec
	created       *prometheus.CounterVec
	deleted       *prometheus.CounterVec
	changes       *prometheus.CounterVec
	broadcast     *prometheus.CounterVec
	calls         *prometheus.HistogramVec
	refused       *prometheus.CounterVec
	slow          prometheus.Counter
	queue         prometheus.GaugeFunc
	appends       prometheus.Histogram
	conflicts     prometheus.Counter
	appendErrors  prometheus.Counter

	// queued is what the queue gauge reads: one atomic add per queued or
	// written frame costs less than a float gauge's compare-and-swap.
	queued atomic.Int64
	// stores and callSeries cache the children of the labelled vectors,
	// sparing a label lookup on every change, subscription and call.
	stores     sync.Map // store pattern → *storeSeries
	callSeries sync.Map // callKey → prometheus.Observer
	all        []prometheus.Collector
}

// storeSeries are the series of one store pattern.
type storeSeries struct {
	subscriptions prometheus.Gauge
	resumes       prometheus.Counter
	snapshots     prometheus.Counter
	changes       prometheus.Counter
	broadcast     prometheus.Counter
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

// WithCallBuckets sets the buckets, in seconds, of
// hotstate_call_duration_seconds. The default runs from 100 µs to 10 s.
func WithCallBuckets(b []float64) Option {
	return optionFunc(func(c *config) { c.callBuckets = b })
}

// WithAppendBuckets sets the buckets, in seconds, of
// hotstate_engine_append_seconds. The default runs from 10 µs to 1 s.
func WithAppendBuckets(b []float64) Option {
	return optionFunc(func(c *config) { c.appendBuckets = b })
}

// New returns the collectors, unregistered.
func New(opts ...Option) *Metrics {
	c := config{
		callBuckets:   []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		appendBuckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
	}
	for _, o := range opts {
		o.apply(&c)
	}
	store := []string{"store"}
	m := &Metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hotstate_connections", Help: "Connections being served.",
		}),
		opened: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotstate_connections_opened_total", Help: "Connections the server started serving.",
		}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotstate_connections_closed_total",
			Help: `Connections ended, by the WebSocket close code the server sent ("peer" when the client closed first or the network failed).`,
		}, []string{"code"}),
		subscriptions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hotstate_subscriptions", Help: "Subscriptions held by connections, by store pattern.",
		}, store),
		resumes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotstate_resumes_total", Help: "Subscriptions that resumed with the patches the client missed.",
		}, store),
		snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotstate_snapshots_total", Help: "Subscriptions that started from a snapshot of the state.",
		}, store),
		created: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotstate_instances_created_total", Help: "Store instances created on this node.",
		}, store),
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotstate_instances_deleted_total", Help: "Store instances held by this node that were deleted.",
		}, store),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotstate_changes_total", Help: "Changes committed and sent to this node's subscribers.",
		}, store),
		broadcast: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotstate_broadcast_bytes_total", Help: "Bytes of changes queued to subscribers: each frame's size times its subscribers.",
		}, store),
		calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hotstate_call_duration_seconds",
			Help:    `Function calls, by function and result code ("ok" or the error code the caller was told).`,
			Buckets: c.callBuckets,
		}, []string{"function", "code"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotstate_refused_frames_total", Help: "Client frames answered with an error instead of acted on, by error code.",
		}, []string{"code"}),
		slow: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotstate_slow_consumer_closes_total", Help: "Connections closed because their outbound queue passed its limit.",
		}),
		appends: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hotstate_engine_append_seconds", Help: "Time the engine took to append a change to a store's log.",
			Buckets: c.appendBuckets,
		}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotstate_engine_conflicts_total", Help: "Appends refused because another node wrote first.",
		}),
		appendErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotstate_engine_append_errors_total", Help: "Appends that failed for another reason than a conflict.",
		}),
	}
	m.queue = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hotstate_outbound_queue_bytes", Help: "Bytes queued to be written to clients.",
	}, func() float64 { return float64(m.queued.Load()) })
	m.all = []prometheus.Collector{
		m.connections, m.opened, m.closed, m.subscriptions, m.resumes, m.snapshots,
		m.created, m.deleted, m.changes, m.broadcast, m.calls, m.refused, m.slow,
		m.queue, m.appends, m.conflicts, m.appendErrors,
	}
	return m
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.all {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.all {
		c.Collect(ch)
	}
}

// Observer returns the observer that feeds the metrics, for
// hotstate.WithObserver. Several servers may share one Metrics.
func (m *Metrics) Observer() *hotstate.Observer {
	return &hotstate.Observer{
		ConnOpened: func(hotstate.ConnOpenedInfo) {
			m.opened.Inc()
			m.connections.Inc()
		},
		ConnClosed: func(i hotstate.ConnClosedInfo) {
			m.connections.Dec()
			m.closed.WithLabelValues(closeCode(i.Code)).Inc()
		},
		Subscribed: func(i hotstate.SubscribedInfo) {
			s := m.store(i.Store)
			if !i.Again {
				s.subscriptions.Inc()
			}
			if i.Resumed {
				s.resumes.Inc()
			} else {
				s.snapshots.Inc()
			}
		},
		Unsubscribed:    func(i hotstate.UnsubscribedInfo) { m.store(i.Store).subscriptions.Dec() },
		InstanceCreated: func(i hotstate.InstanceInfo) { m.created.WithLabelValues(i.Store).Inc() },
		InstanceDeleted: func(i hotstate.InstanceInfo) { m.deleted.WithLabelValues(i.Store).Inc() },
		ChangeApplied: func(i hotstate.ChangeInfo) {
			s := m.store(i.Store)
			s.changes.Inc()
			s.broadcast.Add(float64(i.Bytes * i.Subscribers))
		},
		CallDone:     func(i hotstate.CallInfo) { m.call(i.Function, i.Code).Observe(i.Duration.Seconds()) },
		FrameRefused: func(i hotstate.RefusedInfo) { m.refused.WithLabelValues(i.Code).Inc() },
		SlowConsumer: func(hotstate.SlowConsumerInfo) { m.slow.Inc() },
		QueueChanged: func(i hotstate.QueueInfo) { m.queued.Add(int64(i.Delta)) },
		EngineAppended: func(i hotstate.AppendInfo) {
			m.appends.Observe(i.Duration.Seconds())
			switch {
			case i.IsConflict():
				m.conflicts.Inc()
			case i.Err != nil:
				m.appendErrors.Inc()
			}
		},
	}
}

// store returns the series of a store pattern, creating them once.
func (m *Metrics) store(pattern string) *storeSeries {
	if s, ok := m.stores.Load(pattern); ok {
		return s.(*storeSeries)
	}
	s, _ := m.stores.LoadOrStore(pattern, &storeSeries{
		subscriptions: m.subscriptions.WithLabelValues(pattern),
		resumes:       m.resumes.WithLabelValues(pattern),
		snapshots:     m.snapshots.WithLabelValues(pattern),
		changes:       m.changes.WithLabelValues(pattern),
		broadcast:     m.broadcast.WithLabelValues(pattern),
	})
	return s.(*storeSeries)
}

func (m *Metrics) call(function, code string) prometheus.Observer {
	k := callKey{function, code}
	if o, ok := m.callSeries.Load(k); ok {
		return o.(prometheus.Observer)
	}
	o, _ := m.callSeries.LoadOrStore(k, m.calls.WithLabelValues(function, code))
	return o.(prometheus.Observer)
}

// closeCode is the label of a close code.
func closeCode(code int) string {
	if code == 0 {
		return "peer"
	}
	return strconv.Itoa(code)
}
