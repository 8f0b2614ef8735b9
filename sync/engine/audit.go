package engine

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/auditevent"
	"github.com/intake/intake/internal/viewer"
)

// The engine's part of the audit trail (internal/service/audit.go writes
// it): pruning by age.

// Pruning works in batches of pruneBatch deletions, at most prunePerPass
// per pass; a longer backlog (a retention just shortened) is worked off
// by the following passes.
const (
	pruneBatch   = 1000
	prunePerPass = 100 * pruneBatch
)

// PruneAudit deletes the audit events created before cutoff (one pass:
// at most prunePerPass of them) and returns how many it deleted.
func (e *Engine) PruneAudit(ctx context.Context, cutoff time.Time) (int, error) {
	n, err := pruneAudit(ctx, e.ent, cutoff, pruneBatch, prunePerPass)
	if n > 0 {
		e.log.InfoContext(ctx, "pruned the audit trail", slog.Int("deleted", n), slog.Time("before", cutoff))
	}
	return n, err
}

// pruneAudit deletes the audit events created before cutoff, at most batch
// at a time so that no statement holds locks on many rows for long, and
// organization by organization so that each batch is found through the
// (organization_id, created_at) index. It stops after limit deletions
// (a later pass continues) and returns how many it deleted.
func pruneAudit(ctx context.Context, db *ent.Client, cutoff time.Time, batch, limit int) (int, error) {
	ctx = viewer.SystemContext(ctx)
	orgs, err := db.Organization.Query().IDs(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing organizations: %w", err)
	}
	deleted := 0
	for _, org := range orgs {
		if deleted >= limit {
			break
		}
		for deleted < limit {
			ids, err := db.AuditEvent.Query().
				Where(auditevent.OrganizationID(org), auditevent.CreatedAtLT(cutoff)).
				Order(ent.Asc(auditevent.FieldCreatedAt)).
				Limit(min(batch, limit-deleted)).
				IDs(ctx)
			if err != nil {
				return deleted, fmt.Errorf("finding old audit events: %w", err)
			}
			if len(ids) == 0 {
				break
			}
			n, err := db.AuditEvent.Delete().Where(auditevent.IDIn(ids...)).Exec(ctx)
			deleted += n
			if err != nil {
				return deleted, fmt.Errorf("deleting old audit events: %w", err)
			}
			if len(ids) < batch {
				break
			}
		}
	}
	return deleted, nil
}

// auditPruneArgs is the periodic job that deletes audit events older than
// Config.AuditRetention.
type auditPruneArgs struct{}

func (auditPruneArgs) Kind() string { return "intake_prune_audit_events" }

func (auditPruneArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, UniqueOpts: uniqueWhileActive}
}

type auditPruneWorker struct {
	river.WorkerDefaults[auditPruneArgs]
	e *Engine
}

// Timeout lets River rescue a pass whose process died, as for the
// scheduler's pass: unique while running, it would keep every later one out.
func (w *auditPruneWorker) Timeout(*river.Job[auditPruneArgs]) time.Duration { return 10 * time.Minute }

func (w *auditPruneWorker) Work(ctx context.Context, _ *river.Job[auditPruneArgs]) error {
	_, err := w.e.PruneAudit(ctx, time.Now().UTC().Add(-w.e.cfg.AuditRetention))
	return err
}
