package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/lib/pq"
)

// Two transactions that each wait for a lock the other holds cannot both
// go on: PostgreSQL aborts one of them with deadlock_detected (40P01).
// Under REPEATABLE READ or SERIALIZABLE it aborts one whose reads another
// transaction's write has made stale with serialization_failure (40001).
// Either way nothing of the aborted work remains, and running it again
// is the documented remedy. The other transaction usually finishes within
// milliseconds: deleting a campaign locks its triggers, then their runs,
// while a sync worker ending a run locks the run, then its trigger; the
// delete that loses fails once and succeeds on the second try.
//
// Retried in one place each: an autocommit statement by the connection
// (stmtConn), a transaction by InTx and Retry. A statement inside a
// transaction is never run again on its own: the transaction it belonged
// to is gone.

// MaxAttempts is how many times a statement or transaction runs before a
// transient conflict is returned to its caller.
const MaxAttempts = 5

var retried atomic.Int64

// Retried counts the statements and transactions this process has run
// again after a transient conflict (intake_db_retries_total).
func Retried() int64 { return retried.Load() }

// Transient reports whether err is a conflict PostgreSQL resolved by
// aborting this side's work: a deadlock or a serialization failure.
func Transient(err error) bool {
	var pe *pq.Error
	if !errors.As(err, &pe) {
		return false
	}
	return pe.Code == "40P01" || pe.Code == "40001"
}

// Retry runs fn until it returns nil or an error that is not Transient,
// has run MaxAttempts times, or ctx ends; between attempts it waits a
// short random while that doubles each time (5-15 ms, then 10-30 ms, up
// to 40-120 ms), so that two victims of one conflict do not meet again.
// It returns fn's last error. fn may run more than once: whatever it
// hands out of the closure it must set, not accumulate.
func Retry(ctx context.Context, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt == MaxAttempts || !Transient(err) {
			return err
		}
		retried.Add(1)
		t := time.NewTimer(backoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// backoff is the wait after the attempt-th attempt: uniform in [d/2, 3d/2)
// with d = 10 ms · 2^(attempt-1).
func backoff(attempt int) time.Duration {
	d := 10 * time.Millisecond << (attempt - 1)
	return d/2 + rand.N(d)
}
