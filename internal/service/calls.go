package service

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/callresult"
	"github.com/intake/intake/internal/pulid"
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
	Outcome         callresult.Outcome
	Transcript      *string
	QuestionResults []schematype.QuestionResult
	CalledAt        time.Time
	DurationSeconds *int
	IdempotencyKey  *string
}

// CallResult is a validated call result to record.
type CallResult struct {
	ContactID       pulid.ID
	Outcome         callresult.Outcome
	Transcript      string
	QuestionResults []schematype.QuestionResult
	CalledAt        time.Time
	DurationSeconds int
	IdempotencyKey  string // "" = none
}

// Calls records call results and delivers them (the job queue).
type Calls interface {
	RecordCallResult(ctx context.Context, c CallResult) (*ent.CallResult, error)
	RetryPushback(ctx context.Context, id pulid.ID) (*ent.Pushback, error)
}

// RecordCallResult validates a call result reported by the calling platform
// and records it with its pushback, once per idempotency key.
func (s *Service) RecordCallResult(ctx context.Context, in RecordCallResultInput) (*ent.CallResult, error) {
	c, err := validateCallResult(in, time.Now())
	if err != nil {
		return nil, err
	}
	if s.calls == nil {
		return nil, &Error{Code: "NOT_AVAILABLE", Message: "this process runs no job queue"}
	}
	return s.calls.RecordCallResult(ctx, c)
}

// RetryPushback queues a DEAD pushback for delivery again.
func (s *Service) RetryPushback(ctx context.Context, id pulid.ID) (*ent.Pushback, error) {
	if err := checkID("id", id, "pbk", "pushback"); err != nil {
		return nil, err
	}
	if s.calls == nil {
		return nil, &Error{Code: "NOT_AVAILABLE", Message: "this process runs no job queue"}
	}
	return s.calls.RetryPushback(ctx, id)
}

// SetCalls connects the job queue that records and delivers call results.
func (s *Service) SetCalls(c Calls) { s.calls = c }

func validateCallResult(in RecordCallResultInput, now time.Time) (CallResult, error) {
	c := CallResult{ContactID: in.ContactID, Outcome: in.Outcome, CalledAt: in.CalledAt.UTC()}
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
