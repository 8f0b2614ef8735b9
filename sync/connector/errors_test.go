package connector

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/intake/intake/schema/schematype"
)

func TestErrorFormat(t *testing.T) {
	t.Parallel()
	cause := errors.New("dial tcp 127.0.0.1:9: connect: connection refused")
	for _, tc := range []struct {
		name string
		err  *Error
		want string
	}{
		{
			"with a status",
			&Error{Provider: schematype.ProviderHubSpot, Op: "GET /crm/v3/lists/search", StatusCode: 401, Message: "Authentication credentials not found"},
			"HUBSPOT: GET /crm/v3/lists/search: HTTP 401: Authentication credentials not found",
		},
		{
			"without a status",
			&Error{Provider: schematype.ProviderZvoove, Op: "GET /api/public/v1/Bewerbung", Message: "request timed out", Err: context.DeadlineExceeded},
			"ZVOOVE: GET /api/public/v1/Bewerbung: request timed out",
		},
		{
			"with the cause when there is no message",
			&Error{Provider: schematype.ProviderCompleet, Op: "POST /notes", Err: cause},
			"COMPLEET: POST /notes: " + cause.Error(),
		},
		{
			"with an empty message",
			&Error{Provider: schematype.ProviderTalention, Op: "GET /jobs", StatusCode: 500},
			"TALENTION: GET /jobs: HTTP 500: ",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
		})
	}

	t.Run("unwraps to its cause", func(t *testing.T) {
		t.Parallel()
		err := fmt.Errorf("fetching page: %w", &Error{Provider: schematype.ProviderZvoove, Op: "GET /x", Err: cause})
		if !errors.Is(err, cause) {
			t.Error("errors.Is does not find the cause")
		}
		var e *Error
		if !errors.As(err, &e) || e.Op != "GET /x" {
			t.Errorf("errors.As = %+v", e)
		}
	})
}

func TestIsRateLimited(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		err      error
		wantWait time.Duration
		want     bool
	}{
		{"429 with Retry-After", &Error{StatusCode: 429, Temporary: true, RetryAfter: 30 * time.Second}, 30 * time.Second, true},
		{"429 without Retry-After", &Error{StatusCode: 429, Temporary: true}, 0, true},
		{"wrapped 429", fmt.Errorf("syncing: %w", &Error{StatusCode: 429, RetryAfter: time.Minute}), time.Minute, true},
		{"503 with Retry-After", &Error{StatusCode: 503, Temporary: true, RetryAfter: time.Minute}, 0, false},
		{"no status", &Error{Temporary: true}, 0, false},
		{"another error", errors.New("429 too many requests"), 0, false},
		{"nil", nil, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wait, ok := IsRateLimited(tc.err)
			if wait != tc.wantWait || ok != tc.want {
				t.Errorf("IsRateLimited = %s, %v; want %s, %v", wait, ok, tc.wantWait, tc.want)
			}
		})
	}
}

func TestIsTemporary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"temporary", &Error{StatusCode: 503, Temporary: true}, true},
		{"wrapped temporary", fmt.Errorf("fetching: %w", &Error{Temporary: true}), true},
		{"permanent", &Error{StatusCode: 400}, false},
		{"context cancelled", fmt.Errorf("ZVOOVE: GET /x: %w", context.Canceled), false},
		{"credential error", &CredentialError{Key: "apiKey", Message: "is required"}, false},
		{"unsupported", ErrUnsupported, false},
		{"nil", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := IsTemporary(tc.err); got != tc.want {
				t.Errorf("IsTemporary = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCheckCredentialKeys(t *testing.T) {
	t.Parallel()
	allowed := []string{"baseURL", "mandantID", "apiKey", "clientID", "clientSecret", "tokenURL"}
	required := []string{"baseURL", "mandantID"}

	for _, tc := range []struct {
		name     string
		creds    Credentials
		required []string
		wantKey  string
		wantMsg  string
	}{
		{"accepts known keys", Credentials{"baseURL": "https://x", "mandantID": "m", "apiKey": "k"}, required, "", ""},
		{"accepts an empty optional key", Credentials{"baseURL": "https://x", "mandantID": "m", "tokenURL": ""}, required, "", ""},
		{"names an unknown key", Credentials{"baseURL": "https://x", "mandantID": "m", "password": "p"}, required, "password", "unknown key"},
		{"names a missing required key", Credentials{"baseURL": "https://x"}, required, "mandantID", "is required"},
		{"treats an empty required key as missing", Credentials{"baseURL": "https://x", "mandantID": ""}, required, "mandantID", "is required"},
		{"names an unknown key before a missing one", Credentials{"zzz": "1"}, required, "zzz", "unknown key"},
		{"names the first unknown key in sorted order", Credentials{"b": "1", "a": "2", "c": "3", "baseURL": "https://x"}, required, "a", "unknown key"},
		{"names the first missing key in sorted order", Credentials{"apiKey": "k"}, []string{"mandantID", "clientSecret", "baseURL"}, "baseURL", "is required"},
		{"accepts nil credentials without required keys", nil, nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for range 50 { // map iteration order varies between runs
				err := CheckCredentialKeys(tc.creds, allowed, tc.required)
				if tc.wantKey == "" {
					if err != nil {
						t.Fatalf("CheckCredentialKeys: %v", err)
					}
					continue
				}
				var ce *CredentialError
				if !errors.As(err, &ce) || ce.Key != tc.wantKey || ce.Message != tc.wantMsg {
					t.Fatalf("CheckCredentialKeys = %v, want key %q: %s", err, tc.wantKey, tc.wantMsg)
				}
			}
		})
	}

	t.Run("never puts values in the error", func(t *testing.T) {
		t.Parallel()
		err := CheckCredentialKeys(Credentials{"secretToken": "hunter2"}, allowed, nil)
		if want := "credentials.secretToken: unknown key"; err == nil || err.Error() != want {
			t.Errorf("Error() = %v, want %q", err, want)
		}
	})
}

func TestCredentialErrorFormat(t *testing.T) {
	t.Parallel()
	err := &CredentialError{Key: "baseURL", Message: "must be an absolute http(s) URL"}
	if want := "credentials.baseURL: must be an absolute http(s) URL"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
}
