// Package metrics is the daemon's monitoring: Prometheus metrics served
// on /metrics, and /healthz and /readyz for supervisors and load
// balancers, on a listener of their own (config metrics.address).
//
// The packages that do the work (onebot, store, yunhu, bridge) do not
// know Prometheus: each offers a few func fields in its Options, or a
// stats method, and Metrics implements them. The event path, which
// carries tens of thousands of events a second, only adds to atomic
// counters the hub keeps anyway (onebot.Hub.Stats, read at scrape time);
// the rest (actions, REST calls, commits) happens at most a few thousand
// times a second, where a histogram observation costs nothing that shows.
//
// Every label value comes from a fixed set, whatever clients and Yunhu
// send: action names only when registered (anything else is "unknown"),
// push kinds from the bridge's own list, REST endpoints from the client's
// path constants, transports from the three kinds.
//
// A Metrics owns its registry; nothing is registered globally, so tests
// and several daemons in one process do not share counters.
package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/yunhu-onebot/yunhu-onebot/onebot"
)

// namespace prefixes every metric of the daemon.
const namespace = "yunhu_onebot"

// UnknownAction is the action label of calls to names that are not
// registered.
const UnknownAction = "unknown"

// Metrics holds the daemon's metrics and their registry.
type Metrics struct {
	reg *prometheus.Registry

	pushes      map[string]prometheus.Counter // by kind; read-only after New
	actions     *prometheus.HistogramVec      // action, retcode
	calls       *prometheus.HistogramVec      // endpoint
	callErrors  *prometheus.CounterVec        // endpoint
	reconnects  prometheus.Counter
	backfilled  prometheus.Counter
	commits     prometheus.Histogram
	commitFails prometheus.Counter
}

// New returns Metrics with its own registry, holding the Go runtime and
// process collectors besides the daemon's own metrics.
func New() *Metrics {
	// The kinds bridge.Options.OnPush reports; anything else is counted as
	// "other".
	pushKinds := []string{"message", "recall", "edit", "stream", "invite", "draft", "file_send", "hang_up", "bot_board", "other"}
	m := &Metrics{reg: prometheus.NewRegistry(), pushes: make(map[string]prometheus.Counter, len(pushKinds))}
	pushes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "yunhu_pushes_total",
		Help: "Pushes received from the Yunhu push socket, by kind.",
	}, []string{"kind"})
	for _, k := range pushKinds {
		m.pushes[k] = pushes.WithLabelValues(k)
	}
	m.actions = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "action_duration_seconds",
		Help:    "OneBot action calls by action and retcode, and how long their handlers took (unregistered names are action=\"unknown\").",
		Buckets: prometheus.DefBuckets,
	}, []string{"action", "retcode"})
	m.calls = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "yunhu_request_duration_seconds",
		Help:    "Yunhu REST calls (retries included) by endpoint, and how long they took.",
		Buckets: prometheus.DefBuckets,
	}, []string{"endpoint"})
	m.callErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "yunhu_request_errors_total",
		Help: "Yunhu REST calls that failed, by endpoint.",
	}, []string{"endpoint"})
	m.reconnects = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "yunhu_push_reconnects_total",
		Help: "Times the Yunhu push socket was dialled again after a failed or ended session.",
	})
	m.backfilled = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "backfilled_messages_total",
		Help: "Messages reported by catching up on history after a reconnect or restart.",
	})
	m.commits = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "store_commit_duration_seconds",
		Help: "Store write transactions (each carrying one or more writes), and how long they took with their fsync.",
		// 0.25 ms to 4 s: an fsync takes from well under a millisecond on
		// an SSD to seconds on a busy SD card.
		Buckets: prometheus.ExponentialBuckets(0.00025, 2, 15),
	})
	m.commitFails = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "store_commit_errors_total",
		Help: "Store write transactions that failed.",
	})
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		pushes, m.actions, m.calls, m.callErrors, m.reconnects, m.backfilled, m.commits, m.commitFails,
	)
	return m
}

// Registry is where the metrics are registered, for the handler and for
// tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// WatchHub exports hub's per-transport counts (onebot.Hub.Stats), read at
// each scrape. Call it once per hub.
func (m *Metrics) WatchHub(hub *onebot.Hub) {
	label := []string{"transport"}
	m.reg.MustRegister(&hubCollector{
		hub: hub,
		published: prometheus.NewDesc(namespace+"_events_published_total",
			"OneBot events handed to a transport's queues and buffers (those then dropped included).", label, nil),
		dropped: prometheus.NewDesc(namespace+"_events_dropped_total",
			"OneBot events lost because a transport's queue (or a forward WS server's buffer) was full.", label, nil),
		queued: prometheus.NewDesc(namespace+"_event_queue_depth",
			"OneBot events waiting in a transport's queues and buffers now.", label, nil),
		connected: prometheus.NewDesc(namespace+"_clients_connected",
			"Event subscribers of a transport delivering now: forward WS event connections, connected reverse WS, webhooks whose last delivery worked.", label, nil),
	})
}

// WatchReady exports ready as the yunhu_onebot_ready gauge, read at each
// scrape.
func (m *Metrics) WatchReady(ready func() error) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: "ready",
		Help: "1 when logged in to Yunhu with the push socket connected (as /readyz), else 0.",
	}, func() float64 {
		if ready() != nil {
			return 0
		}
		return 1
	}))
}

// OnPush is bridge.Options.OnPush.
func (m *Metrics) OnPush(kind string) {
	c, ok := m.pushes[kind]
	if !ok {
		c = m.pushes["other"]
	}
	c.Inc()
}

// OnAction is onebot.RouterOptions.OnAction.
func (m *Metrics) OnAction(action string, retcode int, took time.Duration) {
	if action == "" {
		action = UnknownAction
	}
	m.actions.WithLabelValues(action, strconv.Itoa(retcode)).Observe(took.Seconds())
}

// OnCall is yunhu.Options.OnCall.
func (m *Metrics) OnCall(endpoint string, took time.Duration, err error) {
	m.calls.WithLabelValues(endpoint).Observe(took.Seconds())
	if err != nil {
		m.callErrors.WithLabelValues(endpoint).Inc()
	}
}

// OnReconnect is yunhu.Options.OnReconnect.
func (m *Metrics) OnReconnect() { m.reconnects.Inc() }

// OnBackfill is bridge.Options.OnBackfill.
func (m *Metrics) OnBackfill(messages int) { m.backfilled.Add(float64(messages)) }

// OnCommit is store.Options.OnCommit.
func (m *Metrics) OnCommit(_ int, took time.Duration, err error) {
	m.commits.Observe(took.Seconds())
	if err != nil {
		m.commitFails.Inc()
	}
}

// hubCollector turns onebot.Hub.Stats into metrics at scrape time.
type hubCollector struct {
	hub                                   *onebot.Hub
	published, dropped, queued, connected *prometheus.Desc
}

func (c *hubCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.published
	ch <- c.dropped
	ch <- c.queued
	ch <- c.connected
}

func (c *hubCollector) Collect(ch chan<- prometheus.Metric) {
	for _, t := range c.hub.Stats() {
		ch <- prometheus.MustNewConstMetric(c.published, prometheus.CounterValue, float64(t.Published), t.Transport)
		ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(t.Dropped), t.Transport)
		ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(t.Queued), t.Transport)
		ch <- prometheus.MustNewConstMetric(c.connected, prometheus.GaugeValue, float64(t.Connected), t.Transport)
	}
}
