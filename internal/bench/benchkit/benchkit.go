// Package benchkit holds what the benchmark commands share: a scratch
// PostgreSQL database per run, the configuration of the Intake they
// measure, and readings of the machine.
package benchkit

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	_ "github.com/lib/pq"

	"github.com/intake/intake/internal/config"
	"github.com/intake/intake/internal/secrets"
	"github.com/intake/intake/internal/store"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/sandbox"
)

// DefaultPostgresURL is the server used when neither -postgres nor
// TEST_DATABASE_URL is given.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresURL checks a -postgres flag's value: a postgres:// URL with a
// host. Without an sslmode it gets sslmode=disable (the server is on
// loopback).
func PostgresURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return "", fmt.Errorf("-postgres: %q is not a postgres:// URL", raw)
	}
	if !u.Query().Has("sslmode") {
		q := u.Query()
		q.Set("sslmode", "disable")
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// SearchAll picks the search of the provider d that fetches every person
// of data: the talent pool search over enough days where the provider has
// one, else new applications (whose first run looks back far enough).
func SearchAll(d connector.Descriptor, data sandbox.Dataset) (string, map[string]any) {
	if st, ok := d.SearchType(connector.SearchTalentPool); ok {
		for _, f := range st.Fields {
			if f.Key == "daysSinceLastChange" {
				span := time.Since(data.CreatedAt(0)) + time.Hour
				return st.Key, map[string]any{f.Key: int(span/(24*time.Hour)) + 1}
			}
		}
	}
	return connector.SearchNewApplications, map[string]any{}
}

// dbSeq tells apart the scratch databases of one process.
var dbSeq atomic.Int64

// ScratchDatabase creates a new database named prefix_<pid>_<time>_<n> on
// server and returns its URL, its name and a function that drops it.
func ScratchDatabase(ctx context.Context, server, prefix string) (dbURL, name string, drop func() error, err error) {
	admin, err := sql.Open("postgres", server)
	if err != nil {
		return "", "", nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := admin.PingContext(pctx); err != nil {
		admin.Close()
		return "", "", nil, fmt.Errorf("-postgres: cannot reach %s: %w", Redact(server), err)
	}
	name = fmt.Sprintf("%s_%d_%d_%d", prefix, os.Getpid(), time.Now().UnixNano()%1e9, dbSeq.Add(1))
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", "", nil, fmt.Errorf("creating the scratch database: %w", err)
	}
	u, _ := url.Parse(server)
	u.Path = "/" + name
	drop = func() error {
		defer admin.Close()
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		// FORCE: a run that failed may leave connections open.
		_, err := admin.ExecContext(dctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		return err
	}
	return u.String(), name, drop, nil
}

// Scratch is a migrated scratch database with its store open.
type Scratch struct {
	URL, Name string
	Store     *store.Store
	drop      func() error
}

// OpenScratch creates a scratch database on server (see
// ScratchDatabase), opens it and migrates it.
func OpenScratch(ctx context.Context, server, prefix string) (*Scratch, error) {
	dbURL, name, drop, err := ScratchDatabase(ctx, server, prefix)
	if err != nil {
		return nil, err
	}
	sc := &Scratch{URL: dbURL, Name: name, drop: drop}
	if sc.Store, err = store.Open(ctx, dbURL, ""); err == nil {
		if _, err = sc.Store.Migrate(ctx); err != nil {
			err = fmt.Errorf("migrating: %w", err)
		}
	}
	if err != nil {
		sc.Close(false, io.Discard, io.Discard, "")
		return nil, err
	}
	return sc, nil
}

// Close closes the store and drops the database, or with keep says on
// stdout where it is kept; cmd prefixes a failure to drop, on stderr.
func (sc *Scratch) Close(keep bool, stdout, stderr io.Writer, cmd string) {
	if sc.Store != nil {
		sc.Store.Close()
	}
	if keep {
		fmt.Fprintf(stdout, "kept the scratch database: %s\n", sc.URL)
		return
	}
	if err := sc.drop(); err != nil {
		fmt.Fprintf(stderr, "%s: dropping %s: %v\n", cmd, sc.Name, err)
	}
}

// Redact is a database URL without its password, for messages.
func Redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "the server"
	}
	return p.Redacted()
}

// LoadAverage is the machine's 1, 5 and 15 minute load averages.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// LoopbackAllow is INTAKE_EGRESS_ALLOW of a benchmark's Intake: the fakes
// it talks to listen on loopback, which the production default refuses.
const LoopbackAllow = "127.0.0.0/8"

// NewEncryptionKey returns a fresh credentials key as INTAKE_ENCRYPTION_KEY
// takes it: base64 of 32 random bytes.
func NewEncryptionKey() (string, error) {
	key := make([]byte, secrets.KeySize)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(key), nil
}

// Config is the configuration of the Intake a benchmark measures, read by
// config.FromEnv as main.go reads the process environment, but from env
// alone: INTAKE_* variables of the shell that runs a benchmark must not
// change what it measures. Unless env sets them, DATABASE_URL is dbURL,
// INTAKE_ADDR a loopback port of the system's choosing, INTAKE_EGRESS_ALLOW
// LoopbackAllow, and INTAKE_ENCRYPTION_KEY a fresh key.
func Config(dbURL string, env map[string]string) (config.Config, error) {
	vars := map[string]string{"DATABASE_URL": dbURL, "INTAKE_ADDR": "127.0.0.1:0", "INTAKE_EGRESS_ALLOW": LoopbackAllow}
	maps.Copy(vars, env)
	if vars["INTAKE_ENCRYPTION_KEY"] == "" {
		key, err := NewEncryptionKey()
		if err != nil {
			return config.Config{}, err
		}
		vars["INTAKE_ENCRYPTION_KEY"] = key
	}
	return config.FromEnv(func(k string) string { return vars[k] })
}
