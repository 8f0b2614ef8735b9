package engine

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/integration"
	"github.com/intake/intake/ent/pushback"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/progress"
	"github.com/intake/intake/sync/ratebudget"
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

// QueuePushback queues the delivery of pushback id in the caller's
// transaction tx, so the pushback and its job commit together. retry marks
// the job of a retryPushback, which River would otherwise take for a
// duplicate of the pushback's earlier job while that one is still held as
// running. After the transaction commits, PushbackQueued tells subscribers.
func (e *Engine) QueuePushback(ctx context.Context, tx *sql.Tx, id pulid.ID, retry bool) error {
	args := pushbackArgs{PushbackID: id}
	if retry {
		args.Retry = time.Now().UnixNano()
	}
	if _, err := e.river.InsertTx(ctx, tx, args, nil); err != nil {
		return fmt.Errorf("queueing the pushback: %w", err)
	}
	return nil
}

// PushbackQueued tells subscribers that pushback id of a campaign was
// queued; call it after the transaction that queued it committed.
func (e *Engine) PushbackQueued(ctx context.Context, id, campaignID pulid.ID) {
	e.publishPushback(ctx, id, campaignID)
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
	return w.e.deliver(ctx, job.Args.PushbackID, job.Attempt)
}

// delivery is what one delivery attempt reads: the pushback, its trigger,
// the trigger's integration, the call result and its contact.
type delivery struct {
	pb              ent.Pushback
	campaignID      pulid.ID
	pushbackEnabled bool
	// failedBefore: an attempt failed before (a retryPushback starts the
	// count of attempts anew but keeps the last error).
	failedBefore bool
	integration  ent.Integration
	req          connector.PushRequest
}

// loadDelivery reads a delivery in one query; nil when the pushback is gone
// (its campaign was deleted).
func (e *Engine) loadDelivery(ctx context.Context, id pulid.ID) (*delivery, error) {
	q := `SELECT p.organization_id, p.status, p.attempts, p.last_error IS NOT NULL, p.mapped_status, p.next_attempt_at, p.trigger_id,
		t.campaign_id, t.pushback_enabled, i.id, i.provider, i.status, i.credentials, i.rate_limit,
		ct.external_id, ct.attributes, c.outcome, c.transcript, c.question_results, c.called_at, c.duration_seconds
	FROM pushbacks p
	JOIN triggers t ON t.id = p.trigger_id
	JOIN integrations i ON i.id = t.integration_id
	JOIN call_results c ON c.id = p.call_result_id
	JOIN contacts ct ON ct.id = c.contact_id
	WHERE p.id = ` + e.ph(1)
	d := &delivery{pb: ent.Pushback{ID: id}}
	var mappedStatus sql.NullString
	var nextAttempt sql.NullTime
	var attrs, questions, rateLimit []byte
	var duration int64
	err := e.db.QueryRowContext(ctx, q, id).Scan(
		&d.pb.OrganizationID, &d.pb.Status, &d.pb.Attempts, &d.failedBefore, &mappedStatus, &nextAttempt, &d.pb.TriggerID,
		&d.campaignID, &d.pushbackEnabled, &d.integration.ID, &d.integration.Provider, &d.integration.Status, &d.integration.Credentials, &rateLimit,
		&d.req.Contact.ExternalID, &attrs, &d.req.Outcome, &d.req.Transcript, &questions, &d.req.CalledAt, &duration)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading pushback %s: %w", id, err)
	}
	d.integration.OrganizationID = d.pb.OrganizationID
	// The integration's own rate limit paces its deliveries as its syncs.
	if len(rateLimit) > 0 && string(rateLimit) != "null" {
		if err := json.Unmarshal(rateLimit, &d.integration.RateLimit); err != nil {
			return nil, fmt.Errorf("reading pushback %s: the integration's rate limit: %w", id, err)
		}
	}
	if mappedStatus.Valid {
		d.pb.MappedStatus = &mappedStatus.String
		d.req.MappedStatus = mappedStatus.String
	}
	if nextAttempt.Valid {
		d.pb.NextAttemptAt = &nextAttempt.Time
	}
	if err := json.Unmarshal(attrs, &d.req.Contact.Attributes); err != nil {
		return nil, fmt.Errorf("reading pushback %s: the contact's attributes: %w", id, err)
	}
	if len(questions) > 0 {
		if err := json.Unmarshal(questions, &d.req.QuestionResults); err != nil {
			return nil, fmt.Errorf("reading pushback %s: the question results: %w", id, err)
		}
	}
	d.req.Key = "intake-" + string(id)
	d.req.Duration = time.Duration(duration) * time.Second
	return d, nil
}

// deliver makes one delivery attempt; jobAttempt is River's count of the
// job's runs, above 1 after a failed or snoozed run and after a rescue
// from a process that died mid-delivery. Any sign of an earlier attempt
// makes it a redelivery, which looks for its own earlier writes first.
func (e *Engine) deliver(ctx context.Context, id pulid.ID, jobAttempt int) error {
	d, err := e.loadDelivery(ctx, id)
	if d == nil || err != nil {
		return err
	}
	d.req.Redelivery = d.pb.Attempts > 0 || d.failedBefore || jobAttempt > 1
	pb := &d.pb
	if pb.Status == pushback.StatusDELIVERED || pb.Status == pushback.StatusDEAD || pb.Status == pushback.StatusCANCELLED {
		return nil
	}
	ctx = viewer.ForOrg(ctx, pb.OrganizationID)
	if pb.NextAttemptAt != nil && time.Until(*pb.NextAttemptAt) > time.Second {
		return river.JobSnooze(time.Until(*pb.NextAttemptAt))
	}
	// The rules hold at delivery time too.
	switch {
	case !d.pushbackEnabled:
		return e.settle(ctx, pb, d.campaignID, pushback.StatusDEAD, "not delivered: pushback was switched off on the trigger", 0)
	case d.integration.Status != integration.StatusCONNECTED:
		return e.settle(ctx, pb, d.campaignID, pushback.StatusDEAD,
			fmt.Sprintf("not delivered: the integration is %s", d.integration.Status), 0)
	}
	conn, err := e.open(&d.integration)
	if err != nil {
		return e.settle(ctx, pb, d.campaignID, pushback.StatusDEAD, "opening the integration: "+err.Error(), 0)
	}
	pctx := ratebudget.WithCaller(ctx, ratebudget.Pushback, string(pb.TriggerID), nil)
	pctx = ratebudget.WithPrecondition(pctx, func(ctx context.Context) error { return e.stillDue(ctx, pb.ID) })
	err = conn.Push(pctx, d.req)
	attempts := pb.Attempts + 1
	var ce *connector.Error
	switch {
	case errors.Is(err, errPushbackNotDue):
		return nil // cancelled (its contact erased) or settled while waiting: nothing more to send
	case err == nil:
		return e.settle(ctx, pb, d.campaignID, pushback.StatusDELIVERED, "", attempts)
	case errors.Is(err, connector.ErrUnsupported):
		return e.settle(ctx, pb, d.campaignID, pushback.StatusDEAD, "the provider cannot receive call results", attempts)
	case errors.Is(ctx.Err(), context.Canceled):
		return ctx.Err() // shutting down: River retries
	case errors.Is(err, ratebudget.ErrNoGrant):
		// The attempt's time ran out while a request waited for the
		// account's rate budget (many pushbacks queue behind each other):
		// no failure of the external system, so it does not count. The
		// next attempt looks for what this one may have written first.
		const again = time.Second
		if err := e.retryLater(ctx, pb, d.campaignID, "waited for the rate budget: "+err.Error(), pb.Attempts, again); err != nil {
			return err
		}
		return river.JobSnooze(again)
	case (connector.IsTemporary(err) || ctx.Err() != nil) && attempts < MaxPushbackAttempts:
		// A temporary failure, or the attempt ran out of its Timeout.
		wait := e.retryDelay(attempts)
		if ra, ok := connector.IsRateLimited(err); ok && ra > wait {
			wait = ra
		}
		if err := e.retryLater(ctx, pb, d.campaignID, err.Error(), attempts, wait); err != nil {
			return err
		}
		return river.JobSnooze(wait)
	case connector.IsTemporary(err) || ctx.Err() != nil:
		return e.settle(ctx, pb, d.campaignID, pushback.StatusDEAD, fmt.Sprintf("gave up after %d attempts: %v", attempts, err), attempts)
	case errors.As(err, &ce):
		return e.settle(ctx, pb, d.campaignID, pushback.StatusDEAD, err.Error(), attempts) // refused: retrying cannot help
	default:
		return e.settle(ctx, pb, d.campaignID, pushback.StatusDEAD, err.Error(), attempts)
	}
}

// settle records a delivery's final answer, unless the pushback was settled
// meanwhile (a retry raced this attempt).
func (e *Engine) settle(ctx context.Context, pb *ent.Pushback, campaignID pulid.ID, status pushback.Status, msg string, attempts int) error {
	ctx = context.WithoutCancel(ctx)
	from := []pushback.Status{pushback.StatusPENDING, pushback.StatusRETRYING}
	if status == pushback.StatusDELIVERED {
		// The contact was erased while this delivery was on its way: the
		// external system has the result all the same, and says so.
		from = append(from, pushback.StatusCANCELLED)
	}
	upd := e.ent.Pushback.Update().
		Where(pushback.ID(pb.ID), pushback.StatusIn(from...)).
		SetStatus(status).SetAttempts(max(attempts, pb.Attempts)).ClearNextAttemptAt()
	if status == pushback.StatusDELIVERED {
		upd.SetDeliveredAt(time.Now().UTC()).ClearLastError()
	} else {
		upd.SetLastError(msg)
	}
	if n, err := upd.Save(ctx); err != nil || n == 0 {
		return err
	}
	e.obs.PushbackSettled(string(status))
	if status == pushback.StatusDEAD {
		e.log.WarnContext(ctx, "pushback dead", slog.String("pushback", string(pb.ID)), slog.String("reason", msg))
	}
	e.publishPushback(ctx, pb.ID, campaignID)
	return nil
}

func (e *Engine) retryLater(ctx context.Context, pb *ent.Pushback, campaignID pulid.ID, msg string, attempts int, wait time.Duration) error {
	n, err := e.ent.Pushback.Update().
		Where(pushback.ID(pb.ID), pushback.StatusIn(pushback.StatusPENDING, pushback.StatusRETRYING)).
		SetStatus(pushback.StatusRETRYING).SetAttempts(attempts).SetLastError(msg).
		SetNextAttemptAt(time.Now().UTC().Add(wait)).
		Save(context.WithoutCancel(ctx))
	if err != nil || n == 0 {
		return err
	}
	e.publishPushback(ctx, pb.ID, campaignID)
	return nil
}

func (e *Engine) publishPushback(ctx context.Context, id, campaignID pulid.ID) {
	e.publish(ctx, progress.Notice{Kind: progress.KindPushback, ID: id, CampaignID: campaignID})
}

// errPushbackNotDue ends a delivery whose pushback is no longer PENDING or
// RETRYING when one of its requests is about to go.
var errPushbackNotDue = errors.New("the pushback is no longer due")

// stillDue returns errPushbackNotDue unless the pushback is still to be delivered:
// checked right before each of a delivery's requests is sent, so that a
// contact erased while the delivery waited for the rate budget sends
// nothing more.
func (e *Engine) stillDue(ctx context.Context, id pulid.ID) error {
	st, err := e.ent.Pushback.Query().Where(pushback.ID(id)).Select(pushback.FieldStatus).String(viewer.SystemContext(ctx))
	if err != nil {
		return err
	}
	if st != string(pushback.StatusPENDING) && st != string(pushback.StatusRETRYING) {
		return errPushbackNotDue
	}
	return nil
}
