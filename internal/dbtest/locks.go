package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"
)

// WaitForLockWait waits, up to 30 seconds, until a session of db's
// PostgreSQL database whose query is LIKE pattern waits for a lock: a
// test that plays the other side of a lock conflict knows then that its
// opponent holds what it locked first.
func WaitForLockWait(ctx context.Context, db *sql.DB, pattern string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1`, pattern).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("no query like %q waited for a lock within 30s", pattern)
}

// Stmt is a statement and its arguments.
type Stmt struct {
	SQL  string
	Args []any
}

// CrossLocks plays the other side of a deadlock with a statement of the
// test, on a PostgreSQL connection of its own. In a transaction it runs
// first, which locks what the test's statement will wait for; once a
// session whose query is LIKE waiting waits for a lock (the test's
// statement, holding what it locked first), it runs second, which waits
// for that. Each waits for the other. The holder's deadlock_timeout is a
// minute and the test's side keeps the server's default of a second, so
// PostgreSQL finds the deadlock from the test's side and aborts it; the
// holder then gets its lock and commits. The channel reports the holder's
// error, nil once it has committed.
func CrossLocks(t testing.TB, url string, first Stmt, waiting string, second Stmt) <-chan error {
	t.Helper()
	holder, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Close() })
	ctx := context.Background()
	tx, err := holder.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []Stmt{{SQL: `SET LOCAL deadlock_timeout = '60s'`}, first} {
		if _, err := tx.Exec(s.SQL, s.Args...); err != nil {
			tx.Rollback()
			t.Fatalf("%s: %v", s.SQL, err)
		}
	}
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			defer tx.Rollback()
			if err := WaitForLockWait(ctx, holder, waiting); err != nil {
				return err
			}
			if _, err := tx.Exec(second.SQL, second.Args...); err != nil {
				return fmt.Errorf("the holder's %s: %w", second.SQL, err)
			}
			return tx.Commit()
		}()
	}()
	return done
}
