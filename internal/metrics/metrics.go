// Package metrics is Intake's Prometheus registry: request and GraphQL
// operation latencies and live websocket and subscription counts, which the
// HTTP layer records; counters of what this process's sync engine did; and
// gauges of work in progress read from the database when Prometheus
// scrapes (see Store). Labels never carry organization IDs or other tenant
// data, and every label's values are bounded, so whatever clients send
// cannot grow the number of series without limit.
package metrics

import (
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/intake/intake/internal/store"
)

// MaxOperationNames bounds the operation label: names beyond the first this
// many distinct ones are counted as "other".
const MaxOperationNames = 100

// Metrics holds the registry and the instruments recorded into it.
type Metrics struct {
	registry      *prometheus.Registry
	requests      *prometheus.HistogramVec
	operations    *prometheus.HistogramVec
	subscriptions prometheus.Gauge
	websockets    prometheus.Gauge
	waiting       prometheus.Gauge
	names         *boundedNames

	contactsImported prometheus.Counter
	importIssues     *prometheus.CounterVec
	runsFinished     *prometheus.CounterVec
	pushbacksSettled *prometheus.CounterVec
	screeningCalls   prometheus.Counter
	screeningTokens  prometheus.Counter
	rateGranted      *prometheus.CounterVec
	rateWait         *prometheus.HistogramVec
}

// New returns a registry with the HTTP and GraphQL instruments and the Go
// runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "intake_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests (websockets excluded: see intake_active_websockets), by route pattern, method and status code.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method", "code"}),
		operations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "intake_graphql_operation_duration_seconds",
			Help:    "Time from receiving a GraphQL query or mutation to its response, by operation type and name (at most " + strconv.Itoa(MaxOperationNames) + " names, then \"other\").",
			Buckets: prometheus.DefBuckets,
		}, []string{"operation_type", "operation"}),
		subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "intake_active_subscriptions",
			Help: "GraphQL subscriptions streaming now.",
		}),
		websockets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "intake_active_websockets",
			Help: "Websocket connections open now.",
		}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "intake_http_requests_waiting",
			Help: "GraphQL HTTP requests waiting for one of the requests being executed to finish (INTAKE_MAX_CONCURRENT_REQUESTS).",
		}),
		names: &boundedNames{max: MaxOperationNames, seen: map[string]bool{}},
		contactsImported: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "intake_contacts_imported_total",
			Help: "Contacts imported by this process's sync runs.",
		}),
		importIssues: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "intake_import_issues_total",
			Help: "Records this process's sync runs did not import, by issue code.",
		}, []string{"code"}),
		runsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "intake_sync_runs_finished_total",
			Help: "Sync runs this process ended, by final status.",
		}, []string{"status"}),
		pushbacksSettled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "intake_pushbacks_settled_total",
			Help: "Pushbacks this process settled, by final status (DELIVERED or DEAD).",
		}, []string{"status"}),
		screeningCalls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "intake_screening_requests_total",
			Help: "Requests this process's sync runs and previews made to the screening model, retries included.",
		}),
		rateGranted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "intake_rate_budget_requests_total",
			Help: "Requests to external accounts this process's rate budgets allowed, by provider and class (pushback, interactive, background).",
		}, []string{"provider", "class"}),
		rateWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "intake_rate_budget_wait_seconds",
			Help:    "How long requests to external accounts waited for their rate budget, by provider and class.",
			Buckets: []float64{.01, .05, .1, .5, 1, 2, 5, 10, 30, 60},
		}, []string{"provider", "class"}),
		screeningTokens: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "intake_screening_tokens_total",
			Help: "Tokens (prompt and completion) the screening model reported for this process's requests.",
		}),
	}
	m.registry.MustRegister(m.requests, m.operations, m.subscriptions, m.websockets, m.waiting,
		m.contactsImported, m.importIssues, m.runsFinished, m.pushbacksSettled, m.screeningCalls, m.screeningTokens, m.rateGranted, m.rateWait,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "intake_db_retries_total",
			Help: "Statements and transactions this process ran again after PostgreSQL aborted them to resolve a deadlock or a serialization conflict.",
		}, func() float64 { return float64(store.Retried()) }),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// PageImported counts a committed page's contacts and import issues (it
// implements the sync engine's Observer). Codes come from the engine, a
// closed set.
func (m *Metrics) PageImported(contacts int, issues map[string]int) {
	m.contactsImported.Add(float64(contacts))
	for code, n := range issues {
		m.importIssues.WithLabelValues(code).Add(float64(n))
	}
}

// RunFinished counts a sync run that ended with status.
func (m *Metrics) RunFinished(status string) { m.runsFinished.WithLabelValues(status).Inc() }

// Screened counts requests to the screening model and the tokens they
// used.
func (m *Metrics) Screened(requests, tokens int) {
	m.screeningCalls.Add(float64(requests))
	m.screeningTokens.Add(float64(tokens))
}

// RateGranted counts a request a rate budget allowed after waiting.
func (m *Metrics) RateGranted(provider, class string, waited time.Duration) {
	m.rateGranted.WithLabelValues(provider, class).Inc()
	m.rateWait.WithLabelValues(provider, class).Observe(waited.Seconds())
}

// PushbackSettled counts a pushback that ended with status.
func (m *Metrics) PushbackSettled(status string) { m.pushbacksSettled.WithLabelValues(status).Inc() }

// Register adds a collector, such as a Store, to the registry.
func (m *Metrics) Register(c prometheus.Collector) error { return m.registry.Register(c) }

// Handler serves the registry in Prometheus' exposition format. A failing
// collector (the database is down) is logged and left out; the rest is
// still served.
func (m *Metrics) Handler(log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// ObserveRequest records a served HTTP request. route is the pattern that
// matched it, not its path, which may hold IDs.
func (m *Metrics) ObserveRequest(route, method string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, knownMethod(method), strconv.Itoa(code)).Observe(d.Seconds())
}

// ObserveOperation records a GraphQL operation of kind (query, mutation)
// named name by the client.
func (m *Metrics) ObserveOperation(kind, name string, d time.Duration) {
	m.operations.WithLabelValues(kind, m.names.label(name)).Observe(d.Seconds())
}

// SubscriptionStarted counts a subscription until the returned func is
// called.
func (m *Metrics) SubscriptionStarted() (ended func()) {
	m.subscriptions.Inc()
	return m.subscriptions.Dec
}

// WebsocketOpened counts a websocket connection until the returned func is
// called.
func (m *Metrics) WebsocketOpened() (closed func()) {
	m.websockets.Inc()
	return m.websockets.Dec
}

// RequestWaiting counts a request waiting for its turn to be executed
// until the returned func is called.
func (m *Metrics) RequestWaiting() (admitted func()) {
	m.waiting.Inc()
	return m.waiting.Dec
}

// knownMethod bounds the method label: any method a client makes up is
// "other".
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// operationName is what an operation name must look like to be a label
// value (GraphQL names, bounded in length).
var operationName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// boundedNames admits the first max distinct valid names as label values.
type boundedNames struct {
	mu   sync.Mutex
	max  int
	seen map[string]bool
}

func (b *boundedNames) label(name string) string {
	if name == "" {
		return "anonymous"
	}
	if !operationName.MatchString(name) {
		return "other"
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.seen[name] {
		if len(b.seen) >= b.max {
			return "other"
		}
		b.seen[name] = true
	}
	return name
}
