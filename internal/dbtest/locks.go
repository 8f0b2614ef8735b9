package dbtest

import (
	"context"
	"database/sql"
	"fmt"
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
