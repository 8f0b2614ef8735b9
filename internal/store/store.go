// Package store opens Intake's database: PostgreSQL through lib/pq when
// DATABASE_URL is a postgres URL, else an embedded SQLite file (pure Go, no
// cgo). It applies the versioned migrations in migrations/ and returns the
// ent client the whole process shares.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/lib/pq"  // PostgreSQL driver
	_ "modernc.org/sqlite" // SQLite driver (pure Go)

	"github.com/intake/intake/ent"
	_ "github.com/intake/intake/ent/runtime" // schema hooks and interceptors
)

// Store is an open database.
type Store struct {
	Client  *ent.Client
	DB      *sql.DB
	Dialect string // dialect.Postgres or dialect.SQLite
	path    string // the SQLite file
	queue   *sql.DB
}

// Options tune how a database is opened.
type Options struct {
	// StatementCache is how many prepared statements each PostgreSQL
	// connection keeps (OpenPostgres); 0 keeps none.
	StatementCache int
}

// Open connects to databaseURL, or to the SQLite file intake.db in dataDir
// when databaseURL is empty, with the default options. It does not
// migrate; call Migrate.
func Open(ctx context.Context, databaseURL, dataDir string) (*Store, error) {
	return OpenWith(ctx, databaseURL, dataDir, Options{StatementCache: DefaultStatementCache})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, databaseURL, dataDir string, o Options) (*Store, error) {
	var (
		db   *sql.DB
		dia  string
		path string
		err  error
	)
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		dia = dialect.Postgres
		if db, err = OpenPostgres(databaseURL, o.StatementCache); err != nil {
			return nil, fmt.Errorf("opening postgres: %w", err)
		}
		// Every open connection may stay idle: a pool that keeps fewer
		// closes one each time load falls below its size and opens it
		// again a moment later (a new PostgreSQL backend, several
		// milliseconds), which is the tail of every busy second. Idle
		// ones close after five minutes unused.
		db.SetMaxOpenConns(20)
		db.SetMaxIdleConns(20)
		db.SetConnMaxIdleTime(5 * time.Minute)
	case databaseURL == "" || strings.HasPrefix(databaseURL, "sqlite:") || strings.HasPrefix(databaseURL, "file:"):
		dia = dialect.SQLite
		path = filepath.Join(dataDir, "intake.db")
		if databaseURL != "" {
			path = strings.TrimPrefix(strings.TrimPrefix(databaseURL, "sqlite:"), "file:")
		}
		if db, err = OpenSQLite(path); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("DATABASE_URL: unsupported scheme (want postgres:// or sqlite:)")
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to the database: %w", err)
	}
	drv := entsql.OpenDB(dia, db)
	return &Store{Client: ent.NewClient(ent.Driver(drv)), DB: db, Dialect: dia, path: path}, nil
}

// OpenSQLite opens (creating if needed) a SQLite database file in WAL mode
// with foreign keys, a busy timeout and IMMEDIATE transactions, so the CLI
// can write while a server runs on the same file.
func OpenSQLite(path string) (*sql.DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("creating data directory: %w", err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("opening sqlite %s: %w", path, err)
	}
	return db, nil
}

// QueueDB is the pool the job queue uses: on PostgreSQL the same pool; on
// SQLite a second pool of one connection on the same file, as River's
// SQLite driver requires.
func (s *Store) QueueDB() (*sql.DB, error) {
	if s.Dialect == dialect.Postgres {
		return s.DB, nil
	}
	if s.queue == nil {
		db, err := OpenSQLite(s.path)
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1)
		s.queue = db
	}
	return s.queue, nil
}

// Close closes the database.
func (s *Store) Close() error {
	if s.queue != nil {
		s.queue.Close()
	}
	return s.Client.Close()
}
