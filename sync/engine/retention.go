package engine

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
)

// Retention: import issues (they hold raw numbers, and names in messages)
// are deleted, and call results lose their transcripts and answers, once
// older than Config.IssueRetention and Config.TranscriptRetention. The
// leader works through them in batches of pruneBatch rows, at most
// prunePerPass a pass, each batch its own short statement found through an
// index, so no purge holds many locks for long; a backlog is worked off by
// the following passes.

// Purged is what one retention pass removed.
type Purged struct {
	Issues, Transcripts int
}

// PurgeExpired runs one retention pass with the cutoffs now minus the
// retentions (a zero retention purges nothing).
func (e *Engine) PurgeExpired(ctx context.Context, now time.Time) (Purged, error) {
	var p Purged
	var err error
	if r := e.cfg.IssueRetention; r > 0 {
		p.Issues, err = e.purge(ctx, func(from time.Time) (string, []any) {
			// Placeholders in textual order: SQLite binds ? by position.
			return `DELETE FROM import_issues WHERE id IN (SELECT id FROM import_issues WHERE created_at >= ` + e.ph(1) +
				` AND created_at < ` + e.ph(2) + ` ORDER BY created_at LIMIT ` + fmt.Sprint(pruneBatch) + `) RETURNING created_at`, []any{from, now.Add(-r)}
		})
		if err != nil {
			return p, fmt.Errorf("purging import issues: %w", err)
		}
	}
	if r := e.cfg.TranscriptRetention; r > 0 {
		p.Transcripts, err = e.purge(ctx, func(from time.Time) (string, []any) {
			return `UPDATE call_results SET transcript = '', question_results = '[]', transcript_purged_at = ` + e.ph(1) +
				` WHERE id IN (SELECT id FROM call_results WHERE transcript_purged_at IS NULL AND created_at >= ` + e.ph(2) +
				` AND created_at < ` + e.ph(3) + ` ORDER BY created_at LIMIT ` + fmt.Sprint(pruneBatch) + `) RETURNING created_at`, []any{now, from, now.Add(-r)}
		})
		if err != nil {
			return p, fmt.Errorf("purging transcripts: %w", err)
		}
	}
	if p.Issues > 0 || p.Transcripts > 0 {
		e.log.InfoContext(ctx, "purged expired data", slog.Int("import_issues", p.Issues), slog.Int("transcripts", p.Transcripts))
	}
	return p, nil
}

// purge runs batch statements until one affects fewer than pruneBatch rows
// or prunePerPass are done, and returns the rows affected. Each statement
// returns the created_at of its rows, and the next one starts its index
// scan at the newest of them: the entries of the rows just purged stay in
// the index until vacuum removes them, and a scan from the start would
// step over all of them, slower with every batch of a long backlog.
func (e *Engine) purge(ctx context.Context, stmt func(from time.Time) (string, []any)) (int, error) {
	done := 0
	from := time.Unix(0, 0).UTC()
	for done < prunePerPass {
		q, args := stmt(from)
		rows, err := e.db.QueryContext(ctx, q, args...)
		if err != nil {
			return done, err
		}
		n := 0
		for rows.Next() {
			var at time.Time
			if err := rows.Scan(&at); err != nil {
				rows.Close()
				return done, err
			}
			if at.After(from) {
				from = at
			}
			n++
		}
		if err := rows.Close(); err != nil {
			return done, err
		}
		if err := rows.Err(); err != nil {
			return done, err
		}
		done += n
		if n < pruneBatch {
			break
		}
	}
	return done, nil
}

// retentionArgs is the periodic job that purges expired data.
type retentionArgs struct{}

func (retentionArgs) Kind() string { return "intake_retention" }

func (retentionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, UniqueOpts: uniqueWhileActive}
}

type retentionWorker struct {
	river.WorkerDefaults[retentionArgs]
	e *Engine
}

// Timeout lets River rescue a pass whose process died.
func (w *retentionWorker) Timeout(*river.Job[retentionArgs]) time.Duration { return 10 * time.Minute }

func (w *retentionWorker) Work(ctx context.Context, _ *river.Job[retentionArgs]) error {
	_, err := w.e.PurgeExpired(ctx, time.Now().UTC())
	return err
}
