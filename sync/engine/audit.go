package engine

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/auditevent"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/service"
)

// The engine's part of the audit trail (internal/service/audit.go): the
// syncs webhooks start, and pruning by age.
//
// testSync is recorded with its mutation, by the GraphQL layer. Scheduled
// syncs are not recorded: they are the consequence of a configuration whose
// every change is (configureTrigger, by whom, which fields), each one is a
// sync_runs row of kind SCHEDULED anyway, and a trigger syncing every
// minute would add 1,440 events a day that drown the changes the trail is
// read for.

// Pruning works in batches of pruneBatch deletions, at most prunePerPass
// per pass; a longer backlog (a retention just shortened) is worked off
// by the following passes.
const (
	pruneBatch   = 1000
	prunePerPass = 100 * pruneBatch
)

// auditWebhookSync records that a verified webhook started a sync of a
// trigger. A failed write is logged: the sync runs either way.
func (e *Engine) auditWebhookSync(ctx context.Context, run *ent.SyncRun, in *ent.Integration) {
	rec := service.AuditRecord{
		OrgID: run.OrganizationID, Actor: auditevent.ActorKindWEBHOOK, ActorName: string(in.Provider),
		Operation: "webhookSync", TargetID: run.TriggerID, Related: []pulid.ID{in.ID, run.ID},
		Outcome: service.AuditOK,
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := service.WriteAudit(ctx, e.ent, rec); err != nil {
		e.log.ErrorContext(ctx, "recording a webhook sync in the audit trail", slog.String("run", string(run.ID)), slog.Any("err", err))
	}
}

// PruneAudit deletes the audit events created before cutoff (one pass:
// at most prunePerPass of them) and returns how many it deleted.
func (e *Engine) PruneAudit(ctx context.Context, cutoff time.Time) (int, error) {
	n, err := service.PruneAudit(ctx, e.ent, cutoff, pruneBatch, prunePerPass)
	if n > 0 {
		e.log.InfoContext(ctx, "pruned the audit trail", slog.Int("deleted", n), slog.Time("before", cutoff))
	}
	return n, err
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
