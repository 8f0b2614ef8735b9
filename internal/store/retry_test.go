package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"

	"entgo.io/ent/dialect"
	"github.com/lib/pq"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/store"
)

// deadlockDB returns a fresh PostgreSQL database with a parent row and a
// child row that references it ON DELETE CASCADE: deleting the parent
// locks the parent row, then the child's.
func deadlockDB(t *testing.T) string {
	t.Helper()
	db := dbtest.Empty(t, dialect.Postgres)
	plain, err := sql.Open("postgres", db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	for _, q := range []string{
		`CREATE TABLE parent (id int PRIMARY KEY)`,
		`CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent ON DELETE CASCADE, v int NOT NULL DEFAULT 0)`,
		`INSERT INTO parent VALUES (1)`,
		`INSERT INTO child (id, parent_id) VALUES (1, 1)`,
	} {
		if _, err := plain.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return db.URL
}

// crossLocks plays the other side of a deadlock with a statement of the
// test that deletes the parent row (which locks the parent row, then the
// child's): it locks the child row, then asks for the parent row's key
// share, as an insert of another child would.
func crossLocks(t *testing.T, url string) <-chan error {
	t.Helper()
	return dbtest.CrossLocks(t, url, dbtest.Stmt{SQL: `UPDATE child SET v = v + 1 WHERE id = 1`},
		"DELETE FROM parent%", dbtest.Stmt{SQL: `SELECT 1 FROM parent WHERE id = 1 FOR KEY SHARE`})
}

// TestDeadlockVictimRetried: a statement or transaction that PostgreSQL
// aborts to resolve a deadlock runs again and succeeds once the other
// side has committed, with the statement cache on or off. Only
// PostgreSQL: SQLite has one writer at a time and no deadlocks.
func TestDeadlockVictimRetried(t *testing.T) {
	t.Parallel()
	gone := func(t *testing.T, pool *sql.DB) {
		t.Helper()
		var n int
		if err := pool.QueryRow(`SELECT (SELECT count(*) FROM parent) + (SELECT count(*) FROM child)`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d rows left after the delete", n)
		}
	}
	for _, cache := range []int{store.DefaultStatementCache, 0} {
		t.Run(fmt.Sprintf("statement/cache=%d", cache), func(t *testing.T) {
			t.Parallel()
			url := deadlockDB(t)
			pool, err := store.OpenPostgres(url, cache)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			before := store.Retried()
			holder := crossLocks(t, url)
			// Parameters, so that the cached path prepares it.
			res, err := pool.Exec(`DELETE FROM parent WHERE id = $1`, 1)
			if herr := <-holder; herr != nil {
				t.Fatalf("the holder: %v", herr)
			}
			if err != nil {
				t.Fatalf("delete: %v", err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				t.Errorf("delete affected %d rows, want 1", n)
			}
			if store.Retried() == before {
				t.Error("the delete succeeded without a retry: the deadlock did not happen")
			}
			gone(t, pool)
		})
	}
	t.Run("transaction", func(t *testing.T) {
		t.Parallel()
		url := deadlockDB(t)
		pool, err := store.OpenPostgres(url, store.DefaultStatementCache)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		holder := crossLocks(t, url)
		var attempts int
		err = store.InTx(context.Background(), pool, dialect.Postgres, func(tx *sql.Tx, _ *ent.Client) error {
			attempts++
			_, err := tx.Exec(`DELETE FROM parent WHERE id = $1`, 1)
			return err
		})
		if herr := <-holder; herr != nil {
			t.Fatalf("the holder: %v", herr)
		}
		if err != nil {
			t.Fatalf("transaction: %v", err)
		}
		if attempts != 2 {
			t.Errorf("the transaction ran %d times, want 2", attempts)
		}
		gone(t, pool)
	})
}

// TestInTxRunsOnceOnOtherErrors: an error that is not a transient
// conflict ends the transaction at once, on both databases.
func TestInTxRunsOnceOnOtherErrors(t *testing.T) {
	eachEmpty(t, func(t *testing.T, db *dbtest.DB) {
		st := openStore(t, db)
		var attempts int
		err := st.InTx(context.Background(), func(tx *sql.Tx, _ *ent.Client) error {
			attempts++
			_, err := tx.Exec(`SELECT * FROM no_such_table`)
			return err
		})
		if err == nil || store.Transient(err) {
			t.Fatalf("InTx = %v, want the missing table's error", err)
		}
		if attempts != 1 {
			t.Errorf("ran %d times, want 1", attempts)
		}
	})
}

func TestRetry(t *testing.T) {
	deadlock := fmt.Errorf("deleting: %w", &pq.Error{Code: "40P01", Message: "deadlock detected"})
	t.Run("transient", func(t *testing.T) {
		for _, code := range []pq.ErrorCode{"40P01", "40001"} {
			if !store.Transient(&pq.Error{Code: code}) {
				t.Errorf("%s is not transient", code)
			}
		}
		for _, err := range []error{&pq.Error{Code: "23505"}, &pq.Error{Code: "40003"}, errors.New("40P01"), context.Canceled, nil} {
			if store.Transient(err) {
				t.Errorf("%v is transient", err)
			}
		}
		if !store.Transient(deadlock) {
			t.Error("a wrapped deadlock is not transient")
		}
	})
	t.Run("until success", func(t *testing.T) {
		var n int
		err := store.Retry(context.Background(), func() error {
			if n++; n < 3 {
				return deadlock
			}
			return nil
		})
		if err != nil || n != 3 {
			t.Errorf("Retry = %v after %d attempts, want nil after 3", err, n)
		}
	})
	t.Run("at most MaxAttempts", func(t *testing.T) {
		var n int
		err := store.Retry(context.Background(), func() error { n++; return deadlock })
		if !errors.Is(err, deadlock) || n != store.MaxAttempts {
			t.Errorf("Retry = %v after %d attempts, want the deadlock after %d", err, n, store.MaxAttempts)
		}
	})
	t.Run("not after the context ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var n int
		err := store.Retry(ctx, func() error { n++; cancel(); return deadlock })
		if !errors.Is(err, deadlock) || n != 1 {
			t.Errorf("Retry = %v after %d attempts, want the deadlock after 1", err, n)
		}
	})
}
