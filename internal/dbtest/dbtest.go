// Package dbtest gives tests a fresh, migrated database on every dialect
// Intake supports: an embedded SQLite file, and a new database on the
// PostgreSQL server at TEST_DATABASE_URL. With CI set, an unreachable
// PostgreSQL fails the test; elsewhere it is skipped with a note.
package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	_ "github.com/lib/pq"

	"github.com/intake/intake/internal/store"
)

// DefaultPostgresURL is used when TEST_DATABASE_URL is unset.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Dialects are the databases every store test runs on.
var Dialects = []string{dialect.SQLite, dialect.Postgres}

// DB is a fresh database for one test.
type DB struct {
	Dialect string
	// URL is what DATABASE_URL would be to reach this database.
	URL string
	// Path is the SQLite file (empty for PostgreSQL).
	Path  string
	Store *store.Store
}

// Each runs fn as a subtest named after each dialect, with a fresh
// migrated database.
func Each(t *testing.T, fn func(t *testing.T, db *DB)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(name(d), func(t *testing.T) {
			t.Parallel()
			fn(t, Open(t, d))
		})
	}
}

func name(d string) string {
	if d == dialect.Postgres {
		return "postgres"
	}
	return "sqlite"
}

// Open returns a fresh migrated database of the dialect, closed and dropped
// when the test ends.
func Open(t testing.TB, d string) *DB {
	t.Helper()
	db := Empty(t, d)
	st, err := store.Open(context.Background(), db.URL, "")
	if err != nil {
		t.Fatalf("opening %s: %v", d, err)
	}
	t.Cleanup(func() { st.Close() })
	if d == dialect.Postgres {
		LimitPool(st.DB)
	}
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatalf("migrating %s: %v", d, err)
	}
	db.Store = st
	return db
}

// LimitPool sizes a test's PostgreSQL pool for a server that every test
// process shares, with its default of 100 connections: each test's app
// may open up to 8 at once and keeps at most 2 idle, for a second, so that
// parallel tests and test processes do not run the server out of
// connections between their bursts.
func LimitPool(db *sql.DB) {
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(2)
	db.SetConnMaxIdleTime(time.Second)
}

var seq atomic.Int64

// Empty returns a fresh, unmigrated database of the dialect (Store is nil).
func Empty(t testing.TB, d string) *DB {
	t.Helper()
	if d == dialect.SQLite {
		path := filepath.Join(t.TempDir(), "intake.db")
		return &DB{Dialect: d, URL: "sqlite:" + path, Path: path}
	}
	server := ServerURL(t)
	admin, err := sql.Open("postgres", server)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("intake_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, seq.Add(1))
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		admin.Close()
		t.Fatalf("creating test database: %v", err)
	}
	t.Cleanup(func() {
		// FORCE: a test that failed may leave connections open.
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Logf("dropping %s: %v", name, err)
		}
		admin.Close()
	})
	u, _ := url.Parse(server)
	u.Path = "/" + name
	return &DB{Dialect: d, URL: u.String()}
}

// ServerURL returns the PostgreSQL server for tests, or skips (fails in CI)
// when it cannot be reached.
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TEST_DATABASE_URL")
	if u == "" {
		u = DefaultPostgresURL
	}
	if !strings.Contains(u, "sslmode=") {
		if strings.Contains(u, "?") {
			u += "&sslmode=disable"
		} else {
			u += "?sslmode=disable"
		}
	}
	if err := reachable(u); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL at TEST_DATABASE_URL is unreachable and CI is set: %v", err)
		}
		t.Skipf("PostgreSQL unreachable (%v); set TEST_DATABASE_URL to run the PostgreSQL tests", err)
	}
	return u
}

func reachable(u string) error {
	db, err := sql.Open("postgres", u)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}
