package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"entgo.io/ent/dialect"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed migrations
var migrationFiles embed.FS

// migrationLock is the PostgreSQL advisory lock key held while migrating,
// so replicas starting together apply each migration once.
const migrationLock = 0x1A7A_6E00

// Migration is one versioned migration file.
type Migration struct {
	Version string // the file name without ".sql"
	SQL     string
}

// Migrations returns the migrations of a dialect in order.
func Migrations(dia string) ([]Migration, error) {
	dir := "migrations/" + dirOf(dia)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		b, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: strings.TrimSuffix(e.Name(), ".sql"), SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

func dirOf(dia string) string {
	if dia == dialect.Postgres {
		return "postgres"
	}
	return "sqlite"
}

// Migrate applies the migrations not yet applied, each in its own
// transaction, and returns the versions it applied. Applied migrations are
// never changed or re-run, so a second start changes nothing.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	return Migrate(ctx, s.DB, s.Dialect)
}

// Migrate is Store.Migrate on a bare connection pool.
func Migrate(ctx context.Context, db *sql.DB, dia string) ([]string, error) {
	migs, err := Migrations(dia)
	if err != nil {
		return nil, fmt.Errorf("reading migrations: %w", err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dia == dialect.Postgres {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
			return nil, fmt.Errorf("taking the migration lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock) //nolint:errcheck // released with the session anyway
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS intake_schema_migrations (
		version text PRIMARY KEY,
		applied_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP)`); err != nil {
		return nil, fmt.Errorf("creating the migrations table: %w", err)
	}
	var applied []string
	for _, m := range migs {
		done, err := applyOne(ctx, conn, dia, m)
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", m.Version, err)
		}
		if done {
			applied = append(applied, m.Version)
		}
	}
	// River's job tables migrate with Intake's, still under the lock.
	versions, err := migrateRiver(ctx, db, dia)
	if err != nil {
		return applied, fmt.Errorf("migrating the job queue: %w", err)
	}
	return append(applied, versions...), nil
}

// migrateRiver applies River's own migrations for the dialect.
func migrateRiver(ctx context.Context, db *sql.DB, dia string) ([]string, error) {
	var res *rivermigrate.MigrateResult
	var err error
	if dia == dialect.Postgres {
		var m *rivermigrate.Migrator[*sql.Tx]
		if m, err = rivermigrate.New(riverdatabasesql.New(db), nil); err == nil {
			res, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		}
	} else {
		// SQLite has no advisory lock: run River's migrations in one
		// IMMEDIATE transaction (the DSN's _txlock), so a concurrent
		// migrator waits for it and then finds them applied.
		var m *rivermigrate.Migrator[*sql.Tx]
		if m, err = rivermigrate.New(riversqlite.New(db), nil); err == nil {
			var tx *sql.Tx
			if tx, err = db.BeginTx(ctx, nil); err == nil {
				if res, err = m.MigrateTx(ctx, tx, rivermigrate.DirectionUp, nil); err == nil {
					err = tx.Commit()
				} else {
					_ = tx.Rollback()
				}
			}
		}
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range res.Versions {
		out = append(out, fmt.Sprintf("river_%03d", v.Version))
	}
	return out, nil
}

func applyOne(ctx context.Context, conn *sql.Conn, dia string, m Migration) (bool, error) {
	if dia == dialect.SQLite {
		// SQLite alters tables by rebuilding them. Dropping the old table
		// with foreign keys enforced would cascade into every child table,
		// and the PRAGMA is ignored inside a transaction: switch it off on
		// the connection around the transaction, and check the keys before
		// committing instead.
		if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
			return false, err
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys = ON") //nolint:errcheck // the connection is discarded after migrating
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	ph := "?"
	if dia == dialect.Postgres {
		ph = "$1"
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM intake_schema_migrations WHERE version = `+ph, m.Version).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return false, err
	}
	if dia == dialect.SQLite {
		if err := foreignKeyCheck(ctx, tx); err != nil {
			return false, err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO intake_schema_migrations (version) VALUES (`+ph+`)`, m.Version); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// Pending returns the versions not yet applied.
func (s *Store) Pending(ctx context.Context) ([]string, error) {
	migs, err := Migrations(s.Dialect)
	if err != nil {
		return nil, err
	}
	applied := map[string]bool{}
	rows, err := s.DB.QueryContext(ctx, `SELECT version FROM intake_schema_migrations`)
	if err == nil {
		defer rows.Close()
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				return nil, err
			}
			applied[v] = true
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	var out []string
	for _, m := range migs {
		if !applied[m.Version] {
			out = append(out, m.Version)
		}
	}
	return out, nil
}

// foreignKeyCheck fails when a migration left a dangling foreign key.
func foreignKeyCheck(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return err
	}
	defer rows.Close()
	if rows.Next() {
		var table string
		var rowid sql.NullInt64
		var parent string
		var fkid int
		if err := rows.Scan(&table, &rowid, &parent, &fkid); err != nil {
			return err
		}
		return fmt.Errorf("foreign key violation after migrating: table %s row %d references %s", table, rowid.Int64, parent)
	}
	return rows.Err()
}
