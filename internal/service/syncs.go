package service

import (
	"context"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/syncrun"
	"github.com/intake/intake/internal/pulid"
)

// Opener returns the service's connector opener.
func (s *Service) Opener() *Opener { return s.opener }

// SetSyncer connects the sync engine, which is built after the service
// because it opens connectors through it.
func (s *Service) SetSyncer(sy Syncer) { s.syncs = sy }

// TestSync starts a sync of an enabled trigger now, or returns the run of
// that trigger that is already queued or running.
func (s *Service) TestSync(ctx context.Context, triggerID pulid.ID) (*ent.SyncRun, error) {
	if err := checkID("triggerID", triggerID, "trg", "trigger"); err != nil {
		return nil, err
	}
	if s.syncs == nil {
		return nil, &Error{Code: "NOT_AVAILABLE", Message: "this process runs no sync engine"}
	}
	return s.syncs.StartRun(ctx, triggerID, syncrun.KindTEST)
}

// CancelSyncRun cancels a queued or running run; a finished run is
// returned unchanged.
func (s *Service) CancelSyncRun(ctx context.Context, id pulid.ID) (*ent.SyncRun, error) {
	if err := checkID("id", id, "run", "sync run"); err != nil {
		return nil, err
	}
	if s.syncs == nil {
		return nil, &Error{Code: "NOT_AVAILABLE", Message: "this process runs no sync engine"}
	}
	return s.syncs.CancelRun(ctx, id)
}

// NotFound returns a NOT_FOUND error for field.
func NotFound(field, what string) *Error { return notFound(field, what) }

// Invalid returns a VALIDATION_FAILED error for field.
func Invalid(field, format string, args ...any) *Error { return invalid(field, format, args...) }

// RunEnded reports whether a sync run's status is final: SUCCEEDED,
// PARTIAL, FAILED or CANCELLED.
func RunEnded(s syncrun.Status) bool {
	switch s {
	case syncrun.StatusSUCCEEDED, syncrun.StatusPARTIAL, syncrun.StatusFAILED, syncrun.StatusCANCELLED:
		return true
	}
	return false
}
