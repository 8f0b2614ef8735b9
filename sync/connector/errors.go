package connector

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/intake/intake/schema/schematype"
)

var (
	// ErrUnsupported is returned by operations a provider does not offer.
	ErrUnsupported = errors.New("not supported by this provider")
	// ErrUnauthorized wraps every refused webhook signature.
	ErrUnauthorized = errors.New("webhook signature refused")
	// ErrBadCursor is returned for a page cursor the connector never issued.
	ErrBadCursor = errors.New("invalid cursor")
)

// Error is a failure of the external system, or of reaching it.
type Error struct {
	Provider schematype.ProviderKey
	// Op is the request that failed, e.g. "GET /crm/v3/lists/search".
	Op string
	// StatusCode is the HTTP status, 0 when no response arrived.
	StatusCode int
	// Message is the provider's own message, or the transport error.
	Message string
	// Temporary is true when retrying later may succeed (429, 5xx,
	// timeouts, connection errors).
	Temporary bool
	// RetryAfter is the wait the provider asked for (429/503), if any.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if e.StatusCode != 0 {
		return fmt.Sprintf("%s: %s: HTTP %d: %s", e.Provider, e.Op, e.StatusCode, msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.Provider, e.Op, msg)
}

func (e *Error) Unwrap() error { return e.Err }

// mayHaveTakenEffect reports whether the write that failed with e may have
// taken effect: no answer arrived (the request may have been sent), the
// server failed (5xx, 408) after perhaps writing, or a 2xx answer was
// unreadable. A 429 and other 4xx answers refuse the write.
func (e *Error) mayHaveTakenEffect() bool {
	c := e.StatusCode
	return c == 0 || c == 408 || c >= 500 || c >= 200 && c < 300
}

// IsRateLimited reports whether err is the external system refusing for too
// many requests, and how long it asked to wait.
func IsRateLimited(err error) (time.Duration, bool) {
	var e *Error
	if errors.As(err, &e) && e.StatusCode == 429 {
		return e.RetryAfter, true
	}
	return 0, false
}

// IsTemporary reports whether retrying err later may succeed.
func IsTemporary(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Temporary
}

// CredentialError names a missing, unknown or malformed credential key.
type CredentialError struct {
	Key     string
	Message string
}

func (e *CredentialError) Error() string { return fmt.Sprintf("credentials.%s: %s", e.Key, e.Message) }

// CheckCredentialKeys refuses keys not in allowed and requires those in
// required to be non-empty, naming the first bad key in sorted order.
func CheckCredentialKeys(creds Credentials, allowed, required []string) error {
	for _, k := range sortedKeys(creds) {
		if !contains(allowed, k) {
			return &CredentialError{Key: k, Message: "unknown key"}
		}
	}
	for _, k := range slices.Sorted(slices.Values(required)) {
		if creds[k] == "" {
			return &CredentialError{Key: k, Message: "is required"}
		}
	}
	return nil
}
