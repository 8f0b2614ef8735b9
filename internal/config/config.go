// Package config reads Intake's configuration from the environment. Every
// variable is documented in README.md; a bad value is an error naming it.
package config

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/intake/intake/internal/egress"
	"github.com/intake/intake/internal/logging"
)

// Config is the process configuration.
type Config struct {
	DatabaseURL     string        // DATABASE_URL; empty = embedded SQLite
	DBMaxConns      int           // INTAKE_DB_MAX_CONNS: PostgreSQL connections per process (default 20)
	GCPercent       int           // the garbage collector's GOGC for serving: 400 unless GOGC is set (then 0: the runtime's own)
	DBStmtCache     int           // INTAKE_DB_STATEMENT_CACHE: prepared statements kept per PostgreSQL connection (default 256, store.DefaultStatementCache; 0: none)
	DataDir         string        // INTAKE_DATA_DIR; default "."
	Addr            string        // INTAKE_ADDR; default 127.0.0.1:8080
	EncryptionKey   string        // INTAKE_ENCRYPTION_KEY
	AllowedOrigins  []string      // INTAKE_ALLOWED_ORIGINS, comma-separated
	Introspection   bool          // INTAKE_INTROSPECTION; default on only with SQLite
	RateBudget      bool          // INTAKE_RATE_BUDGET; default on (README, Rate budgets)
	LogFormat       string        // INTAKE_LOG_FORMAT: json (default) or text
	LogLevel        slog.Level    // INTAKE_LOG_LEVEL: debug, info (default), warn, error
	PublicURL       string        // INTAKE_PUBLIC_URL: external origin webhooks are signed for
	SandboxAddr     string        // INTAKE_SANDBOX_ADDR: where `sandbox` and --demo serve the fakes
	SyncWorkers     int           // INTAKE_SYNC_WORKERS: runs worked at once per process (default 4)
	SyncLease       time.Duration // INTAKE_SYNC_LEASE: how long a silent worker keeps a run (default 1m)
	RescueAfter     time.Duration // INTAKE_JOB_RESCUE_AFTER: when a vanished worker's job is retried (default 2m)
	PushbackDelay   time.Duration // INTAKE_PUSHBACK_RETRY_DELAY: first retry of a failed delivery (default 10s)
	PushbackWorkers int           // INTAKE_PUSHBACK_WORKERS: deliveries at once per process (default 20)
	Limits          Limits        // INTAKE_MAX_*, INTAKE_REQUEST_TIMEOUT, INTAKE_RATE_*: see limits.go
	Websocket       Websocket     // INTAKE_WS_*: see websocket.go
	MetricsAddr     string        // INTAKE_METRICS_ADDR: serve /metrics there instead of on Addr
	AuditRetention  time.Duration // INTAKE_AUDIT_RETENTION: how long audit events are kept (default 365d; 0 = forever)
	IssueRetention  time.Duration // INTAKE_RETENTION_IMPORT_ISSUES: how long import issues are kept (default 90d; 0 = forever)
	// TranscriptRetention is INTAKE_RETENTION_TRANSCRIPTS: how long call
	// results keep transcripts and answers (default 365d; 0 = forever).
	TranscriptRetention time.Duration
	EgressAllow         egress.Allow // INTAKE_EGRESS_ALLOW: non-public networks and hosts integrations may reach
	Screening           Screening    // INTAKE_SCREENING_*: the language model that applies descriptions; see screening.go
}

// Embedded reports whether the embedded SQLite default is used.
func (c Config) Embedded() bool {
	return c.DatabaseURL == "" || strings.HasPrefix(c.DatabaseURL, "sqlite:")
}

// KeyFile is where the embedded default keeps its generated encryption key.
func (c Config) KeyFile() string { return filepath.Join(c.DataDir, "intake.key") }

// DefaultGCPercent is the garbage collector's target when GOGC is not
// set: the heap may grow to five times the live data before a
// collection. A request allocates short-lived objects only, and with
// the runtime's default of 100 the collector took about a fifth of the
// server's CPU under load (README, Configuration: GOGC).
const DefaultGCPercent = 400

// FromEnv reads the configuration from getenv (os.Getenv in production).
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		DatabaseURL:   strings.TrimSpace(getenv("DATABASE_URL")),
		DataDir:       or(getenv("INTAKE_DATA_DIR"), "."),
		Addr:          or(getenv("INTAKE_ADDR"), "127.0.0.1:8080"),
		EncryptionKey: strings.TrimSpace(getenv("INTAKE_ENCRYPTION_KEY")),
		LogFormat:     or(getenv("INTAKE_LOG_FORMAT"), "json"),
		PublicURL:     strings.TrimRight(strings.TrimSpace(getenv("INTAKE_PUBLIC_URL")), "/"),
		SandboxAddr:   or(getenv("INTAKE_SANDBOX_ADDR"), "127.0.0.1:8081"),
		MetricsAddr:   strings.TrimSpace(getenv("INTAKE_METRICS_ADDR")),
		RateBudget:    true,
	}
	if getenv("GOGC") == "" {
		c.GCPercent = DefaultGCPercent
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil || c.MetricsAddr == c.Addr {
			return c, fmt.Errorf("INTAKE_METRICS_ADDR: %q must be host:port, other than INTAKE_ADDR", c.MetricsAddr)
		}
	}
	if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		return c, fmt.Errorf("INTAKE_PUBLIC_URL: %q must start with http:// or https://", c.PublicURL)
	}
	for _, o := range strings.Split(getenv("INTAKE_ALLOWED_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			if !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
				return c, fmt.Errorf("INTAKE_ALLOWED_ORIGINS: %q must start with http:// or https://", o)
			}
			c.AllowedOrigins = append(c.AllowedOrigins, o)
		}
	}
	c.Introspection = c.Embedded()
	if v := getenv("INTAKE_INTROSPECTION"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("INTAKE_INTROSPECTION: %q is not a boolean", v)
		}
		c.Introspection = b
	}
	if v := getenv("INTAKE_RATE_BUDGET"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("INTAKE_RATE_BUDGET: %q is not a boolean", v)
		}
		c.RateBudget = b
	}
	var err error
	if c.EgressAllow, err = egress.ParseAllow(getenv("INTAKE_EGRESS_ALLOW")); err != nil {
		return c, fmt.Errorf("INTAKE_EGRESS_ALLOW: %w", err)
	}
	if c.DBMaxConns, err = intVar(getenv, "INTAKE_DB_MAX_CONNS", 20, 2, 1000); err != nil {
		return c, err
	}
	if c.DBStmtCache, err = intVar(getenv, "INTAKE_DB_STATEMENT_CACHE", 256, 0, 100000); err != nil {
		return c, err
	}
	if c.SyncWorkers, err = intVar(getenv, "INTAKE_SYNC_WORKERS", 4, 1, 256); err != nil {
		return c, err
	}
	if c.SyncLease, err = durationVar(getenv, "INTAKE_SYNC_LEASE", time.Minute, time.Second); err != nil {
		return c, err
	}
	if c.RescueAfter, err = durationVar(getenv, "INTAKE_JOB_RESCUE_AFTER", 2*time.Minute, time.Second); err != nil {
		return c, err
	}
	if c.PushbackDelay, err = durationVar(getenv, "INTAKE_PUSHBACK_RETRY_DELAY", 10*time.Second, 10*time.Millisecond); err != nil {
		return c, err
	}
	if c.PushbackWorkers, err = intVar(getenv, "INTAKE_PUSHBACK_WORKERS", 20, 1, 1024); err != nil {
		return c, err
	}
	if c.AuditRetention, err = retentionVar(getenv, "INTAKE_AUDIT_RETENTION", DefaultAuditRetention); err != nil {
		return c, err
	}
	if c.IssueRetention, err = retentionVar(getenv, "INTAKE_RETENTION_IMPORT_ISSUES", DefaultIssueRetention); err != nil {
		return c, err
	}
	if c.TranscriptRetention, err = retentionVar(getenv, "INTAKE_RETENTION_TRANSCRIPTS", DefaultTranscriptRetention); err != nil {
		return c, err
	}
	if c.Limits, err = limitsFromEnv(getenv); err != nil {
		return c, err
	}
	if c.Websocket, err = websocketFromEnv(getenv); err != nil {
		return c, err
	}
	if c.Screening, err = screeningFromEnv(getenv); err != nil {
		return c, err
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return c, fmt.Errorf("INTAKE_LOG_FORMAT: %q must be json or text", c.LogFormat)
	}
	if v := getenv("INTAKE_LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return c, fmt.Errorf("INTAKE_LOG_LEVEL: %q must be debug, info, warn or error", v)
		}
	}
	if !c.Embedded() && c.EncryptionKey == "" {
		return c, fmt.Errorf("INTAKE_ENCRYPTION_KEY: required with a PostgreSQL DATABASE_URL (32 bytes, base64)")
	}
	return c, nil
}

// Logger returns the process logger.
func (c Config) Logger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "text" {
		return slog.New(logging.NewHandler(slog.NewTextHandler(os.Stderr, opts)))
	}
	return slog.New(logging.NewHandler(slog.NewJSONHandler(os.Stderr, opts)))
}

func or(v, def string) string {
	if v = strings.TrimSpace(v); v != "" {
		return v
	}
	return def
}

func intVar(getenv func(string) string, name string, def, lo, hi int) (int, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s: %q must be a whole number from %d to %d", name, v, lo, hi)
	}
	return n, nil
}

func durationVar(getenv func(string) string, name string, def, lo time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo {
		return 0, fmt.Errorf("%s: %q must be a duration of at least %s (e.g. 90s, 2m)", name, v, lo)
	}
	return d, nil
}

// Default retentions.
const (
	DefaultAuditRetention      = 365 * 24 * time.Hour
	DefaultIssueRetention      = 90 * 24 * time.Hour
	DefaultTranscriptRetention = 365 * 24 * time.Hour
)

// retentionVar reads a retention: a number of days ("90d"), a Go duration
// of at least an hour ("720h"), or "0" or "forever" to keep everything,
// which is returned as 0.
func retentionVar(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	v := strings.ToLower(strings.TrimSpace(getenv(name)))
	switch v {
	case "":
		return def, nil
	case "0", "forever":
		return 0, nil
	}
	bad := fmt.Errorf("%s: %q must be a number of days (90d), a duration of at least 1h (720h), or 0 or forever to keep everything", name, v)
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > 100*365 {
			return 0, bad
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Hour {
		return 0, bad
	}
	return d, nil
}
