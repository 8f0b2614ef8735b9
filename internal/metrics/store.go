package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/pushback"
	"github.com/intake/intake/ent/syncrun"
	"github.com/intake/intake/internal/viewer"
)

// Store collects, when Prometheus scrapes, the work in progress across all
// organizations and replicas: sync runs queued or running, pushbacks not
// yet delivered (DEAD ones included: they need a person), and River's queue
// depth. Each query reads only rows in those states through an index on
// the state, so its cost follows the backlog, not the history; what has
// finished is counted by each process as it happens (Metrics'
// *_total counters). Results are kept for TTL, so frequent or concurrent
// scrapes cost the database one round of queries per TTL.
type Store struct {
	ent  *ent.Client
	jobs func(context.Context) (map[string]map[string]int, error)
	ttl  time.Duration
	log  *slog.Logger

	mu   sync.Mutex
	at   time.Time
	last []prometheus.Metric
}

// StoreDeps are what Store reads.
type StoreDeps struct {
	Ent *ent.Client
	// Jobs returns the jobs waiting or running by queue and state.
	Jobs   func(context.Context) (map[string]map[string]int, error)
	Logger *slog.Logger
}

// NewStore returns a collector that queries at most once per ttl.
func NewStore(d StoreDeps, ttl time.Duration) *Store {
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{ent: d.Ent, jobs: d.Jobs, ttl: ttl, log: log}
}

var (
	syncRunsDesc = prometheus.NewDesc("intake_sync_runs",
		"Sync runs queued or running, by status.", []string{"status"}, nil)
	pushbacksDesc = prometheus.NewDesc("intake_pushbacks",
		"Pushbacks not delivered: PENDING, RETRYING or DEAD.", []string{"status"}, nil)
	riverJobsDesc = prometheus.NewDesc("intake_river_jobs",
		"Background jobs not yet finished (queue depth), by River queue and job state.", []string{"queue", "state"}, nil)
	storeUpDesc = prometheus.NewDesc("intake_store_scrape_success",
		"1 if the last database query for these metrics succeeded, 0 if not.", nil, nil)
)

// Describe implements prometheus.Collector.
func (s *Store) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{syncRunsDesc, pushbacksDesc, riverJobsDesc, storeUpDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A failed query is logged and
// reported as intake_store_scrape_success 0, so the scrape still serves
// the process's own metrics.
func (s *Store) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil || time.Since(s.at) >= s.ttl {
		ctx, cancel := context.WithTimeout(viewer.SystemContext(context.Background()), 5*time.Second)
		ms, err := s.query(ctx)
		cancel()
		up := 1.0
		if err != nil {
			s.log.Warn("reading metrics from the database", slog.Any("err", err))
			ms, up = nil, 0
		}
		s.last = append(ms, prometheus.MustNewConstMetric(storeUpDesc, prometheus.GaugeValue, up))
		s.at = time.Now()
	}
	for _, m := range s.last {
		ch <- m
	}
}

func (s *Store) query(ctx context.Context) ([]prometheus.Metric, error) {
	var out []prometheus.Metric
	gauge := func(d *prometheus.Desc, n int, labels ...string) {
		out = append(out, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(n), labels...))
	}

	var runs []struct {
		Status string `json:"status"`
		Count  int    `json:"count"`
	}
	if err := s.ent.SyncRun.Query().Where(syncrun.StatusIn(syncrun.StatusQUEUED, syncrun.StatusRUNNING)).
		GroupBy(syncrun.FieldStatus).Aggregate(ent.Count()).Scan(ctx, &runs); err != nil {
		return nil, fmt.Errorf("counting sync runs: %w", err)
	}
	for _, st := range []syncrun.Status{syncrun.StatusQUEUED, syncrun.StatusRUNNING} {
		n := 0
		for _, r := range runs {
			if r.Status == string(st) {
				n = r.Count
			}
		}
		gauge(syncRunsDesc, n, string(st))
	}

	var pushbacks []struct {
		Status string `json:"status"`
		Count  int    `json:"count"`
	}
	open := []pushback.Status{pushback.StatusPENDING, pushback.StatusRETRYING, pushback.StatusDEAD}
	if err := s.ent.Pushback.Query().Where(pushback.StatusIn(open...)).
		GroupBy(pushback.FieldStatus).Aggregate(ent.Count()).Scan(ctx, &pushbacks); err != nil {
		return nil, fmt.Errorf("counting push-backs: %w", err)
	}
	for _, st := range open {
		n := 0
		for _, p := range pushbacks {
			if p.Status == string(st) {
				n = p.Count
			}
		}
		gauge(pushbacksDesc, n, string(st))
	}

	jobs, err := s.jobs(ctx)
	if err != nil {
		return nil, fmt.Errorf("counting jobs: %w", err)
	}
	for queue, states := range jobs {
		for state, n := range states {
			gauge(riverJobsDesc, n, queue, state)
		}
	}
	return out, nil
}
