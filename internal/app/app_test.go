package app_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/intake/intake/internal/app"
	"github.com/intake/intake/internal/config"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/secrets"
)

func testConfig(t *testing.T, db *dbtest.DB) config.Config {
	t.Helper()
	cfg, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.DatabaseURL, cfg.Addr, cfg.DataDir = db.URL, "127.0.0.1:0", t.TempDir()
	cfg.EncryptionKey = base64.StdEncoding.EncodeToString(make([]byte, secrets.KeySize))
	return cfg
}

// listeners counts the progress broker's LISTEN connections to the
// database (PostgreSQL only).
func listeners(t *testing.T, db *dbtest.DB) int {
	t.Helper()
	conn, err := sql.Open("postgres", db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var n int
	if err := conn.QueryRow(`SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND query ILIKE 'LISTEN%'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// An app serves after Start, stops within its bounds, and a second Stop
// is harmless; stopping closes what New opened.
func TestStartStop(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			db := dbtest.Empty(t, d) // New opens and migrates it
			cfg := testConfig(t, db)
			cfg.DBMaxConns = 5
			a, err := app.New(context.Background(), cfg, app.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if n := a.Store.DB.Stats().MaxOpenConnections; d == dialect.Postgres && n != 5 {
				t.Fatalf("the PostgreSQL pool opens up to %d connections, want INTAKE_DB_MAX_CONNS's 5", n)
			}
			if err := a.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			resp, err := http.Get("http://" + a.Addr().String() + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("/readyz answered %d", resp.StatusCode)
			}
			if d == dialect.Postgres && listeners(t, db) != 1 {
				t.Fatalf("%d LISTEN connections while running, want the broker's one", listeners(t, db))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := a.Stop(ctx); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if err := a.Stop(ctx); err != nil {
				t.Fatalf("a second Stop: %v", err)
			}
			if _, err := net.DialTimeout("tcp", a.Addr().String(), time.Second); err == nil {
				t.Fatal("the server still accepts connections after Stop")
			}
			if err := a.Store.DB.Ping(); err == nil {
				t.Fatal("the database New opened is still open after Stop")
			}
			if d == dialect.Postgres {
				waitListeners(t, db, 0)
			}
		})
	}
}

// A port that is taken fails Start before anything runs; what Start did is
// undone, and the app's database can serve another app at once.
func TestFailedStartStopsWhatItStarted(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			db := dbtest.Open(t, d)
			taken, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer taken.Close()

			for _, which := range []string{"INTAKE_ADDR", "INTAKE_METRICS_ADDR"} {
				cfg := testConfig(t, db)
				if which == "INTAKE_ADDR" {
					cfg.Addr = taken.Addr().String()
				} else {
					cfg.MetricsAddr = taken.Addr().String()
				}
				a, err := app.New(context.Background(), cfg, app.Options{Store: db.Store})
				if err != nil {
					t.Fatal(err)
				}
				err = a.Start(context.Background())
				if err == nil || !strings.Contains(err.Error(), "address already in use") {
					t.Fatalf("%s taken: Start = %v, want address already in use", which, err)
				}
				if err := a.Engine.Ready(context.Background()); err == nil {
					t.Fatalf("%s taken: the sync engine runs after a failed start", which)
				}
				if err := a.Stop(context.Background()); err != nil {
					t.Fatalf("Stop after a failed start: %v", err)
				}
				if d == dialect.Postgres && listeners(t, db) != 0 {
					t.Fatalf("%s taken: %d LISTEN connections left", which, listeners(t, db))
				}
			}
			if err := db.Store.DB.Ping(); err != nil {
				t.Fatalf("a store the caller gave was closed: %v", err)
			}

			a, err := app.New(context.Background(), testConfig(t, db), app.Options{Store: db.Store})
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Start(context.Background()); err != nil {
				t.Fatalf("starting on the same database after failed starts: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := a.Stop(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// waitListeners waits until the database shows n LISTEN connections: a
// closed connection leaves pg_stat_activity a moment after the client
// closed it.
func waitListeners(t *testing.T, db *dbtest.DB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for listeners(t, db) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d LISTEN connections, want %d", listeners(t, db), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// New sets the garbage collector's target the configuration asks for,
// and leaves the runtime's own (GOGC) when it asks for none. Not
// parallel: the target is the process's.
func TestGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tc := range []struct{ cfg, before, want int }{
		{config.DefaultGCPercent, 100, config.DefaultGCPercent},
		{250, 100, 250},
		{0, 123, 123},
	} {
		cfg := testConfig(t, dbtest.Empty(t, dialect.SQLite))
		cfg.GCPercent = tc.cfg
		debug.SetGCPercent(tc.before)
		a, err := app.New(context.Background(), cfg, app.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := debug.SetGCPercent(tc.before); got != tc.want {
			t.Errorf("GCPercent %d with the runtime at %d: %d, want %d", tc.cfg, tc.before, got, tc.want)
		}
		if err := a.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}
