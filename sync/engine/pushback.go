package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/callresult"
	"github.com/intake/intake/ent/contact"
	"github.com/intake/intake/ent/integration"
	"github.com/intake/intake/ent/pushback"
	"github.com/intake/intake/ent/trigger"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/progress"
)

// pushbackQueue keeps deliveries from waiting behind long syncs.
const pushbackQueue = "pushback"

// pushbackDelays are the waits before each retry of a delivery that failed
// temporarily, for a first delay of 10s: a little over 8 hours in all, then
// the pushback is DEAD. Config.PushbackFirstDelay scales them.
var pushbackDelays = []time.Duration{
	10 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute,
	10 * time.Minute, 20 * time.Minute, 40 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour,
}

// MaxPushbackAttempts is how many deliveries are tried before DEAD.
var MaxPushbackAttempts = len(pushbackDelays) + 1

// retryDelay is the wait before retry number attempt (1-based).
func (e *Engine) retryDelay(attempt int) time.Duration {
	d := pushbackDelays[min(attempt, len(pushbackDelays))-1]
	return time.Duration(float64(d) * float64(e.cfg.PushbackFirstDelay) / float64(pushbackDelays[0]))
}

// pushbackArgs is the River job delivering one pushback.
type pushbackArgs struct {
	PushbackID pulid.ID `json:"pushback_id" river:"unique"`
	// Retry sets a retryPushback's job apart from the pushback's earlier
	// job, which River may still hold as running for a moment after it
	// settled the pushback, and would otherwise count as a duplicate.
	Retry int64 `json:"retry,omitempty" river:"unique"`
}

func (pushbackArgs) Kind() string { return "intake_pushback" }

func (pushbackArgs) InsertOpts() river.InsertOpts {
	// Snoozes pace the retries; River's own attempts only cover crashes and
	// database errors.
	return river.InsertOpts{Queue: pushbackQueue, MaxAttempts: 25, UniqueOpts: uniqueWhileActive}
}

// RecordCallResult stores a call result and, when the contact's campaign
// has a trigger with pushback on, its Pushback and the job delivering it, all
// in one transaction. A known idempotency key returns the first result.
func (e *Engine) RecordCallResult(ctx context.Context, in service.CallResult) (*ent.CallResult, error) {
	if in.IdempotencyKey != "" {
		if prev, err := e.callByKey(ctx, in.IdempotencyKey); prev != nil || err != nil {
			return prev, err
		}
	}
	var res *ent.CallResult
	var pb *ent.Pushback
	var campaignID pulid.ID
	err := e.inTx(ctx, func(tx *sql.Tx, c *ent.Client) error {
		con, err := c.Contact.Query().Where(contact.ID(in.ContactID)).Only(ctx)
		if ent.IsNotFound(err) {
			return service.NotFound("input.contactID", "contact")
		}
		if err != nil {
			return err
		}
		campaignID = con.CampaignID
		create := c.CallResult.Create().
			SetContactID(con.ID).SetOutcome(in.Outcome).SetTranscript(in.Transcript).
			SetQuestionResults(in.QuestionResults).SetCalledAt(in.CalledAt).SetDurationSeconds(in.DurationSeconds)
		if in.IdempotencyKey != "" {
			create.SetIdempotencyKey(in.IdempotencyKey)
		}
		if res, err = create.Save(ctx); err != nil {
			return err
		}
		t, err := c.Trigger.Query().
			Where(trigger.CampaignID(con.CampaignID), trigger.PushbackEnabled(true)).
			WithStatusMapping().Only(ctx)
		if ent.IsNotFound(err) {
			return nil // no pushback trigger: the result stays in the campaign
		}
		if err != nil {
			return err
		}
		pbc := c.Pushback.Create().SetCallResultID(res.ID).SetTriggerID(t.ID).SetStatus(pushback.StatusPENDING)
		if m := t.Edges.StatusMapping; m != nil {
			pbc.SetMappedStatus(mapped(m, in.Outcome))
		}
		if pb, err = pbc.Save(ctx); err != nil {
			return err
		}
		_, err = e.river.InsertTx(ctx, tx, pushbackArgs{PushbackID: pb.ID}, nil)
		return err
	})
	if err != nil && in.IdempotencyKey != "" && ent.IsConstraintError(err) {
		// The same key raced in: the first one recorded is the answer.
		if prev, perr := e.callByKey(ctx, in.IdempotencyKey); prev != nil {
			return prev, nil
		} else if perr != nil {
			return nil, perr
		}
	}
	if err != nil {
		return nil, err
	}
	if pb != nil {
		e.publishPushback(ctx, pb, campaignID)
	}
	// Entities created inside the transaction are bound to it: read again.
	return e.ent.CallResult.Get(ctx, res.ID)
}

func (e *Engine) callByKey(ctx context.Context, key string) (*ent.CallResult, error) {
	prev, err := e.ent.CallResult.Query().Where(callresult.IdempotencyKey(key)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return prev, err
}

// mapped is the status name the mapping gives an outcome.
func mapped(m *ent.StatusMapping, o callresult.Outcome) string {
	switch o {
	case callresult.OutcomeSUCCESS:
		return m.Success
	case callresult.OutcomePARTIAL:
		return m.Partial
	case callresult.OutcomeFAILURE:
		return m.Failure
	}
	return m.NotAnswered
}

// RetryPushback queues a DEAD pushback again, from a fresh attempt count.
func (e *Engine) RetryPushback(ctx context.Context, id pulid.ID) (*ent.Pushback, error) {
	var pb *ent.Pushback
	err := e.inTx(ctx, func(tx *sql.Tx, c *ent.Client) error {
		cur, err := c.Pushback.Get(ctx, id)
		if ent.IsNotFound(err) {
			return service.NotFound("id", "pushback")
		}
		if err != nil {
			return err
		}
		if cur.Status != pushback.StatusDEAD {
			return service.Invalid("id", "only a DEAD pushback can be retried; this one is %s", cur.Status)
		}
		if pb, err = cur.Update().SetStatus(pushback.StatusPENDING).SetAttempts(0).ClearNextAttemptAt().Save(ctx); err != nil {
			return err
		}
		_, err = e.river.InsertTx(ctx, tx, pushbackArgs{PushbackID: id, Retry: time.Now().UnixNano()}, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	e.publishPushback(ctx, pb, e.campaignOf(ctx, pb.TriggerID))
	return e.ent.Pushback.Get(ctx, id)
}

type pushbackWorker struct {
	river.WorkerDefaults[pushbackArgs]
	e *Engine
}

// Timeout bounds one delivery attempt. River takes back the job of a
// process that vanished only once it has run this long, so it is
// RescueAfter: a longer timeout would hold deliveries cut off by a crash.
func (w *pushbackWorker) Timeout(*river.Job[pushbackArgs]) time.Duration { return w.e.cfg.RescueAfter }

// Work makes one delivery attempt. It returns an error only for failures of
// Intake itself (River retries those); the external system's answers are
// recorded on the Pushback.
func (w *pushbackWorker) Work(ctx context.Context, job *river.Job[pushbackArgs]) error {
	return w.e.deliver(ctx, job.Args.PushbackID)
}

func (e *Engine) deliver(ctx context.Context, id pulid.ID) error {
	pb, err := e.ent.Pushback.Get(viewer.SystemContext(ctx), id)
	if ent.IsNotFound(err) {
		return nil // its campaign was deleted
	}
	if err != nil {
		return err
	}
	if pb.Status == pushback.StatusDELIVERED || pb.Status == pushback.StatusDEAD {
		return nil
	}
	ctx = viewer.ForOrg(ctx, pb.OrganizationID)
	if pb.NextAttemptAt != nil && time.Until(*pb.NextAttemptAt) > time.Second {
		return river.JobSnooze(time.Until(*pb.NextAttemptAt))
	}
	call, err := e.ent.CallResult.Query().Where(callresult.ID(pb.CallResultID)).WithContact().Only(ctx)
	if err != nil {
		return err
	}
	t, err := e.ent.Trigger.Query().Where(trigger.ID(pb.TriggerID)).WithIntegration().Only(ctx)
	if err != nil {
		return err
	}
	// The rules hold at delivery time too.
	switch {
	case !t.PushbackEnabled:
		return e.settle(ctx, pb, t.CampaignID, pushback.StatusDEAD, "not delivered: pushback was switched off on the trigger", 0)
	case t.Edges.Integration.Status != integration.StatusCONNECTED:
		return e.settle(ctx, pb, t.CampaignID, pushback.StatusDEAD,
			fmt.Sprintf("not delivered: the integration is %s", t.Edges.Integration.Status), 0)
	}
	conn, err := e.open(t.Edges.Integration)
	if err != nil {
		return e.settle(ctx, pb, t.CampaignID, pushback.StatusDEAD, "opening the integration: "+err.Error(), 0)
	}
	con := call.Edges.Contact
	req := connector.PushRequest{
		IdempotencyKey: "intake-" + string(pb.ID),
		Contact:        connector.ContactRef{ExternalID: con.ExternalID, Attributes: con.Attributes},
		Outcome:        connector.Outcome(call.Outcome),
		Transcript:     call.Transcript,
		CalledAt:       call.CalledAt,
		Duration:       time.Duration(call.DurationSeconds) * time.Second,
	}
	for _, q := range call.QuestionResults {
		req.QuestionResults = append(req.QuestionResults, connector.QuestionResult{Question: q.Question, Answer: q.Answer})
	}
	if pb.MappedStatus != nil {
		req.MappedStatus = *pb.MappedStatus
	}
	err = conn.Push(ctx, req)
	attempts := pb.Attempts + 1
	var ce *connector.Error
	switch {
	case err == nil:
		return e.settle(ctx, pb, t.CampaignID, pushback.StatusDELIVERED, "", attempts)
	case errors.Is(err, connector.ErrUnsupported):
		return e.settle(ctx, pb, t.CampaignID, pushback.StatusDEAD, "the provider cannot receive call results", attempts)
	case errors.Is(ctx.Err(), context.Canceled):
		return ctx.Err() // shutting down: River retries
	case (connector.IsTemporary(err) || ctx.Err() != nil) && attempts < MaxPushbackAttempts:
		// A temporary failure, or the attempt ran out of its Timeout.
		wait := e.retryDelay(attempts)
		if ra, ok := connector.IsRateLimited(err); ok && ra > wait {
			wait = ra
		}
		if err := e.retryLater(ctx, pb, t.CampaignID, err.Error(), attempts, wait); err != nil {
			return err
		}
		return river.JobSnooze(wait)
	case connector.IsTemporary(err) || ctx.Err() != nil:
		return e.settle(ctx, pb, t.CampaignID, pushback.StatusDEAD, fmt.Sprintf("gave up after %d attempts: %v", attempts, err), attempts)
	case errors.As(err, &ce):
		return e.settle(ctx, pb, t.CampaignID, pushback.StatusDEAD, err.Error(), attempts) // refused: retrying cannot help
	default:
		return e.settle(ctx, pb, t.CampaignID, pushback.StatusDEAD, err.Error(), attempts)
	}
}

// settle records a delivery's final answer.
func (e *Engine) settle(ctx context.Context, pb *ent.Pushback, campaignID pulid.ID, status pushback.Status, msg string, attempts int) error {
	ctx = context.WithoutCancel(ctx)
	upd := e.ent.Pushback.UpdateOneID(pb.ID).
		Where(pushback.StatusIn(pushback.StatusPENDING, pushback.StatusRETRYING)).
		SetStatus(status).SetAttempts(max(attempts, pb.Attempts)).ClearNextAttemptAt()
	if status == pushback.StatusDELIVERED {
		upd.SetDeliveredAt(time.Now().UTC()).ClearLastError()
	} else {
		upd.SetLastError(msg)
	}
	saved, err := upd.Save(ctx)
	if ent.IsNotFound(err) {
		return nil // settled meanwhile (a retry raced this attempt)
	}
	if err != nil {
		return err
	}
	if status == pushback.StatusDEAD {
		e.log.WarnContext(ctx, "pushback dead", slog.String("pushback", string(pb.ID)), slog.String("reason", msg))
	}
	e.publishPushback(ctx, saved, campaignID)
	return nil
}

func (e *Engine) retryLater(ctx context.Context, pb *ent.Pushback, campaignID pulid.ID, msg string, attempts int, wait time.Duration) error {
	saved, err := e.ent.Pushback.UpdateOneID(pb.ID).
		Where(pushback.StatusIn(pushback.StatusPENDING, pushback.StatusRETRYING)).
		SetStatus(pushback.StatusRETRYING).SetAttempts(attempts).SetLastError(msg).
		SetNextAttemptAt(time.Now().UTC().Add(wait)).
		Save(context.WithoutCancel(ctx))
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	e.publishPushback(ctx, saved, campaignID)
	return nil
}

func (e *Engine) publishPushback(ctx context.Context, pb *ent.Pushback, campaignID pulid.ID) {
	e.publish(ctx, progress.Notice{Kind: progress.KindPushback, ID: pb.ID, CampaignID: campaignID})
}
