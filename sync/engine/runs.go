package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/integration"
	"github.com/intake/intake/ent/syncrun"
	"github.com/intake/intake/ent/trigger"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/progress"
)

// maxAttempts bounds how often River retries a run's job after the worker
// returned an error (a database failure, a crash); the run then FAILS.
const maxAttempts = 8

// syncArgs is the River job of one run. It is unique per run; a trigger's
// runs are one at a time by the sync_run_one_active_per_trigger index.
type syncArgs struct {
	RunID     pulid.ID `json:"run_id" river:"unique"`
	TriggerID pulid.ID `json:"trigger_id"`
	// Resume sets apart the job that resumes a run whose worker vanished
	// (see resumeOrphans) from the run's earlier jobs.
	Resume int64 `json:"resume,omitempty" river:"unique"`
}

func (syncArgs) Kind() string { return "intake_sync_run" }

func (syncArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: maxAttempts, UniqueOpts: uniqueWhileActive}
}

// uniqueWhileActive makes a job unique by its arguments while one is waiting
// or running. River's default also counts completed jobs (until they are
// cleaned up a day later), which would silently skip a periodic job's next
// pass or a retried pushback's new job.
var uniqueWhileActive = river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled,
}}

// errNotDue is the scheduler's answer for a trigger that is no longer due
// (another scheduler pass got there first) or no longer schedulable.
var errNotDue = errors.New("trigger is not due")

// Screening is the screening state of a trigger with the description
// given: ACTIVE when the engine has a screening model and the description
// is not empty, NOT_CONFIGURED with a description and no model, OFF
// without a description. Runs record the state they were worked with
// (SyncRun.screening).
func (e *Engine) Screening(description string) schematype.ScreeningState {
	return schematype.ScreeningFor(description, e.screener != nil)
}

// QueueRun queues a run of trigger t in the caller's transaction tx (c is
// an ent client bound to it, t was read through c): it creates the QUEUED
// run and its River job together, or returns t's run that is already
// queued or running, with created false. The run continues where a PARTIAL
// run stopped, or starts from the trigger's watermark (InitialLookback on a
// first sync).
//
// The caller owns the rules (internal/service: a trigger syncs only when
// enabled and connected) and the transaction; after it commits, RunQueued
// tells subscribers. Two transactions that queue a run of one trigger at
// once cannot both commit: the sync_run_one_active_per_trigger index fails
// the second with a constraint error, whose caller then returns the run of
// the first.
func (e *Engine) QueueRun(ctx context.Context, tx *sql.Tx, c *ent.Client, t *ent.Trigger, kind syncrun.Kind) (run *ent.SyncRun, created bool, err error) {
	if run, err = activeRun(ctx, c, t.ID); run != nil || err != nil {
		return run, false, err
	}
	create := c.SyncRun.Create().SetTriggerID(t.ID).SetKind(kind).SetStatus(syncrun.StatusQUEUED).
		SetScreening(e.Screening(t.Description))
	if t.ResumeCursor != "" { // continue where a PARTIAL run stopped
		create.SetCursor(t.ResumeCursor).SetNillableSince(t.ResumeSince).SetNillableAsOf(t.ResumeAsOf)
	} else {
		now := time.Now().UTC()
		since := now.Add(-InitialLookback)
		if t.Watermark != nil {
			since = *t.Watermark
		}
		create.SetSince(since).SetAsOf(now)
	}
	if run, err = create.Save(ctx); err != nil {
		return nil, false, err
	}
	res, err := e.river.InsertTx(ctx, tx, syncArgs{RunID: run.ID, TriggerID: t.ID}, nil)
	if err != nil {
		return nil, false, fmt.Errorf("queueing the sync: %w", err)
	}
	if run, err = c.SyncRun.UpdateOneID(run.ID).SetJobID(res.Job.ID).Save(ctx); err != nil {
		return nil, false, err
	}
	return run, true, nil
}

// RunQueued tells subscribers that run of a trigger of campaignID was
// queued; call it after the transaction that queued it committed.
func (e *Engine) RunQueued(ctx context.Context, run *ent.SyncRun, campaignID pulid.ID) {
	e.publish(ctx, runNotice(run.ID, campaignID))
}

// RunCancelled ends the work of a run the caller has just set CANCELLED:
// it counts it, cancels its job (a running worker notices at its next lease
// renewal or checkpoint, rolls back the page in flight and stops; the pages
// already imported stay) and tells subscribers.
func (e *Engine) RunCancelled(ctx context.Context, run *ent.SyncRun) {
	e.obs.RunFinished(string(syncrun.StatusCANCELLED))
	if run.JobID != nil {
		if _, err := e.river.JobCancel(ctx, *run.JobID); err != nil && !errors.Is(err, river.ErrNotFound) {
			e.log.WarnContext(ctx, "cancelling the run's job", slog.String("run", string(run.ID)), slog.Any("err", err))
		}
	}
	e.publish(ctx, runNotice(run.ID, e.campaignOf(ctx, run.TriggerID)))
}

// RunEnded reports whether a sync run's status is final: SUCCEEDED,
// PARTIAL, FAILED or CANCELLED.
func RunEnded(s syncrun.Status) bool {
	switch s {
	case syncrun.StatusSUCCEEDED, syncrun.StatusPARTIAL, syncrun.StatusFAILED, syncrun.StatusCANCELLED:
		return true
	}
	return false
}

func activeRun(ctx context.Context, c *ent.Client, triggerID pulid.ID) (*ent.SyncRun, error) {
	run, err := c.SyncRun.Query().
		Where(syncrun.TriggerID(triggerID), syncrun.StatusIn(syncrun.StatusQUEUED, syncrun.StatusRUNNING)).
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return run, err
}

// runNotice is the progress notice of a run of a campaign's trigger.
func runNotice(runID, campaignID pulid.ID) progress.Notice {
	return progress.Notice{Kind: progress.KindRun, ID: runID, RunID: runID, CampaignID: campaignID}
}

// campaignOf looks up the campaign of a trigger, for the notices of paths
// that have not loaded it ("" when it is gone).
func (e *Engine) campaignOf(ctx context.Context, triggerID pulid.ID) pulid.ID {
	camp, err := e.ent.Trigger.Query().Where(trigger.ID(triggerID)).
		Select(trigger.FieldCampaignID).String(viewer.SystemContext(context.WithoutCancel(ctx)))
	if err != nil {
		return ""
	}
	return pulid.ID(camp)
}

// scheduleArgs is the periodic job that queues the runs of due triggers.
type scheduleArgs struct{}

func (scheduleArgs) Kind() string { return "intake_schedule_due_triggers" }

func (scheduleArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, UniqueOpts: uniqueWhileActive}
}

type scheduleWorker struct {
	river.WorkerDefaults[scheduleArgs]
	e *Engine
}

// Timeout lets River rescue (and, at one attempt, discard) a pass whose
// process died: with the client's -1 it would stay running, and being
// unique while running, keep every later pass out.
func (w *scheduleWorker) Timeout(*river.Job[scheduleArgs]) time.Duration { return time.Minute }

// Work queues a SCHEDULED run of each enabled trigger whose next sync is
// due and whose integration is connected.
func (w *scheduleWorker) Work(ctx context.Context, _ *river.Job[scheduleArgs]) error {
	return w.e.ScheduleDue(ctx)
}

// ScheduleDue queues the runs of the triggers that are due now.
func (e *Engine) ScheduleDue(ctx context.Context) error {
	e.resumeOrphans(ctx)
	sys := viewer.SystemContext(ctx)
	due, err := e.ent.Trigger.Query().
		Where(
			trigger.Enabled(true),
			trigger.NextSyncAtLTE(time.Now().UTC()),
			trigger.HasIntegrationWith(integration.StatusEQ(integration.StatusCONNECTED)),
		).
		Order(trigger.ByNextSyncAt()).
		Limit(500).
		All(sys)
	if err != nil {
		return err
	}
	for _, t := range due {
		if err := e.scheduleRun(viewer.ForOrg(ctx, t.OrganizationID), t.ID); err != nil && !errors.Is(err, errNotDue) {
			e.log.WarnContext(ctx, "scheduling a sync", slog.String("trigger", string(t.ID)), slog.Any("err", err))
		}
	}
	return nil
}

// scheduleRun queues a SCHEDULED run of a due trigger and sets its next
// sync a period later. Whether the trigger is due, enabled and connected is
// read again in the transaction, so overlapping passes queue one run. A
// trigger with a test or webhook run under way waits a period; one whose
// scheduled run is still under way stays due.
func (e *Engine) scheduleRun(ctx context.Context, triggerID pulid.ID) error {
	var run *ent.SyncRun
	var created bool
	var campaignID pulid.ID
	err := e.inTx(ctx, func(tx *sql.Tx, c *ent.Client) error {
		now := time.Now().UTC()
		t, err := c.Trigger.Query().
			Where(trigger.ID(triggerID), trigger.Enabled(true), trigger.NextSyncAtLTE(now),
				trigger.HasIntegrationWith(integration.StatusEQ(integration.StatusCONNECTED))).
			Only(ctx)
		if ent.IsNotFound(err) {
			return errNotDue
		}
		if err != nil {
			return err
		}
		campaignID = t.CampaignID
		if run, created, err = e.QueueRun(ctx, tx, c, t, syncrun.KindSCHEDULED); err != nil {
			return err
		}
		if !created && run.Kind == syncrun.KindSCHEDULED {
			return nil
		}
		next := now.Add(time.Duration(t.SyncIntervalSeconds) * time.Second)
		return c.Trigger.UpdateOneID(triggerID).SetNextSyncAt(next).Exec(ctx)
	})
	if err != nil {
		if ent.IsConstraintError(err) {
			return errNotDue // a run of the trigger was queued at the same moment
		}
		return err
	}
	if created {
		e.RunQueued(ctx, run, campaignID)
	}
	return nil
}

// resumeOrphans gives a new job to every RUNNING run whose lease expired
// RescueAfter ago: its worker vanished (SIGKILL, OOM, a lost host). River
// never rescues the old job itself, since sync jobs have no timeout (-1).
// The old job is cancelled, which River's rescuer finalizes; the new one
// resumes the run from its checkpoint.
func (e *Engine) resumeOrphans(ctx context.Context) {
	sys := viewer.SystemContext(ctx)
	runs, err := e.ent.SyncRun.Query().
		Where(syncrun.StatusEQ(syncrun.StatusRUNNING), syncrun.LeaseExpiresAtLT(time.Now().UTC().Add(-e.cfg.RescueAfter))).
		All(sys)
	if err != nil {
		e.log.WarnContext(ctx, "looking for orphaned runs", slog.Any("err", err))
		return
	}
	for _, run := range runs {
		res, err := e.river.Insert(ctx, syncArgs{RunID: run.ID, TriggerID: run.TriggerID, Resume: run.LeaseExpiresAt.UnixNano()}, nil)
		if err != nil || res.UniqueSkippedAsDuplicate {
			if err != nil {
				e.log.WarnContext(ctx, "resuming an orphaned run", slog.String("run", string(run.ID)), slog.Any("err", err))
			}
			continue
		}
		if run.JobID != nil {
			if _, err := e.river.JobCancel(ctx, *run.JobID); err != nil && !errors.Is(err, river.ErrNotFound) {
				e.log.WarnContext(ctx, "cancelling an orphaned run's job", slog.String("run", string(run.ID)), slog.Any("err", err))
			}
		}
		if err := e.ent.SyncRun.UpdateOneID(run.ID).SetJobID(res.Job.ID).Exec(sys); err != nil {
			e.log.WarnContext(ctx, "resuming an orphaned run", slog.String("run", string(run.ID)), slog.Any("err", err))
		}
		e.log.InfoContext(ctx, "resuming an orphaned run", slog.String("run", string(run.ID)))
	}
}

// waitingForBudget records on the run that its requests wait for the rate
// budget (or no longer do), and tells its subscribers.
func (e *Engine) waitingForBudget(ctx context.Context, runID pulid.ID, n progress.Notice, waiting bool) {
	ctx = viewer.SystemContext(context.WithoutCancel(ctx))
	up := e.ent.SyncRun.UpdateOneID(runID).Where(syncrun.StatusEQ(syncrun.StatusRUNNING))
	if waiting {
		up.SetWaitingForBudgetSince(time.Now().UTC())
	} else {
		up.ClearWaitingForBudgetSince()
	}
	if err := up.Exec(ctx); err != nil && !ent.IsNotFound(err) {
		e.log.WarnContext(ctx, "recording a wait for the rate budget", slog.String("run", string(runID)), slog.Any("error", err))
		return
	}
	e.publish(ctx, n)
}
