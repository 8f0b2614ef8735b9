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
	out := make(chan *model.SyncProgress)
	go func() {
		defer close(out)
		defer sub.Close()
		if !send(ctx, out, progressOf(run)) {
			return
		}
		for !finished(run.Status) {
			select {
			case <-ctx.Done():
				return
			case <-sub.Ready():
			}
			sub.Drain()
			next, err := r.db.SyncRun.Get(ctx, id)
			if err != nil {
				r.logSubscriptionError(ctx, "syncProgress", err)
				return
			}
			if next.UpdatedAt.Equal(run.UpdatedAt) && next.Status == run.Status {
				continue
			}
			run = next
			if !send(ctx, out, progressOf(run)) {
				return
			}
		}
	}()
	return out, nil
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
	out := make(chan model.CampaignEvent)
	go func() {
		defer close(out)
		defer sub.Close()
		imported := map[pulid.ID]int{}
		for {
			select {
			case <-ctx.Done():
				return
			case <-sub.Ready():
			}
			for _, n := range sub.Drain() {
				if !r.campaignEvent(ctx, out, camp, n, imported) {
					return
				}
			}
		}
	}()
	return out, nil
}

func (r *Resolver) campaignEvent(ctx context.Context, out chan<- model.CampaignEvent, camp *ent.Campaign, n progress.Notice, imported map[pulid.ID]int) bool {
	switch n.Kind {
	case progress.KindRun:
		run, err := r.db.SyncRun.Get(ctx, n.ID)
		if err != nil {
			return ent.IsNotFound(err) || r.logSubscriptionError(ctx, "campaignEvents", err)
		}
		if !send[model.CampaignEvent](ctx, out, progressOf(run)) {
			return false
		}
		if delta := run.Imported - imported[run.ID]; delta > 0 {
			imported[run.ID] = run.Imported
			if !send[model.CampaignEvent](ctx, out, &model.ContactsImported{Campaign: camp, Run: run, Count: delta}) {
				return false
			}
		}
		if finished(run.Status) {
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
			if !r.campaignEvent(ctx, out, camp, progress.Notice{Kind: progress.KindRun, ID: id, CampaignID: camp.ID}, imported) {
				return false
			}
		}
	case progress.KindPushback:
		pb, err := r.db.Pushback.Get(ctx, n.ID)
		if err != nil {
			return ent.IsNotFound(err) || r.logSubscriptionError(ctx, "campaignEvents", err)
		}
		return send[model.CampaignEvent](ctx, out, pb)
	}
	return true
}

// logSubscriptionError logs and reports that the stream must end.
func (r *Resolver) logSubscriptionError(ctx context.Context, op string, err error) bool {
	if ctx.Err() == nil {
		r.log.ErrorContext(ctx, "subscription stopped", slog.String("op", op), slog.Any("err", err))
	}
	return false
}

func send[T any](ctx context.Context, out chan<- T, v T) bool {
	select {
	case out <- v:
		return true
	case <-ctx.Done():
		return false
	}
}

func finished(s syncrun.Status) bool {
	switch s {
	case syncrun.StatusSUCCEEDED, syncrun.StatusPARTIAL, syncrun.StatusFAILED, syncrun.StatusCANCELLED:
		return true
	}
	return false
}

func progressOf(run *ent.SyncRun) *model.SyncProgress {
	p := &model.SyncProgress{
		Run: run, Fetched: run.Fetched, Imported: run.Imported, Duplicates: run.Duplicates,
		InvalidPhone: run.InvalidPhone, FilteredOut: run.FilteredOut, Failed: run.Failed, Total: run.Total,
		Done: finished(run.Status),
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
