package service

import (
	"errors"
	"fmt"
	"time"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/schema"
	"github.com/intake/intake/sync/connector"
)

// Code is the machine-readable kind of an error (GraphQL extensions.code).
type Code string

const (
	CodeUnauthenticated Code = "UNAUTHENTICATED"
	CodeForbidden       Code = "FORBIDDEN"
	CodeNotFound        Code = "NOT_FOUND"
	CodeValidation      Code = "VALIDATION_FAILED"
	CodeConflict        Code = "CONFLICT"
	CodeIntegration     Code = "INTEGRATION_ERROR"
	CodeRateLimited     Code = "RATE_LIMITED"
	CodeInternal        Code = "INTERNAL_SERVER_ERROR"
	// CodeNotAvailable: the process serving the request runs no sync
	// engine (a server always does; the CLI does not).
	CodeNotAvailable Code = "NOT_AVAILABLE"
)

// Error is an error a client can act on.
type Error struct {
	Code Code
	// Field is the input path of the offending value for VALIDATION_FAILED,
	// e.g. "input.statusMapping.success".
	Field   string
	Message string
	// RetryAfter is set for RATE_LIMITED.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

func invalid(field, format string, args ...any) *Error {
	return &Error{Code: CodeValidation, Field: field, Message: fmt.Sprintf(format, args...)}
}

func notFound(field, what string) *Error {
	return &Error{Code: CodeNotFound, Field: field, Message: what + " not found"}
}

// Classify turns any error into an *Error: client errors keep their meaning,
// and everything else becomes INTERNAL_SERVER_ERROR (whose details must not
// reach the client).
func Classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var ce *connector.Error
	var cred *connector.CredentialError
	var nf *ent.NotFoundError
	switch {
	case errors.As(err, &ce):
		if wait, ok := connector.IsRateLimited(err); ok {
			return &Error{Code: CodeRateLimited, Message: ce.Error(), RetryAfter: wait, Err: err}
		}
		return &Error{Code: CodeIntegration, Message: ce.Error(), Err: err}
	case errors.As(err, &cred):
		return &Error{Code: CodeValidation, Field: "input.credentials." + cred.Key, Message: cred.Message, Err: err}
	case errors.As(err, &nf):
		return &Error{Code: CodeNotFound, Message: "not found", Err: err}
	case errors.Is(err, schema.ErrReadOnly):
		return &Error{Code: CodeForbidden, Message: "this API key may not change data", Err: err}
	case errors.Is(err, schema.ErrNoViewer):
		return &Error{Code: CodeUnauthenticated, Message: "an API key is required", Err: err}
	case ent.IsConstraintError(err):
		return &Error{Code: CodeConflict, Message: "the change conflicts with existing data", Err: err}
	}
	return &Error{Code: CodeInternal, Message: "internal error", Err: err}
}
