// Package dbtest gives tests a fresh, migrated database on every dialect
// Intake supports: an embedded SQLite file, and a new database on the
// PostgreSQL server at TEST_DATABASE_URL. With CI set, an unreachable
// PostgreSQL fails the test; elsewhere it is skipped with a note.
//
// Migrating takes far longer than copying a migrated database, so each test
// process migrates once per dialect, into a template, and every test gets a
// copy of it: a copy of the SQLite file, a PostgreSQL database created from
// the template database. A package whose TestMain ends with Run drops its
// templates when its tests end; templates and test databases of a process
// that died are dropped by the next test process that uses the server.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/lib/pq"

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

// Run runs m's tests and then drops the template databases this process
// made; a package's TestMain calls it as os.Exit(dbtest.Run(m)).
//
// Unless -test.parallel is given, Run lets 2 parallel tests per CPU run at
// once instead of 1: tests on databases spend much of their time waiting
// (on the database, on an app's job queue, on their own polling), so as
// many tests as CPUs leave the CPUs idle. Not more: each PostgreSQL test
// holds connections of a server whose max_connections every test process
// shares, and tests that measure time (rate limits, timeouts) need some CPU
// left.
func Run(m *testing.M) int {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", strconv.Itoa(2*runtime.GOMAXPROCS(0))) //nolint:errcheck // a valid number for a flag testing defines
	}
	code := m.Run()
	closeServers()
	if sqliteTpl.dir != "" {
		os.RemoveAll(sqliteTpl.dir)
	}
	return code
}

// Open returns a fresh migrated database of the dialect, closed and dropped
// when the test ends.
func Open(t testing.TB, d string) *DB {
	t.Helper()
	var db *DB
	if d == dialect.SQLite {
		db = sqliteCopy(t)
	} else {
		db = postgresCopy(t)
	}
	st, err := store.Open(context.Background(), db.URL, "")
	if err != nil {
		t.Fatalf("opening %s: %v", d, err)
	}
	t.Cleanup(func() { st.Close() })
	if d == dialect.Postgres {
		LimitPool(st.DB)
	}
	db.Store = st
	return db
}

// LimitPool sizes a test's PostgreSQL pool for a server that every test
// process shares, with its default of 100 connections: each test's app
// may open up to 6 at once and keeps them for a second once idle, so that
// parallel tests and test processes do not run the server out of
// connections between their bursts. Within a burst the pool keeps what it
// opened: a connection closed as soon as it is returned costs a new server
// process for the next query, and bursts of concurrent requests then spent
// most of their time connecting.
func LimitPool(db *sql.DB) {
	db.SetMaxOpenConns(6)
	db.SetMaxIdleConns(6)
	db.SetConnMaxIdleTime(time.Second)
}

var seq atomic.Int64

// Empty returns a fresh, unmigrated database of the dialect (Store is nil).
func Empty(t testing.TB, d string) *DB {
	t.Helper()
	if d == dialect.SQLite {
		path := sqlitePath(t)
		return &DB{Dialect: d, URL: "sqlite:" + path, Path: path}
	}
	return createDatabase(t, "")
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

// sqlitePath returns where a test's SQLite database goes, in a directory
// removed when the test ends. Not in t.TempDir: its name comes from the
// test's, and a "#" or "%" there (t.Run gives a repeated name a "#01") would
// cut or change the path in the file: URI the store opens.
func sqlitePath(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "intake-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "intake.db")
}

// sqliteTpl is this process's migrated SQLite database.
var sqliteTpl struct {
	once  sync.Once
	dir   string
	image []byte // the file, with no WAL pending
	err   error
}

// sqliteCopy returns a copy of the migrated SQLite database in the test's
// temporary directory.
func sqliteCopy(t testing.TB) *DB {
	t.Helper()
	sqliteTpl.once.Do(func() { sqliteTpl.image, sqliteTpl.err = sqliteTemplate() })
	if sqliteTpl.err != nil {
		t.Fatalf("migrating the SQLite template: %v", sqliteTpl.err)
	}
	path := sqlitePath(t)
	if err := os.WriteFile(path, sqliteTpl.image, 0o600); err != nil {
		t.Fatal(err)
	}
	return &DB{Dialect: dialect.SQLite, URL: "sqlite:" + path, Path: path}
}

// sqliteTemplate migrates a new SQLite file and returns its content.
func sqliteTemplate() ([]byte, error) {
	dir, err := os.MkdirTemp("", "intake-dbtest-")
	if err != nil {
		return nil, err
	}
	sqliteTpl.dir = dir
	path := filepath.Join(dir, "template.db")
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+path, "")
	if err != nil {
		return nil, err
	}
	_, err = st.Migrate(ctx)
	if err == nil {
		// Move every page from the WAL into the file, so that the file
		// alone is the whole database.
		_, err = st.DB.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	}
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	for _, side := range []string{"-wal", "-journal"} {
		if fi, err := os.Stat(path + side); err == nil && fi.Size() > 0 {
			return nil, fmt.Errorf("%s still holds %d bytes after closing the template", path+side, fi.Size())
		}
	}
	return os.ReadFile(path)
}

// postgresCopy creates a database from the process's migrated template.
func postgresCopy(t testing.TB) *DB {
	t.Helper()
	s := server(t)
	s.tplOnce.Do(func() { s.tpl, s.tplErr = s.template() })
	if s.tplErr != nil {
		t.Fatalf("migrating the PostgreSQL template: %v", s.tplErr)
	}
	return createDatabase(t, s.tpl)
}

// createDatabase creates a test database, empty or from template, and
// drops it when the test ends.
func createDatabase(t testing.TB, template string) *DB {
	t.Helper()
	s := server(t)
	name := fmt.Sprintf("intake_test_%s_%d", s.token, seq.Add(1))
	if err := s.create(name, template); err != nil {
		t.Fatalf("creating test database: %v", err)
	}
	// Commits need not wait for the WAL to reach the disk: that only
	// guards against a crash of the PostgreSQL server, which no test
	// makes, and on a busy disk it makes every commit wait behind the
	// other tests' writes.
	if _, err := s.admin.Exec("ALTER DATABASE " + name + " SET synchronous_commit = off"); err != nil {
		t.Fatalf("configuring test database: %v", err)
	}
	t.Cleanup(func() {
		// FORCE: a test that failed may leave connections open.
		if _, err := s.admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Logf("dropping %s: %v", name, err)
		}
	})
	u, _ := url.Parse(s.url)
	u.Path = "/" + name
	return &DB{Dialect: dialect.Postgres, URL: u.String()}
}

// pgServer is a PostgreSQL server this process makes test databases on.
//
// The names of the databases carry the process's token, a number it holds
// an advisory lock on for as long as it lives. Another process that can
// take that lock knows the owner is gone and drops what it left behind.
type pgServer struct {
	url   string
	admin *sql.DB
	owner *sql.Conn // holds the token's lock
	token string

	tplOnce sync.Once
	tpl     string
	tplErr  error
}

// lockSpace is the first key of the token locks (pg_advisory_lock(int,
// int)); the second is the token.
const lockSpace = 0x1A7A_7E57

// ownNames matches the databases named after a token: test databases and
// templates.
var ownNames = regexp.MustCompile(`^intake_(?:test|tpl)_([0-9a-f]{8})_[0-9a-f]+$`)

var servers struct {
	mu    sync.Mutex
	byURL map[string]*pgServer
}

// server returns the PostgreSQL server at ServerURL, connecting to it and
// taking a token on first use.
func server(t testing.TB) *pgServer {
	t.Helper()
	u := ServerURL(t)
	servers.mu.Lock()
	defer servers.mu.Unlock()
	if s := servers.byURL[u]; s != nil {
		return s
	}
	s, err := connect(u)
	if err != nil {
		t.Fatalf("PostgreSQL at %s: %v", u, err)
	}
	if servers.byURL == nil {
		servers.byURL = map[string]*pgServer{}
	}
	servers.byURL[u] = s
	return s
}

func connect(u string) (*pgServer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := sql.Open("postgres", u)
	if err != nil {
		return nil, err
	}
	// A few connections for creating and dropping databases, one of them
	// the owner's: the server's max_connections is shared with the tests.
	admin.SetMaxOpenConns(4)
	admin.SetMaxIdleConns(2)
	s := &pgServer{url: u, admin: admin}
	if s.owner, err = admin.Conn(ctx); err != nil {
		admin.Close()
		return nil, err
	}
	for s.token == "" {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			s.close()
			return nil, err
		}
		var ok bool
		if err := s.owner.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1, $2)`, lockSpace, int32(binary.BigEndian.Uint32(b[:]))).Scan(&ok); err != nil {
			s.close()
			return nil, err
		}
		if ok {
			s.token = hex.EncodeToString(b[:])
		}
	}
	s.sweep(ctx)
	return s, nil
}

// sweep drops the databases of processes that are gone. It is best effort:
// what it cannot drop now, a later process will.
func (s *pgServer) sweep(ctx context.Context) {
	rows, err := s.admin.QueryContext(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'intake\_t%'`)
	if err != nil {
		return
	}
	var names []string
	for rows.Next() {
		var n string
		if rows.Scan(&n) == nil {
			names = append(names, n)
		}
	}
	rows.Close()
	gone := map[string]bool{}
	for _, n := range names {
		m := ownNames.FindStringSubmatch(n)
		if m == nil || m[1] == s.token {
			continue
		}
		token := m[1]
		dead, seen := gone[token]
		if !seen {
			b, _ := hex.DecodeString(token)
			dead = s.ownerGone(ctx, int32(binary.BigEndian.Uint32(b)))
			gone[token] = dead
		}
		if dead {
			s.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+n+" WITH (FORCE)") //nolint:errcheck // best effort
		}
	}
}

// ownerGone reports whether no session holds the token's lock.
func (s *pgServer) ownerGone(ctx context.Context, token int32) bool {
	c, err := s.admin.Conn(ctx)
	if err != nil {
		return false
	}
	defer c.Close()
	var ok bool
	if c.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1, $2)`, lockSpace, token).Scan(&ok) != nil || !ok {
		return false
	}
	c.ExecContext(ctx, `SELECT pg_advisory_unlock($1, $2)`, lockSpace, token) //nolint:errcheck // released with the session anyway
	return true
}

// template creates and migrates the process's template database. Nobody
// may connect to it afterwards: PostgreSQL refuses to copy a database
// another session is connected to.
func (s *pgServer) template() (string, error) {
	sum, err := migrationsHash()
	if err != nil {
		return "", err
	}
	name := fmt.Sprintf("intake_tpl_%s_%s", s.token, sum)
	if err := s.create(name, ""); err != nil {
		return "", err
	}
	u, _ := url.Parse(s.url)
	u.Path = "/" + name
	ctx := context.Background()
	st, err := store.Open(ctx, u.String(), "")
	if err != nil {
		return "", err
	}
	_, err = st.Migrate(ctx)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	if _, err := s.admin.ExecContext(ctx, "ALTER DATABASE "+name+" WITH ALLOW_CONNECTIONS false"); err != nil {
		return "", err
	}
	return name, nil
}

// migrationsHash identifies the PostgreSQL migrations, for the template's
// name.
func migrationsHash() (string, error) {
	migs, err := store.Migrations(dialect.Postgres)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, m := range migs {
		fmt.Fprintf(h, "%s\x00%s\x00", m.Version, m.SQL)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// create creates database name, from template unless it is empty.
func (s *pgServer) create(name, template string) error {
	stmt := "CREATE DATABASE " + name
	if template != "" {
		stmt += " TEMPLATE " + template
	}
	for attempt := 1; ; attempt++ {
		_, err := s.admin.Exec(stmt)
		// 55006: the template is being accessed by other users, for
		// instance by an autovacuum worker that has not let go of it yet.
		var pqErr *pq.Error
		if err == nil || !errors.As(err, &pqErr) || pqErr.Code != "55006" || attempt == 50 {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *pgServer) close() {
	if s.tpl != "" {
		s.admin.Exec("DROP DATABASE IF EXISTS " + s.tpl + " WITH (FORCE)") //nolint:errcheck // swept by a later process
	}
	if s.owner != nil {
		s.owner.Close()
	}
	s.admin.Close()
}

// closeServers drops the templates and lets go of the servers.
func closeServers() {
	servers.mu.Lock()
	defer servers.mu.Unlock()
	for u, s := range servers.byURL {
		s.close()
		delete(servers.byURL, u)
	}
}
