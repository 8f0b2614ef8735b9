package engine

import (
	"context"
	"errors"
	"fmt"
)

// Ready reports whether the engine can work jobs: its River client has
// started and not stopped, and River's database connection answers.
func (e *Engine) Ready(ctx context.Context) error {
	stopped := e.river.Stopped() // nil until the client starts
	if stopped == nil {
		return errors.New("sync engine not started")
	}
	select {
	case <-stopped:
		return errors.New("sync engine stopped")
	default:
	}
	if err := e.river.Driver().GetExecutor().Exec(ctx, "SELECT 1"); err != nil {
		return fmt.Errorf("sync engine database: %w", err)
	}
	return nil
}

// QueueDepth counts the jobs not yet finished (available, pending,
// retryable, running, scheduled) by queue and state. Finished jobs
// (completed, cancelled, discarded) stay in river_job until River cleans
// them up and are not counted. On PostgreSQL the state filter and grouping
// use River's river_job_prioritized_fetching_index (state, queue, ...).
func (e *Engine) QueueDepth(ctx context.Context) (map[string]map[string]int, error) {
	rows, err := e.db.QueryContext(ctx, `SELECT queue, state, count(*) FROM river_job
		WHERE state IN ('available', 'pending', 'retryable', 'running', 'scheduled')
		GROUP BY queue, state`)
	if err != nil {
		return nil, fmt.Errorf("counting jobs: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]int{}
	for rows.Next() {
		var queue, state string
		var n int
		if err := rows.Scan(&queue, &state, &n); err != nil {
			return nil, fmt.Errorf("counting jobs: %w", err)
		}
		if out[queue] == nil {
			out[queue] = map[string]int{}
		}
		out[queue][state] = n
	}
	return out, rows.Err()
}
