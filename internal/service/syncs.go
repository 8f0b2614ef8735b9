package service

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/integration"
	"github.com/intake/intake/ent/syncrun"
	"github.com/intake/intake/ent/trigger"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/engine"
)

// Jobs is the sync engine as the service uses it (sync/engine.Engine): it
// queues work inside the service's transactions, so that a row and the job
// that works on it commit together (River's InsertTx), and tells
// subscribers once they have.
type Jobs interface {
	// QueueRun queues a run of t (read through c, bound to tx), or returns
	// t's run already queued or running with created false.
	QueueRun(ctx context.Context, tx *sql.Tx, c *ent.Client, t *ent.Trigger, kind syncrun.Kind) (run *ent.SyncRun, created bool, err error)
	RunQueued(ctx context.Context, run *ent.SyncRun, campaignID pulid.ID)
	// RunCancelled stops the work of a run just set CANCELLED.
	RunCancelled(ctx context.Context, run *ent.SyncRun)
	QueuePushback(ctx context.Context, tx *sql.Tx, id pulid.ID, retry bool) error
	PushbackQueued(ctx context.Context, id, campaignID pulid.ID)
	// Screening is the screening state of a trigger with the description
	// given: whether the engine's syncs apply it.
	Screening(description string) schematype.ScreeningState
	// PreviewScreening judges a sample of conn's records for req against
	// description, importing nothing.
	PreviewScreening(ctx context.Context, conn connector.Connector, orgID pulid.ID, req connector.FetchRequest, description string, sample int) (engine.Preview, error)
	// EraseTx erases people in the caller's transaction; Announce tells
	// subscribers after the commit.
	EraseTx(ctx context.Context, tx *sql.Tx, r engine.EraseRequest) (engine.Erased, error)
	Announce(ctx context.Context, er engine.Erased)
}

// TriggerScreening is whether t's description decides which of its
// records are imported (Trigger.screening).
func (s *Service) TriggerScreening(t *ent.Trigger) schematype.ScreeningState {
	if s.jobs == nil { // the CLI: no syncs here, and none screen yet
		return schematype.ScreeningFor(t.Description, false)
	}
	return s.jobs.Screening(t.Description)
}

// errNoEngine answers what needs the sync engine in a process that runs
// none (the CLI).
var errNoEngine = &Error{Code: CodeNotAvailable, Message: "this process runs no sync engine"}

// Opener returns the service's connector opener.
func (s *Service) Opener() *Opener { return s.opener }

// TestSync starts a sync of an enabled trigger now, or returns the run of
// that trigger that is already queued or running.
func (s *Service) TestSync(ctx context.Context, triggerID pulid.ID) (*ent.SyncRun, error) {
	if err := checkID("triggerID", triggerID, "trg", "trigger"); err != nil {
		return nil, err
	}
	run, _, err := s.startRun(ctx, triggerID, syncrun.KindTEST)
	return run, err
}

// startRun queues a run of a trigger, or returns the trigger's run that is
// already queued or running (created false). Only an enabled trigger of a
// CONNECTED integration syncs. ctx carries the viewer: another
// organization's trigger is NOT_FOUND.
func (s *Service) startRun(ctx context.Context, triggerID pulid.ID, kind syncrun.Kind) (run *ent.SyncRun, created bool, err error) {
	if s.jobs == nil {
		return nil, false, errNoEngine
	}
	var campaignID pulid.ID
	err = s.store.InTx(ctx, func(tx *sql.Tx, c *ent.Client) error {
		t, err := c.Trigger.Query().Where(trigger.ID(triggerID)).WithIntegration().Only(ctx)
		if ent.IsNotFound(err) {
			return notFound("triggerID", "trigger")
		}
		if err != nil {
			return err
		}
		if !t.Enabled {
			return invalid("triggerID", "the trigger is disabled: enable it to sync")
		}
		if st := t.Edges.Integration.Status; st != integration.StatusCONNECTED {
			return invalid("triggerID", "the integration is %s: only a CONNECTED integration syncs", st)
		}
		campaignID = t.CampaignID
		run, created, err = s.jobs.QueueRun(ctx, tx, c, t, kind)
		return err
	})
	if err != nil && ent.IsConstraintError(err) {
		// Another request queued a run of this trigger at the same moment:
		// that run is the answer.
		active, aerr := s.db.SyncRun.Query().
			Where(syncrun.TriggerID(triggerID), syncrun.StatusIn(syncrun.StatusQUEUED, syncrun.StatusRUNNING)).
			Only(ctx)
		if aerr == nil {
			return active, false, nil
		}
	}
	if err != nil {
		return nil, false, err
	}
	// Entities read inside the transaction are bound to it: read again.
	if run, err = s.db.SyncRun.Get(ctx, run.ID); err != nil {
		return nil, false, err
	}
	if created {
		s.jobs.RunQueued(ctx, run, campaignID)
	}
	return run, created, nil
}

// CancelSyncRun cancels a queued or running run; a finished run is
// returned unchanged. The worker notices at its next lease renewal or
// checkpoint, rolls back the page in flight and stops; the pages already
// imported stay.
func (s *Service) CancelSyncRun(ctx context.Context, id pulid.ID) (*ent.SyncRun, error) {
	if err := checkID("id", id, "run", "sync run"); err != nil {
		return nil, err
	}
	if s.jobs == nil {
		return nil, errNoEngine
	}
	run, err := s.db.SyncRun.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, notFound("id", "sync run")
	}
	if err != nil {
		return nil, err
	}
	n, err := s.db.SyncRun.Update().
		Where(syncrun.ID(id), syncrun.StatusIn(syncrun.StatusQUEUED, syncrun.StatusRUNNING)).
		SetStatus(syncrun.StatusCANCELLED).
		SetFinishedAt(time.Now().UTC()).
		ClearLeaseOwner().
		Save(ctx)
	if err != nil || n == 0 {
		return run, err
	}
	if run, err = s.db.SyncRun.Get(ctx, id); err != nil {
		return nil, err
	}
	s.jobs.RunCancelled(ctx, run)
	return run, nil
}

// HandleWebhook starts a WEBHOOK run of every enabled trigger of the
// integration the verified events came for, and records each in the
// organization's audit trail. Triggers disabled or disconnected meanwhile
// are skipped.
//
// testSync is recorded with its mutation, by the GraphQL layer. Scheduled
// syncs are not recorded: they are the consequence of a configuration whose
// every change is (configureTrigger, by whom, which fields), each one is a
// sync_runs row of kind SCHEDULED anyway, and a trigger syncing every
// minute would add 1,440 events a day that drown the changes the trail is
// read for.
func (s *Service) HandleWebhook(ctx context.Context, in *ent.Integration, events []connector.WebhookEvent) error {
	ctx = viewer.ForOrg(ctx, in.OrganizationID)
	gone := map[string][]string{} // event type -> external IDs
	rest := events[:0:0]
	for _, ev := range events {
		if ev.Gone && ev.ExternalID != "" {
			gone[ev.Type] = append(gone[ev.Type], ev.ExternalID)
			continue
		}
		rest = append(rest, ev)
	}
	for _, typ := range slices.Sorted(maps.Keys(gone)) {
		done, err := s.EraseFromSource(ctx, in, gone[typ], string(in.Provider)+" "+typ)
		if err != nil {
			return err
		}
		s.auditErasure(ctx, in, typ, done)
	}
	if len(rest) == 0 {
		return nil
	}
	events = rest
	ids, err := s.db.Trigger.Query().
		Where(trigger.IntegrationID(in.ID), trigger.Enabled(true)).
		IDs(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		run, created, err := s.startRun(ctx, id, syncrun.KindWEBHOOK)
		if err != nil {
			if e := (*Error)(nil); errors.As(err, &e) && e.Code == CodeValidation {
				continue // disabled or disconnected meanwhile
			}
			return err
		}
		if created {
			s.auditWebhookSync(ctx, run, in)
		}
	}
	s.log.InfoContext(ctx, "webhook started syncs", slog.String("integration", string(in.ID)),
		slog.Int("events", len(events)), slog.Int("triggers", len(ids)))
	return nil
}

// auditErasure records an erasure a webhook made: the contacts erased, by
// their IDs only.
func (s *Service) auditErasure(ctx context.Context, in *ent.Integration, typ string, done Erasure) {
	rec := AuditRecord{
		OrgID: in.OrganizationID, Actor: schematype.ActorWebhook, ActorName: string(in.Provider),
		Operation: "webhookErasure", TargetID: in.ID, Related: done.Contacts, Fields: []string{typ}, Outcome: AuditOK,
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.RecordAudit(ctx, rec); err != nil {
		s.log.ErrorContext(ctx, "recording a webhook erasure in the audit trail", slog.String("integration", string(in.ID)), slog.Any("err", err))
	}
}

// auditWebhookSync records that a verified webhook started a sync of a
// trigger. A failed write is logged: the sync runs either way.
func (s *Service) auditWebhookSync(ctx context.Context, run *ent.SyncRun, in *ent.Integration) {
	rec := AuditRecord{
		OrgID: run.OrganizationID, Actor: schematype.ActorWebhook, ActorName: string(in.Provider),
		Operation: "webhookSync", TargetID: run.TriggerID, Related: []pulid.ID{in.ID, run.ID},
		Outcome: AuditOK,
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.RecordAudit(ctx, rec); err != nil {
		s.log.ErrorContext(ctx, "recording a webhook sync in the audit trail", slog.String("run", string(run.ID)), slog.Any("err", err))
	}
}
