package graph

import (
	"context"
	"log/slog"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/syncrun"
	"github.com/intake/intake/ent/trigger"
	"github.com/intake/intake/graph/model"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/sync/engine"
	"github.com/intake/intake/sync/progress"
)

// followRun streams a run's progress: its current state first, then each
// change, and completes once the run has ended. It subscribes before the
// first read, so no change between the two is missed.
func (r *Resolver) followRun(ctx context.Context, id pulid.ID) (<-chan *model.SyncProgress, error) {
	sub := r.broker.Subscribe(progress.RunTopic(id))
	run, err := r.db.SyncRun.Get(ctx, id)
	if err != nil {
		sub.Close()
		if ent.IsNotFound(err) {
			return nil, &service.Error{Code: service.CodeNotFound, Field: "runID", Message: "sync run not found"}
		}
		return nil, err
	}
	first := func(emit emitFunc[*model.SyncProgress]) bool {
		return emit(progressOf(run)) && !engine.RunEnded(run.Status)
	}
	// Every notice of the topic is about the run: one re-read answers them.
	step := func(_ []progress.Notice, emit emitFunc[*model.SyncProgress]) bool {
		next, err := r.run(ctx, id, r.reads.now())
		if err != nil {
			return r.logSubscriptionError(ctx, "syncProgress", err)
		}
		if next.UpdatedAt.Equal(run.UpdatedAt) && next.Status == run.Status {
			return true
		}
		run = next
		return emit(progressOf(run)) && !engine.RunEnded(run.Status)
	}
	return newStream(ctx, sub, first, step), nil
}

// followCampaign streams what happens to a campaign: run progress, contacts
// imported (the increase of a run's imported counter since the last event)
// and pushback changes.
func (r *Resolver) followCampaign(ctx context.Context, id pulid.ID) (<-chan model.CampaignEvent, error) {
	sub := r.broker.Subscribe(progress.CampaignTopic(id))
	camp, err := r.db.Campaign.Get(ctx, id)
	if err != nil {
		sub.Close()
		if ent.IsNotFound(err) {
			return nil, &service.Error{Code: service.CodeNotFound, Field: "campaignID", Message: "campaign not found"}
		}
		return nil, err
	}
	imported := map[pulid.ID]int{}
	step := func(notices []progress.Notice, emit emitFunc[model.CampaignEvent]) bool {
		after := r.reads.now()
		for _, n := range notices {
			if !r.campaignEvent(ctx, emit, camp, n, imported, after) {
				return false
			}
		}
		return true
	}
	return newStream(ctx, sub, nil, step), nil
}

func (r *Resolver) campaignEvent(ctx context.Context, emit emitFunc[model.CampaignEvent], camp *ent.Campaign,
	n progress.Notice, imported map[pulid.ID]int, after uint64) bool {
	switch n.Kind {
	case progress.KindRun:
		run, err := r.run(ctx, n.ID, after)
		if err != nil {
			return ent.IsNotFound(err) || r.logSubscriptionError(ctx, "campaignEvents", err)
		}
		if !emit(progressOf(run)) {
			return false
		}
		if delta := run.Imported - imported[run.ID]; delta > 0 {
			imported[run.ID] = run.Imported
			if !emit(&model.ContactsImported{Campaign: camp, Run: run, Count: delta}) {
				return false
			}
		}
		if engine.RunEnded(run.Status) {
			delete(imported, run.ID)
		}
	case progress.KindResync:
		// Notices may have been lost: re-read the runs this stream follows
		// and the campaign's active ones.
		ids, err := r.db.SyncRun.Query().
			Where(syncrun.HasTriggerWith(trigger.CampaignID(camp.ID)), syncrun.StatusIn(syncrun.StatusQUEUED, syncrun.StatusRUNNING)).
			IDs(ctx)
		if err != nil {
			return r.logSubscriptionError(ctx, "campaignEvents", err)
		}
		for id := range imported {
			ids = append(ids, id)
		}
		for _, id := range ids {
			if !r.campaignEvent(ctx, emit, camp, progress.Notice{Kind: progress.KindRun, ID: id, CampaignID: camp.ID}, imported, after) {
				return false
			}
		}
	case progress.KindPushback:
		pb, err := read(ctx, r.reads, string(n.ID), after, func(ctx context.Context) (*ent.Pushback, error) {
			return r.db.Pushback.Get(ctx, n.ID)
		})
		if err != nil {
			return ent.IsNotFound(err) || r.logSubscriptionError(ctx, "campaignEvents", err)
		}
		return emit(pb)
	}
	return true
}

// run reads a run for a subscriber that drained its notice at after,
// sharing the read with the run's other subscribers (sharedReads).
func (r *Resolver) run(ctx context.Context, id pulid.ID, after uint64) (*ent.SyncRun, error) {
	return read(ctx, r.reads, string(id), after, func(ctx context.Context) (*ent.SyncRun, error) {
		return r.db.SyncRun.Get(ctx, id)
	})
}

// logSubscriptionError logs and reports that the stream must end.
func (r *Resolver) logSubscriptionError(ctx context.Context, op string, err error) bool {
	if ctx.Err() == nil {
		r.log.ErrorContext(ctx, "subscription stopped", slog.String("op", op), slog.Any("err", err))
	}
	return false
}

func progressOf(run *ent.SyncRun) *model.SyncProgress {
	p := &model.SyncProgress{
		Run: run, Fetched: run.Fetched, Imported: run.Imported, Duplicates: run.Duplicates,
		InvalidPhone: run.InvalidPhone, FilteredOut: run.FilteredOut, Failed: run.Failed, Total: run.Total,
		Done: engine.RunEnded(run.Status), WaitingForBudget: run.WaitingForBudgetSince != nil,
	}
	switch {
	case p.Done:
		p.Phase = model.SyncPhaseDone
	case run.Status == syncrun.StatusQUEUED:
		p.Phase = model.SyncPhaseQueued
	case run.Fetched == 0:
		p.Phase = model.SyncPhaseFetching
	default:
		p.Phase = model.SyncPhaseProcessing
	}
	return p
}
