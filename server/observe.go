package server

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/intake/intake/internal/logging"
)

// requestIDHeader carries a request's ID in from a proxy or client and back
// out in the response.
const requestIDHeader = "X-Request-ID"

// validRequestID is what an incoming request ID must look like to be kept:
// short, and nothing a log reader could mistake for structure.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// observe wraps every route: it gives the request an ID (the caller's
// X-Request-ID if sane, else a new one) that is echoed in the response and
// added to every log record of the request, records the request's latency
// in intake_http_request_duration_seconds (websockets are counted by
// websockets, while they are open), and writes one access log line when the request ends. The line
// holds the path without the query string (GET queries and webhooks may
// carry personal data there) and never a header.
func (s *Server) observe(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(requestIDHeader)
		if !validRequestID.MatchString(id) {
			id = newRequestID()
		}
		w.Header().Set(requestIDHeader, id)
		r = r.WithContext(logging.WithRequestID(r.Context(), id))
		rec := &recorder{ResponseWriter: w}

		mux.ServeHTTP(rec, r) // sets r.Pattern to the route that matched

		route := "unmatched"
		if r.Pattern != "" {
			_, path, found := strings.Cut(r.Pattern, " ")
			if !found {
				path = r.Pattern
			}
			route = path
		}
		status, took := rec.code(), time.Since(start)
		if !rec.hijacked {
			// A websocket upgrade is not a request with a latency.
			s.deps.Metrics.ObserveRequest(route, r.Method, status, took)
		}
		level := slog.LevelInfo
		if route == "/healthz" || route == "/readyz" || route == "/metrics" {
			level = slog.LevelDebug // probes and scrapes every few seconds
		}
		s.log.LogAttrs(r.Context(), level, "http request",
			slog.String("method", r.Method), slog.String("route", route), slog.String("path", r.URL.Path),
			slog.Int("status", status), slog.Duration("duration", took), slog.Int64("bytes", rec.bytes))
	})
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// recorder notes a response's status and size. It passes Hijack through
// for websockets.
type recorder struct {
	http.ResponseWriter
	status   int
	bytes    int64
	hijacked bool
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// code is the status sent; a handler that wrote nothing sent 200.
func (r *recorder) code() int {
	switch {
	case r.hijacked:
		return http.StatusSwitchingProtocols
	case r.status == 0:
		return http.StatusOK
	}
	return r.status
}

// Hijack implements http.Hijacker, which websocket upgrades need.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("the response writer cannot be hijacked")
	}
	conn, rw, err := h.Hijack()
	r.hijacked = r.hijacked || err == nil
	return conn, rw, err
}

// Flush implements http.Flusher.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// observeOperation records each query's and mutation's duration, from the
// request's arrival to its response, and counts subscriptions while they
// stream. It runs before the other operation middlewares, so refused
// operations count too.
func (s *Server) observeOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil {
		return next(ctx)
	}
	// The operation's own name: the request's operationName is optional.
	kind, name := string(oc.Operation.Operation), oc.Operation.Name
	if oc.Operation.Operation == ast.Subscription {
		// The response handler is called for every event and returns nil
		// once the stream has ended, however it ended.
		ended := sync.OnceFunc(s.deps.Metrics.SubscriptionStarted())
		responses := next(ctx)
		return func(ctx context.Context) *graphql.Response {
			resp := responses(ctx)
			if resp == nil {
				ended()
			}
			return resp
		}
	}
	start := oc.Stats.OperationStart
	if start.IsZero() {
		start = time.Now()
	}
	var once sync.Once
	responses := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		once.Do(func() { s.deps.Metrics.ObserveOperation(kind, name, time.Since(start)) })
		return resp
	}
}

// ready reports 200 once the database answers and, with Deps.Ready, the
// sync engine is running; 503 naming what is not ready otherwise.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.deps.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "not ready", slog.Any("err", err))
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unavailable"})
		return
	}
	if s.deps.Ready != nil {
		if err := s.deps.Ready(ctx); err != nil {
			s.log.WarnContext(ctx, "not ready", slog.Any("err", err))
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "sync engine unavailable"})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// metricsServer serves /metrics on Config.MetricsAddr, apart from the API.
type metricsServer struct {
	http *http.Server
	addr net.Addr
	ln   net.Listener
}

// listenMetrics binds Config.MetricsAddr, if set; serveMetrics serves it.
func (s *Server) listenMetrics() error {
	if s.cfg.MetricsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("metrics address: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.deps.Metrics.Handler(s.log))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	s.metricsSrv = &metricsServer{http: srv, addr: ln.Addr(), ln: ln}
	return nil
}

// closeMetricsListener undoes listenMetrics when the API's address cannot
// be bound.
func (s *Server) closeMetricsListener() {
	if s.metricsSrv != nil {
		s.metricsSrv.ln.Close()
		s.metricsSrv = nil
	}
}

func (s *Server) serveMetrics() {
	if s.metricsSrv == nil {
		return
	}
	m := s.metricsSrv
	go func() {
		if err := m.http.Serve(m.ln); !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serving metrics", slog.Any("err", err))
		}
	}()
}

func (s *Server) stopMetrics(ctx context.Context) error {
	if s.metricsSrv == nil {
		return nil
	}
	err := s.metricsSrv.http.Shutdown(ctx)
	s.metricsSrv.ln.Close() // bound but never served: Shutdown does not close it
	return err
}

// MetricsAddr is where /metrics is served apart from the API, or nil when
// it is served on the API's address.
func (s *Server) MetricsAddr() net.Addr {
	if s.metricsSrv == nil {
		return nil
	}
	return s.metricsSrv.addr
}
