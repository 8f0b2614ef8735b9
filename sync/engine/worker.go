package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/integration"
	"github.com/intake/intake/ent/syncrun"
	"github.com/intake/intake/ent/trigger"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/progress"
	"github.com/intake/intake/sync/ratebudget"
)

type syncWorker struct {
	river.WorkerDefaults[syncArgs]
	e *Engine
}

// Work works one run. An error makes River retry the job later (the run
// resumes from its checkpoint); when the attempts are spent the run FAILS.
func (w *syncWorker) Work(ctx context.Context, job *river.Job[syncArgs]) error {
	err := w.e.work(ctx, job.Args.RunID)
	var snooze *river.JobSnoozeError
	if err != nil && !errors.As(err, &snooze) && job.Attempt >= job.MaxAttempts {
		w.e.log.ErrorContext(ctx, "sync run gave up", slog.String("run", string(job.Args.RunID)), slog.Any("err", err))
		w.e.abandon(ctx, job.Args.RunID, fmt.Sprintf("gave up after %d attempts: %v", job.Attempt, err))
	}
	return err
}

// Timeout: a run is bounded by its lease, not by a timer.
func (w *syncWorker) Timeout(*river.Job[syncArgs]) time.Duration { return -1 }

func (e *Engine) work(ctx context.Context, runID pulid.ID) error {
	run, err := e.ent.SyncRun.Get(viewer.SystemContext(ctx), runID)
	if ent.IsNotFound(err) {
		return nil // its campaign was deleted
	}
	if err != nil {
		return err
	}
	if RunEnded(run.Status) {
		return nil
	}
	ctx = viewer.ForOrg(ctx, run.OrganizationID)
	if ok, err := e.acquire(ctx, runID); err != nil {
		return err
	} else if !ok {
		if run, err = e.ent.SyncRun.Get(ctx, runID); err != nil || RunEnded(run.Status) {
			return err
		}
		// Another worker holds a live lease: look again when it would expire.
		return river.JobSnooze(e.cfg.Lease)
	}
	if run, err = e.ent.SyncRun.Get(ctx, runID); err != nil {
		return err
	}
	t, err := e.ent.Trigger.Query().Where(trigger.ID(run.TriggerID)).
		WithCampaign().WithIntegration().WithReferences().Only(ctx)
	if err != nil {
		return err
	}
	notice := runNotice(run.ID, t.CampaignID)
	e.publish(ctx, notice)

	if !t.Enabled {
		return e.finish(ctx, run, notice, "", syncrun.StatusFAILED, "the trigger was disabled before the run started")
	}
	if st := t.Edges.Integration.Status; st != integration.StatusCONNECTED {
		return e.finish(ctx, run, notice, "", syncrun.StatusFAILED, fmt.Sprintf("the integration is %s", st))
	}
	conn, err := e.open(t.Edges.Integration)
	if err != nil {
		return e.finish(ctx, run, notice, "", syncrun.StatusFAILED, "opening the integration: "+err.Error())
	}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	class := ratebudget.Background
	if run.Kind == syncrun.KindTEST {
		class = ratebudget.Interactive // someone is waiting for it
	}
	wctx = ratebudget.WithCaller(wctx, class, string(t.ID), func(waiting bool) { e.waitingForBudget(ctx, run.ID, notice, waiting) })
	var lost atomic.Bool
	go e.heartbeat(wctx, runID, func() { lost.Store(true); cancel() })

	im := newImporter(e, run, t)
	req := connector.FetchRequest{
		SearchType: t.SearchType,
		Params:     t.SearchParams,
		References: references(t),
		Cursor:     run.Cursor,
	}
	if run.Since != nil {
		req.Since = *run.Since
	}
	src, stopFetch := im.fetch(wctx, conn, req)
	defer stopFetch()
	pages := inOrder(src)
	if state := e.Screening(t.Description); state != run.Screening {
		// The run records how it was worked, which may differ from how
		// the trigger stood when it was queued.
		if run, err = e.ent.SyncRun.UpdateOneID(run.ID).SetScreening(state).Save(ctx); err != nil {
			return err
		}
	}
	var scr *screener
	if run.Screening == schematype.ScreeningActive {
		scr = e.newScreener(run.OrganizationID, t.CampaignID, t.IntegrationID, t.Description)
		im.tokens = scr.tokens.Load
		pages = scr.pages(wctx, src)
	}
	var fetchErr error
	screenMsg := ""
	for p := range pages {
		if p.err != nil {
			fetchErr = p.err
			break
		}
		if p.internalErr != nil {
			if lost.Load() {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return p.internalErr
		}
		if p.notJudged > 0 {
			screenMsg = screeningFailure(p)
			break
		}
		if err := im.importPage(wctx, p); err != nil {
			if errors.Is(err, errStopped) || lost.Load() {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err() // shutting down: River puts the job back without counting an attempt
			}
			return err
		}
		e.publish(ctx, notice)
	}
	stopFetch()
	if lost.Load() {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err() // shutting down: River retries, the run resumes
	}
	status, msg := ending(fetchErr, im.fetched)
	if screenMsg != "" {
		status, msg = syncrun.StatusPARTIAL, screenMsg
	}
	if scr != nil {
		if left := scr.tokens.Load() - im.tokensCounted; left > 0 {
			// Spent on pages that were not imported.
			if err := e.ent.SyncRun.Update().Where(syncrun.ID(run.ID), syncrun.LeaseOwner(e.cfg.ID)).
				AddScreeningTokens(int(left)).Exec(ctx); err != nil {
				return err
			}
		}
	}
	return e.finish(ctx, run, notice, im.cursor, status, msg)
}

// ending decides how a run whose fetch stopped with err ends.
func ending(err error, fetched int) (syncrun.Status, string) {
	switch {
	case err == nil && fetched == 0:
		return syncrun.StatusSUCCEEDED, "fetched nothing: the external system had no matching records"
	case err == nil:
		return syncrun.StatusSUCCEEDED, ""
	case connector.IsTemporary(err):
		return syncrun.StatusPARTIAL, err.Error() + " (the next run continues from the last imported page)"
	default:
		return syncrun.StatusFAILED, err.Error()
	}
}

// acquire takes the run's lease: it is this worker's when nobody holds it,
// this worker already does, or the holder let it expire.
func (e *Engine) acquire(ctx context.Context, runID pulid.ID) (bool, error) {
	now := time.Now().UTC()
	n, err := e.ent.SyncRun.Update().
		Where(
			syncrun.ID(runID),
			syncrun.StatusIn(syncrun.StatusQUEUED, syncrun.StatusRUNNING),
			syncrun.Or(syncrun.LeaseOwnerIsNil(), syncrun.LeaseOwner(e.cfg.ID), syncrun.LeaseExpiresAtLT(now)),
		).
		SetStatus(syncrun.StatusRUNNING).
		SetLeaseOwner(e.cfg.ID).
		SetLeaseExpiresAt(now.Add(e.cfg.Lease)).
		Save(ctx)
	if err != nil {
		return false, err
	}
	if n == 1 {
		// started_at records the first start only.
		_, err = e.ent.SyncRun.Update().Where(syncrun.ID(runID), syncrun.StartedAtIsNil()).SetStartedAt(now).Save(ctx)
	}
	return n == 1, err
}

// heartbeat renews the lease until ctx ends; when the run is no longer this
// worker's (cancelled, or taken over after a stall), it calls lost.
func (e *Engine) heartbeat(ctx context.Context, runID pulid.ID, lost func()) {
	t := time.NewTicker(e.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := e.ent.SyncRun.Update().
			Where(syncrun.ID(runID), syncrun.LeaseOwner(e.cfg.ID), syncrun.StatusEQ(syncrun.StatusRUNNING)).
			SetLeaseExpiresAt(time.Now().UTC().Add(e.cfg.Lease)).
			Save(ctx)
		if err != nil {
			if ctx.Err() == nil {
				e.log.WarnContext(ctx, "renewing a run's lease", slog.String("run", string(runID)), slog.Any("err", err))
			}
			continue
		}
		if n == 0 {
			lost()
			return
		}
	}
}

// finish ends a run this worker holds and updates its trigger: the
// watermark advances after success, a PARTIAL run leaves its cursor for the
// next run, any other ending clears it.
func (e *Engine) finish(ctx context.Context, run *ent.SyncRun, notice progress.Notice, cursor string, status syncrun.Status, msg string) error {
	ctx = context.WithoutCancel(ctx)
	now := time.Now().UTC()
	err := e.inTx(ctx, func(_ *sql.Tx, c *ent.Client) error {
		upd := c.SyncRun.Update().
			Where(syncrun.ID(run.ID), syncrun.LeaseOwner(e.cfg.ID), syncrun.StatusEQ(syncrun.StatusRUNNING)).
			SetStatus(status).SetFinishedAt(now).ClearLeaseOwner().ClearLeaseExpiresAt().ClearWaitingForBudgetSince()
		if msg != "" {
			upd.SetError(msg)
		}
		if n, err := upd.Save(ctx); err != nil {
			return err
		} else if n == 0 {
			return errStopped
		}
		tu := c.Trigger.UpdateOneID(run.TriggerID).SetLastSyncAt(now)
		switch status {
		case syncrun.StatusSUCCEEDED:
			tu.SetResumeCursor("").ClearResumeSince().ClearResumeAsOf()
			if run.AsOf != nil {
				tu.SetWatermark(*run.AsOf)
			}
		case syncrun.StatusPARTIAL:
			tu.SetResumeCursor(cursor).SetNillableResumeSince(run.Since).SetNillableResumeAsOf(run.AsOf)
		default:
			tu.SetResumeCursor("").ClearResumeSince().ClearResumeAsOf()
		}
		return tu.Exec(ctx)
	})
	if errors.Is(err, errStopped) {
		return nil
	}
	if err != nil {
		return err
	}
	e.obs.RunFinished(string(status))
	e.publish(ctx, notice)
	e.log.InfoContext(ctx, "sync run ended", slog.String("run", string(run.ID)), slog.String("status", string(status)))
	return nil
}

// abandon fails a run whose job ran out of attempts.
func (e *Engine) abandon(ctx context.Context, runID pulid.ID, msg string) {
	ctx = viewer.SystemContext(context.WithoutCancel(ctx))
	n, err := e.ent.SyncRun.Update().
		Where(syncrun.ID(runID), syncrun.StatusIn(syncrun.StatusQUEUED, syncrun.StatusRUNNING)).
		SetStatus(syncrun.StatusFAILED).SetFinishedAt(time.Now().UTC()).SetError(msg).ClearLeaseOwner().
		Save(ctx)
	if err != nil || n == 0 {
		return
	}
	e.obs.RunFinished(string(syncrun.StatusFAILED))
	if run, err := e.ent.SyncRun.Get(ctx, runID); err == nil {
		e.publish(ctx, runNotice(run.ID, e.campaignOf(ctx, run.TriggerID)))
	}
}

func references(t *ent.Trigger) []connector.Reference {
	out := make([]connector.Reference, len(t.Edges.References))
	for i, r := range t.Edges.References {
		out[i] = connector.Reference{ExternalID: r.ExternalID, Kind: r.Kind, Name: r.Name}
	}
	return out
}
