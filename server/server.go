// Package server is Intake's HTTP layer: routes, API key authentication,
// the GraphQL handler with its transports (POST, GET for queries, and
// websockets for subscriptions), the playground, health checks and the
// incoming webhooks.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/internal/logging"
	"github.com/intake/intake/internal/metrics"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/sync/progress"
)

// Config is the HTTP server's configuration.
type Config struct {
	Addr string
	// AllowedOrigins may open websockets besides the server's own origin.
	AllowedOrigins []string
	// Introspection enables schema introspection and the playground.
	Introspection bool
	// PublicURL is the server's external origin (scheme://host), which
	// webhook signatures cover; empty means each request's own.
	PublicURL string
	// Limits bound each request's size, cost, duration and rate.
	Limits Limits
	// Websocket bounds websocket clients (see WebsocketLimits).
	Websocket WebsocketLimits
	// MetricsAddr, if set, is where /metrics is served instead of on Addr.
	MetricsAddr string
}

// Deps are the server's dependencies.
type Deps struct {
	DB      *ent.Client
	Ping    func(context.Context) error // database readiness
	Service *service.Service
	Broker  progress.Broker
	Logger  *slog.Logger
	// Webhooks receives verified webhook events (nil: accepted and dropped).
	Webhooks WebhookSink
	// Ready is readiness beyond the database (the sync engine); nil: the
	// database alone.
	Ready func(context.Context) error
	// Metrics records the server's metrics and serves /metrics (nil: a
	// registry of the server's own metrics only).
	Metrics *metrics.Metrics
}

// Server serves Intake over HTTP.
type Server struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	http *http.Server
	rate *rateLimiter[pulid.ID] // nil: no rate limit
	ws   *websockets
	// auth limits failed authentications per client address.
	auth *authGuard
	// used throttles the writes of API keys' last_used_at; bg counts those
	// in flight, so that Stop waits for them.
	used *keyUse
	bg   sync.WaitGroup
	// metricsSrv serves /metrics on Config.MetricsAddr (nil: on Addr).
	metricsSrv *metricsServer
	// ln is the API's listener, bound by Listen.
	ln net.Listener
}

// New returns a server; Start runs it.
func New(cfg Config, d Deps) *Server {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	// Request IDs and redaction, even for a logger not built by config.
	d.Logger = slog.New(logging.NewHandler(d.Logger.Handler()))
	if d.Metrics == nil {
		d.Metrics = metrics.New()
	}
	cfg.Limits = cfg.Limits.withDefaults()
	s := &Server{cfg: cfg, deps: d, log: d.Logger, rate: newRateLimiter(cfg.Limits),
		ws:   newWebsockets(cfg.Websocket, cfg.AllowedOrigins, cfg.Limits.MessageBytes),
		auth: newAuthGuard(), used: newKeyUse()}
	s.ws.auth, s.ws.opened, s.ws.log = s.viewerFor, d.Metrics.WebsocketOpened, d.Logger
	s.http = &http.Server{
		Addr:              cfg.Addr,
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(d.Logger.Handler(), slog.LevelWarn),
	}
	s.http.RegisterOnShutdown(s.ws.goAway)
	return s
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	gql := s.graphQL()
	mux.Handle("/graphql", s.guardRequest(s.authenticate(s.limitRate(s.admit(gql)))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.ready)
	if s.cfg.MetricsAddr == "" {
		mux.Handle("GET /metrics", s.deps.Metrics.Handler(s.log))
	}
	mux.HandleFunc("POST /webhooks/{provider}/{integrationID}", s.webhook)
	if s.cfg.Introspection {
		mux.Handle("GET /{$}", playgroundHandler())
	}
	mux.Handle("GET /console", consoleHandler())
	mux.Handle("GET /assets/{file}", assetsHandler())
	return s.observe(mux)
}

// Listen binds the API's address and, if set, the metrics address,
// without serving them yet. An application binds before it starts anything
// else, so that a taken port fails it with nothing to undo.
func (s *Server) Listen() (net.Addr, error) {
	if s.ln != nil {
		return s.ln.Addr(), nil
	}
	if err := s.listenMetrics(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		s.closeMetricsListener()
		return nil, err
	}
	s.ln = ln
	return ln.Addr(), nil
}

// Start serves until Stop, binding first unless Listen did. It returns the
// listener's address once it accepts connections, and a channel that
// receives the error that ended serving (nil after Stop).
func (s *Server) Start() (net.Addr, <-chan error, error) {
	if _, err := s.Listen(); err != nil {
		return nil, nil, err
	}
	s.serveMetrics()
	s.ws.startKeySweep(s.deps.Service.InvalidAPIKeys)
	done := make(chan error, 1)
	ln := s.ln
	go func() {
		err := s.http.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		done <- err
	}()
	return ln.Addr(), done, nil
}

// Stop stops accepting connections, sends every websocket a close frame
// (1001, going away) and waits for requests in flight, up to ctx's
// deadline; then it closes what is left, websockets included.
func (s *Server) Stop(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if err != nil {
		s.http.Close()
	}
	if s.ln != nil {
		s.ln.Close() // bound but never served: Shutdown does not close it
	}
	s.ws.stopKeySweep()
	s.ws.closeAll(ctx)
	s.bg.Wait() // last_used_at writes: each bounded by usageWriteTimeout
	return errors.Join(err, s.stopMetrics(ctx))
}

// authenticate resolves the Bearer API key into the request's viewer.
// Websocket upgrades pass: their key comes in connection_init.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			next.ServeHTTP(w, r)
			return
		}
		v, err := s.viewerFor(r.Context(), r.RemoteAddr, r.Header.Get("Authorization"))
		if err != nil {
			e := service.Classify(err)
			status := http.StatusUnauthorized
			ext := map[string]any{"code": e.Code}
			switch e.Code {
			case service.CodeInternal:
				s.log.ErrorContext(r.Context(), "authenticating", slog.Any("err", err))
				status = http.StatusServiceUnavailable
			case service.CodeRateLimited:
				status = http.StatusTooManyRequests
				secs := retryAfterSeconds(e.RetryAfter)
				w.Header().Set("Retry-After", strconv.Itoa(secs))
				ext["retryAfter"] = secs
			}
			writeJSON(w, status, map[string]any{"errors": []any{map[string]any{"message": e.Message, "extensions": ext}}})
			return
		}
		next.ServeHTTP(w, r.WithContext(viewer.NewContext(r.Context(), v)))
	})
}

// viewerFor authenticates an Authorization value ("Bearer <key>") sent from
// remoteAddr, HTTP request and websocket connection_init alike. A failed
// lookup counts against the address (authGuard); a successful one records
// the key's use (keyUse).
func (s *Server) viewerFor(ctx context.Context, remoteAddr, authorization string) (*viewer.Viewer, error) {
	key, ok := service.BearerKey(authorization)
	if !ok {
		return nil, &service.Error{Code: service.CodeUnauthenticated, Message: "an API key is required: Authorization: Bearer <key>"}
	}
	addr, now := clientAddr(remoteAddr), time.Now()
	if wait := s.auth.refused(addr, key, now); wait > 0 {
		return nil, authRateLimited(wait)
	}
	v, err := s.deps.Service.Authenticate(ctx, key)
	if err != nil {
		if service.Classify(err).Code == service.CodeUnauthenticated {
			s.auth.failed(addr, now)
		}
		return nil, err
	}
	s.auth.succeeded(key, now)
	if s.used.due(v.KeyID, now) {
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			s.recordUse(context.WithoutCancel(ctx), v.KeyID, now)
		}()
	}
	return v, nil
}

// usageWriteTimeout bounds one write of last_used_at.
const usageWriteTimeout = 5 * time.Second

// recordUse writes a key's last_used_at. It runs off the request's path (a
// busy database must not slow the request down for it), and a failure only
// leaves the time staler: the next write is due a minute later.
func (s *Server) recordUse(ctx context.Context, key pulid.ID, at time.Time) {
	ctx, cancel := context.WithTimeout(ctx, usageWriteTimeout)
	defer cancel()
	if err := s.deps.Service.RecordAPIKeyUse(ctx, key, at); err != nil {
		s.log.WarnContext(ctx, "recording an API key's use", slog.String("key_id", string(key)), slog.Any("err", err))
	}
}

// keyUse throttles the writes of API keys' last_used_at: at most one per
// key per service.LastUsedPrecision from this process, so that requests do
// not each write the database. Other replicas throttle their own; the
// write's condition keeps them from writing the row more often than that
// in all.
type keyUse struct {
	mu      sync.Mutex
	written map[pulid.ID]time.Time // when this process last wrote the key
	swept   time.Time
}

func newKeyUse() *keyUse { return &keyUse{written: map[pulid.ID]time.Time{}} }

// due reports whether key's use at now should be written, and if so counts
// it as written.
func (u *keyUse) due(key pulid.ID, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if now.Sub(u.swept) >= service.LastUsedPrecision {
		// Entries that old are due anyway: dropping them bounds the map
		// by the keys used in the last period.
		for k, at := range u.written {
			if now.Sub(at) >= service.LastUsedPrecision {
				delete(u.written, k)
			}
		}
		u.swept = now
	}
	if at, ok := u.written[key]; ok && now.Sub(at) < service.LastUsedPrecision {
		return false
	}
	u.written[key] = now
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
