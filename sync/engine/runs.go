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
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/sync/connector"
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

// errNotDue is StartRun's answer to a SCHEDULED run of a trigger that is no
// longer due (another scheduler pass got there first).
var errNotDue = errors.New("trigger is not due")

// StartRun queues a run of a trigger, or returns the trigger's run that is
// already queued or running. ctx must carry the viewer (or act for the
// trigger's organization): another organization's trigger is NOT_FOUND.
func (e *Engine) StartRun(ctx context.Context, triggerID pulid.ID, kind syncrun.Kind) (*ent.SyncRun, error) {
	var run *ent.SyncRun
	var created bool
	var campaignID pulid.ID
	var integ *ent.Integration
	err := e.inTx(ctx, func(tx *sql.Tx, c *ent.Client) error {
		t, err := c.Trigger.Query().Where(trigger.ID(triggerID)).WithIntegration().Only(ctx)
		if ent.IsNotFound(err) {
			return service.NotFound("triggerID", "trigger")
		}
		if err != nil {
			return err
		}
		campaignID, integ = t.CampaignID, t.Edges.Integration
		if !t.Enabled {
			return service.Invalid("triggerID", "the trigger is disabled: enable it to sync")
		}
		if st := t.Edges.Integration.Status; st != integration.StatusCONNECTED {
			return service.Invalid("triggerID", "the integration is %s: only a CONNECTED integration syncs", st)
		}
		if run, err = activeRun(ctx, c, triggerID); run != nil || err != nil {
			return err
		}
		now := time.Now().UTC()
		if kind == syncrun.KindSCHEDULED && (t.NextSyncAt == nil || t.NextSyncAt.After(now)) {
			return errNotDue // re-checked in the transaction: overlapping passes queue one run
		}
		create := c.SyncRun.Create().SetTriggerID(triggerID).SetKind(kind).SetStatus(syncrun.StatusQUEUED)
		if t.ResumeCursor != "" { // continue where a PARTIAL run stopped
			create.SetCursor(t.ResumeCursor).SetNillableSince(t.ResumeSince).SetNillableAsOf(t.ResumeAsOf)
		} else {
			since := now.Add(-InitialLookback)
			if t.Watermark != nil {
				since = *t.Watermark
			}
			create.SetSince(since).SetAsOf(now)
		}
		if run, err = create.Save(ctx); err != nil {
			return err
		}
		res, err := e.river.InsertTx(ctx, tx, syncArgs{RunID: run.ID, TriggerID: triggerID}, nil)
		if err != nil {
			return fmt.Errorf("queueing the sync: %w", err)
		}
		upd := c.SyncRun.UpdateOneID(run.ID).SetJobID(res.Job.ID)
		if run, err = upd.Save(ctx); err != nil {
			return err
		}
		if kind == syncrun.KindSCHEDULED {
			next := now.Add(time.Duration(t.SyncIntervalSeconds) * time.Second)
			if err := c.Trigger.UpdateOneID(triggerID).SetNextSyncAt(next).Exec(ctx); err != nil {
				return err
			}
		}
		created = true
		return nil
	})
	if err != nil && ent.IsConstraintError(err) {
		// Another request queued a run of this trigger at the same moment:
		// that run is the answer.
		if active, aerr := activeRun(ctx, e.ent, triggerID); aerr == nil && active != nil {
			return active, nil
		}
	}
	if err != nil {
		return nil, err
	}
	// Entities read inside the transaction are bound to it: read again.
	if run, err = e.ent.SyncRun.Get(ctx, run.ID); err != nil {
		return nil, err
	}
	if created {
		e.publish(ctx, runNotice(run.ID, campaignID))
	}
	if created && kind == syncrun.KindWEBHOOK {
		e.auditWebhookSync(ctx, run, integ)
	}
	return run, nil
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

// CancelRun cancels a queued or running run. The worker notices at its next
// lease renewal or checkpoint, rolls back the page in flight and stops; the
// pages already imported stay. A finished run is returned unchanged.
func (e *Engine) CancelRun(ctx context.Context, runID pulid.ID) (*ent.SyncRun, error) {
	run, err := e.ent.SyncRun.Get(ctx, runID)
	if ent.IsNotFound(err) {
		return nil, service.NotFound("id", "sync run")
	}
	if err != nil {
		return nil, err
	}
	n, err := e.ent.SyncRun.Update().
		Where(syncrun.ID(runID), syncrun.StatusIn(syncrun.StatusQUEUED, syncrun.StatusRUNNING)).
		SetStatus(syncrun.StatusCANCELLED).
		SetFinishedAt(time.Now().UTC()).
		ClearLeaseOwner().
		Save(ctx)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return run, nil
	}
	e.obs.RunFinished(string(syncrun.StatusCANCELLED))
	if run, err = e.ent.SyncRun.Get(ctx, runID); err != nil {
		return nil, err
	}
	if run.JobID != nil {
		if _, err := e.river.JobCancel(ctx, *run.JobID); err != nil && !errors.Is(err, river.ErrNotFound) {
			e.log.WarnContext(ctx, "cancelling the run's job", slog.String("run", string(runID)), slog.Any("err", err))
		}
	}
	e.publish(ctx, runNotice(run.ID, e.campaignOf(ctx, run.TriggerID)))
	return run, nil
}

// HandleWebhook starts a WEBHOOK run of every enabled trigger of the
// integration the verified events came for.
func (e *Engine) HandleWebhook(ctx context.Context, in *ent.Integration, events []connector.WebhookEvent) error {
	ctx = viewer.ForOrg(ctx, in.OrganizationID)
	ids, err := e.ent.Trigger.Query().
		Where(trigger.IntegrationID(in.ID), trigger.Enabled(true)).
		IDs(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := e.StartRun(ctx, id, syncrun.KindWEBHOOK); err != nil {
			var se *service.Error
			if errors.As(err, &se) && se.Code == service.CodeValidation {
				continue // disabled or disconnected meanwhile
			}
			return err
		}
	}
	e.log.InfoContext(ctx, "webhook started syncs", slog.String("integration", string(in.ID)),
		slog.Int("events", len(events)), slog.Int("triggers", len(ids)))
	return nil
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
		run, err := e.StartRun(viewer.ForOrg(ctx, t.OrganizationID), t.ID, syncrun.KindSCHEDULED)
		if errors.Is(err, errNotDue) {
			continue
		}
		if err != nil {
			e.log.WarnContext(ctx, "scheduling a sync", slog.String("trigger", string(t.ID)), slog.Any("err", err))
			continue
		}
		if run.Kind != syncrun.KindSCHEDULED {
			// A test or webhook run is active: the schedule waits a period.
			next := time.Now().UTC().Add(time.Duration(t.SyncIntervalSeconds) * time.Second)
			_ = e.ent.Trigger.UpdateOneID(t.ID).SetNextSyncAt(next).Exec(viewer.ForOrg(ctx, t.OrganizationID))
		}
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
