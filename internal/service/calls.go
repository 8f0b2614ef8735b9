package service

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/ent/dialect"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/callresult"
	"github.com/intake/intake/ent/pushback"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
)

// Limits of a call result.
const (
	MaxTranscript      = 200_000
	MaxQuestionResults = 200
	MaxQuestionText    = 2000
	MaxCallSeconds     = 24 * 3600
	MaxIdempotencyKey  = 200
)

// RecordCallResultInput is recordCallResult's input.
type RecordCallResultInput struct {
	ContactID       pulid.ID
	Outcome         schematype.CallOutcome
	Transcript      *string
	QuestionResults []schematype.QuestionResult
	CalledAt        time.Time
	DurationSeconds *int
	IdempotencyKey  *string
	// DoNotCall: the person asked not to be called again; the contact's
	// number goes onto the organization's do-not-call list.
	DoNotCall *bool
}

// callResult is a validated call result to record.
type callResult struct {
	ContactID       pulid.ID
	Outcome         schematype.CallOutcome
	Transcript      string
	QuestionResults []schematype.QuestionResult
	CalledAt        time.Time
	DurationSeconds int
	IdempotencyKey  string // "" = none
}

// RecordCallResult validates a call result reported by the calling platform
// and records it, once per idempotency key: a key recorded before (or
// racing in) returns the first result. When the contact's campaign has a
// trigger with pushback on, the result's Pushback and the job delivering it
// are created in the same transaction.
func (s *Service) RecordCallResult(ctx context.Context, in RecordCallResultInput) (*ent.CallResult, error) {
	c, err := validateCallResult(in, time.Now())
	if err != nil {
		return nil, err
	}
	if s.jobs == nil {
		return nil, errNoEngine
	}
	var res *ent.CallResult
	var pb *ent.Pushback
	var target pushbackTarget
	err = s.store.InTx(ctx, func(tx *sql.Tx, cl *ent.Client) error {
		pb = nil // from an earlier attempt, if the transaction runs again
		var err error
		if target, err = s.pushbackTarget(ctx, tx, c.ContactID); err != nil {
			return err
		}
		create := cl.CallResult.Create().
			SetContactID(c.ContactID).SetOutcome(c.Outcome).SetTranscript(c.Transcript).
			SetQuestionResults(c.QuestionResults).SetCalledAt(c.CalledAt).SetDurationSeconds(c.DurationSeconds)
		if c.IdempotencyKey != "" {
			create.SetIdempotencyKey(c.IdempotencyKey)
		}
		if res, err = create.Save(ctx); err != nil {
			return err
		}
		if in.DoNotCall != nil && *in.DoNotCall {
			if err := s.doNotCallFromCall(ctx, tx, c.ContactID); err != nil {
				return err
			}
		}
		if target.triggerID == "" {
			return nil // no pushback trigger: the result stays in the campaign
		}
		pbc := cl.Pushback.Create().SetCallResultID(res.ID).SetTriggerID(target.triggerID).SetStatus(pushback.StatusPENDING)
		if target.mapping != nil {
			pbc.SetMappedStatus(mapped(target.mapping, c.Outcome))
		}
		if pb, err = pbc.Save(ctx); err != nil {
			return err
		}
		return s.jobs.QueuePushback(ctx, tx, pb.ID, false)
	})
	if err != nil && c.IdempotencyKey != "" && ent.IsConstraintError(err) {
		// The key was recorded before (or raced in): the first result is
		// the answer.
		prev, perr := s.db.CallResult.Query().Where(callresult.IdempotencyKey(c.IdempotencyKey)).Only(ctx)
		if perr == nil {
			return prev, nil
		}
		if !ent.IsNotFound(perr) {
			return nil, perr
		}
	}
	if err != nil {
		return nil, err
	}
	if pb != nil {
		s.jobs.PushbackQueued(ctx, pb.ID, target.campaignID)
	}
	// Entities created inside the transaction are bound to it: read again.
	return s.db.CallResult.Get(ctx, res.ID)
}

// pushbackTarget is where a contact's call results go: its campaign and,
// when one of the campaign's triggers pushes results back, that trigger and
// its status mapping.
type pushbackTarget struct {
	campaignID pulid.ID
	triggerID  pulid.ID
	mapping    *ent.StatusMapping
}

// pushbackTarget reads a contact's pushback target in one query, scoped to
// the caller's organization. A campaign has at most one pushback trigger.
func (s *Service) pushbackTarget(ctx context.Context, tx *sql.Tx, contactID pulid.ID) (pushbackTarget, error) {
	var t pushbackTarget
	v := viewer.FromContext(ctx)
	if v == nil {
		return t, errors.New("recording a call result: the request has no organization")
	}
	// The contact's row is locked first (PostgreSQL): an erasure of it
	// either commits before, and the call is refused, or waits for this
	// transaction and then erases the call result too.
	lock := ""
	if s.store.Dialect == dialect.Postgres {
		lock = " FOR UPDATE"
	}
	var erased bool
	err := tx.QueryRowContext(ctx, `SELECT erased_at IS NOT NULL FROM contacts WHERE id = `+s.ph(1)+` AND organization_id = `+s.ph(2)+lock,
		contactID, v.OrgID).Scan(&erased)
	if errors.Is(err, sql.ErrNoRows) {
		return t, notFound("input.contactID", "contact")
	}
	if err != nil {
		return t, fmt.Errorf("reading the contact: %w", err)
	}
	if erased {
		return t, invalid("input.contactID", "the contact was erased: no call result can be recorded for it")
	}
	var trig, success, partial, failure, notAnswered sql.NullString
	err = tx.QueryRowContext(ctx, `SELECT ct.campaign_id, t.id, m.success, m.partial, m.failure, m.not_answered
	FROM contacts ct
	LEFT JOIN triggers t ON t.campaign_id = ct.campaign_id AND t.pushback_enabled
	LEFT JOIN status_mappings m ON m.trigger_id = t.id
	WHERE ct.id = `+s.ph(1)+` AND ct.organization_id = `+s.ph(2), contactID, v.OrgID).
		Scan(&t.campaignID, &trig, &success, &partial, &failure, &notAnswered)
	if err != nil {
		return t, fmt.Errorf("finding the contact's pushback trigger: %w", err)
	}
	t.triggerID = pulid.ID(trig.String)
	if success.Valid {
		t.mapping = &ent.StatusMapping{Success: success.String, Partial: partial.String, Failure: failure.String, NotAnswered: notAnswered.String}
	}
	return t, nil
}

// mapped is the status name the mapping gives an outcome.
func mapped(m *ent.StatusMapping, o schematype.CallOutcome) string {
	switch o {
	case schematype.OutcomeSuccess:
		return m.Success
	case schematype.OutcomePartial:
		return m.Partial
	case schematype.OutcomeFailure:
		return m.Failure
	}
	return m.NotAnswered
}

// RetryPushback queues a DEAD pushback for delivery again, from a fresh
// count of attempts. Only a DEAD pushback can be retried: one still
// pending or retrying is already on its way, and a delivered one is done.
func (s *Service) RetryPushback(ctx context.Context, id pulid.ID) (*ent.Pushback, error) {
	if err := checkID("id", id, "pbk", "pushback"); err != nil {
		return nil, err
	}
	if s.jobs == nil {
		return nil, errNoEngine
	}
	var campaignID pulid.ID
	err := s.store.InTx(ctx, func(tx *sql.Tx, c *ent.Client) error {
		cur, err := c.Pushback.Query().Where(pushback.ID(id)).WithTrigger().Only(ctx)
		if ent.IsNotFound(err) {
			return notFound("id", "pushback")
		}
		if err != nil {
			return err
		}
		if cur.Status != pushback.StatusDEAD {
			return invalid("id", "only a DEAD pushback can be retried; this one is %s", cur.Status)
		}
		if cur.Edges.Trigger != nil {
			campaignID = cur.Edges.Trigger.CampaignID
		}
		if err := c.Pushback.UpdateOneID(id).SetStatus(pushback.StatusPENDING).SetAttempts(0).ClearNextAttemptAt().Exec(ctx); err != nil {
			return err
		}
		return s.jobs.QueuePushback(ctx, tx, id, true)
	})
	if err != nil {
		return nil, err
	}
	s.jobs.PushbackQueued(ctx, id, campaignID)
	return s.db.Pushback.Get(ctx, id)
}

// ph is the i-th (1-based) placeholder of the database's dialect.
func (s *Service) ph(i int) string {
	if s.store.Dialect == dialect.Postgres {
		return "$" + strconv.Itoa(i)
	}
	return "?"
}

func validateCallResult(in RecordCallResultInput, now time.Time) (callResult, error) {
	c := callResult{ContactID: in.ContactID, Outcome: in.Outcome, CalledAt: in.CalledAt.UTC()}
	if err := checkID("input.contactID", in.ContactID, "con", "contact"); err != nil {
		return c, err
	}
	if err := callresult.OutcomeValidator(in.Outcome); err != nil {
		return c, invalid("input.outcome", "must be SUCCESS, PARTIAL, FAILURE or NOT_ANSWERED")
	}
	if in.Transcript != nil {
		if n := utf8.RuneCountInString(*in.Transcript); n > MaxTranscript {
			return c, invalid("input.transcript", "must be at most %d characters (got %d)", MaxTranscript, n)
		}
		c.Transcript = *in.Transcript
	}
	if len(in.QuestionResults) > MaxQuestionResults {
		return c, invalid("input.questionResults", "at most %d question results", MaxQuestionResults)
	}
	for i, q := range in.QuestionResults {
		field := fmt.Sprintf("input.questionResults[%d]", i)
		if strings.TrimSpace(q.Question) == "" {
			return c, invalid(field+".question", "must not be empty")
		}
		if utf8.RuneCountInString(q.Question) > MaxQuestionText {
			return c, invalid(field+".question", "must be at most %d characters", MaxQuestionText)
		}
		if utf8.RuneCountInString(q.Answer) > MaxQuestionText {
			return c, invalid(field+".answer", "must be at most %d characters", MaxQuestionText)
		}
	}
	c.QuestionResults = append([]schematype.QuestionResult{}, in.QuestionResults...)
	if in.CalledAt.IsZero() {
		return c, invalid("input.calledAt", "is required")
	}
	if in.CalledAt.After(now.Add(5 * time.Minute)) {
		return c, invalid("input.calledAt", "is in the future")
	}
	if in.DurationSeconds != nil {
		if *in.DurationSeconds < 0 || *in.DurationSeconds > MaxCallSeconds {
			return c, invalid("input.durationSeconds", "must be between 0 and %d", MaxCallSeconds)
		}
		c.DurationSeconds = *in.DurationSeconds
	}
	if in.IdempotencyKey != nil {
		k := strings.TrimSpace(*in.IdempotencyKey)
		if k == "" || len(k) > MaxIdempotencyKey {
			return c, invalid("input.idempotencyKey", "must be 1 to %d characters", MaxIdempotencyKey)
		}
		c.IdempotencyKey = k
	}
	return c, nil
}
