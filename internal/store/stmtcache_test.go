package store_test

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/store"
)

// openCached opens a pool of one connection with a statement cache of
// size on a fresh PostgreSQL database: every call reuses the connection,
// and database/sql resets it in between.
func openCached(t *testing.T, size int) (*sql.DB, string) {
	t.Helper()
	db := dbtest.Empty(t, dialect.Postgres)
	pool, err := store.OpenPostgres(db.URL, size)
	if err != nil {
		t.Fatal(err)
	}
	pool.SetMaxOpenConns(1)
	t.Cleanup(func() { pool.Close() })
	return pool, db.URL
}

// preparedStatements lists the statements the pool's one connection
// holds prepared, as PostgreSQL sees them.
func preparedStatements(t *testing.T, pool *sql.DB) []string {
	t.Helper()
	rows, err := pool.Query(`SELECT statement FROM pg_prepared_statements ORDER BY statement`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func wantPrepared(t *testing.T, pool *sql.DB, want ...string) {
	t.Helper()
	got := preparedStatements(t, pool)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("prepared statements %q, want %q", got, want)
	}
}

func TestStatementCache(t *testing.T) {
	ctx := context.Background()

	t.Run("a statement with parameters is prepared once and kept", func(t *testing.T) {
		pool, _ := openCached(t, 2)
		const q = `SELECT $1::int + 1`
		for i := range 3 {
			var n int
			if err := pool.QueryRowContext(ctx, q, i).Scan(&n); err != nil || n != i+1 {
				t.Fatalf("%s with %d: %d, %v", q, i, n, err)
			}
		}
		wantPrepared(t, pool, q)
		// Without parameters: the simple protocol, nothing prepared.
		if _, err := pool.ExecContext(ctx, `CREATE TABLE t (id int PRIMARY KEY, name text)`); err != nil {
			t.Fatal(err)
		}
		const ins = `INSERT INTO t (id, name) VALUES ($1, $2)`
		for i := range 3 {
			if _, err := pool.ExecContext(ctx, ins, i, "n"); err != nil {
				t.Fatal(err)
			}
		}
		wantPrepared(t, pool, q, ins)
	})

	t.Run("the least recently used statement makes room", func(t *testing.T) {
		pool, _ := openCached(t, 2)
		qs := []string{`SELECT $1::int`, `SELECT $1::int * 2`, `SELECT $1::int * 3`}
		for _, q := range qs {
			var n int
			if err := pool.QueryRowContext(ctx, q, 1).Scan(&n); err != nil {
				t.Fatal(err)
			}
		}
		wantPrepared(t, pool, qs[1], qs[2])
		// Using the older one makes the newest the least recent.
		var n int
		if err := pool.QueryRowContext(ctx, qs[1], 1).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if err := pool.QueryRowContext(ctx, qs[0], 1).Scan(&n); err != nil {
			t.Fatal(err)
		}
		wantPrepared(t, pool, qs[0], qs[1])
	})

	t.Run("a failed statement in a transaction is closed after it", func(t *testing.T) {
		pool, _ := openCached(t, 4)
		const q = `SELECT 10 / $1::int`
		var n int
		if err := pool.QueryRowContext(ctx, q, 2).Scan(&n); err != nil || n != 5 {
			t.Fatalf("%d, %v", n, err)
		}
		tx, err := pool.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.QueryRowContext(ctx, q, 0).Scan(&n); err == nil || !strings.Contains(err.Error(), "division by zero") {
			t.Fatalf("dividing by zero: %v", err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		wantPrepared(t, pool)
		if err := pool.QueryRowContext(ctx, q, 5).Scan(&n); err != nil || n != 2 {
			t.Fatalf("%d, %v", n, err)
		}
		wantPrepared(t, pool, q)
	})

	t.Run("a statement a schema change outdated is prepared again", func(t *testing.T) {
		pool, url := openCached(t, 4)
		if _, err := pool.ExecContext(ctx, `CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)`); err != nil {
			t.Fatal(err)
		}
		const q = `SELECT * FROM t WHERE id = $1`
		columns := func() []string {
			t.Helper()
			rows, err := pool.QueryContext(ctx, q, 1)
			if err != nil {
				t.Fatalf("%s after the schema changed: %v", q, err)
			}
			defer rows.Close()
			cols, err := rows.Columns()
			if err != nil {
				t.Fatal(err)
			}
			return cols
		}
		if got := columns(); !slices.Equal(got, []string{"id"}) {
			t.Fatalf("columns %q", got)
		}
		// Another process migrates: PostgreSQL refuses the kept plan
		// ("cached plan must not change result type").
		other, err := sql.Open("postgres", url)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		if _, err := other.ExecContext(ctx, `ALTER TABLE t ADD COLUMN name text`); err != nil {
			t.Fatal(err)
		}
		if got := columns(); !slices.Equal(got, []string{"id", "name"}) {
			t.Fatalf("columns after the migration %q", got)
		}
	})

	t.Run("a statement the session dropped is prepared again", func(t *testing.T) {
		pool, _ := openCached(t, 4)
		const q = `SELECT $1::int + 2`
		var n int
		if err := pool.QueryRowContext(ctx, q, 1).Scan(&n); err != nil || n != 3 {
			t.Fatalf("%d, %v", n, err)
		}
		// Without parameters: run as it is, on the pool's one connection.
		if _, err := pool.ExecContext(ctx, `DEALLOCATE ALL`); err != nil {
			t.Fatal(err)
		}
		wantPrepared(t, pool)
		if err := pool.QueryRowContext(ctx, q, 2).Scan(&n); err != nil || n != 4 {
			t.Fatalf("after DEALLOCATE ALL: %d, %v", n, err)
		}
		wantPrepared(t, pool, q)
	})

	t.Run("many parameters and a cache of 0 prepare nothing", func(t *testing.T) {
		pool, _ := openCached(t, 4)
		args := make([]any, 101)
		ph := make([]string, len(args))
		for i := range args {
			args[i] = i
			ph[i] = "$" + strconv.Itoa(i+1) + "::int"
		}
		var n int
		if err := pool.QueryRowContext(ctx, `SELECT array_length(ARRAY[`+strings.Join(ph, ",")+`], 1)`, args...).Scan(&n); err != nil || n != 101 {
			t.Fatalf("%d, %v", n, err)
		}
		wantPrepared(t, pool)

		off, _ := openCached(t, 0)
		if err := off.QueryRowContext(ctx, `SELECT $1::int`, 1).Scan(&n); err != nil {
			t.Fatal(err)
		}
		wantPrepared(t, off)
	})

	t.Run("store.Open keeps statements by default", func(t *testing.T) {
		db := dbtest.Empty(t, dialect.Postgres)
		st, err := store.Open(ctx, db.URL, "")
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		st.DB.SetMaxOpenConns(1)
		const q = `SELECT $1::text`
		var s string
		if err := st.DB.QueryRowContext(ctx, q, "x").Scan(&s); err != nil {
			t.Fatal(err)
		}
		wantPrepared(t, st.DB, q)
	})
}
