package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Screening configures the language model that applies triggers'
// descriptions (package internal/screening). With URL empty no model is
// configured: triggers with a description report NOT_CONFIGURED.
type Screening struct {
	URL         string        // INTAKE_SCREENING_URL: the API's base URL, ending before /chat/completions
	Model       string        // INTAKE_SCREENING_MODEL: the model name; required with URL
	APIKey      string        // INTAKE_SCREENING_API_KEY: sent as a bearer token; a secret, never logged
	BatchSize   int           // INTAKE_SCREENING_BATCH_SIZE: records per request (default 20, 1..100)
	Concurrency int           // INTAKE_SCREENING_CONCURRENCY: requests at once per process (default 4, 1..64)
	Timeout     time.Duration // INTAKE_SCREENING_TIMEOUT: bound of one request (default 60s)
}

// Configured reports whether a screening model is configured.
func (s Screening) Configured() bool { return s.URL != "" }

// String describes the configuration without its API key.
func (s Screening) String() string {
	if !s.Configured() {
		return "not configured"
	}
	return fmt.Sprintf("model %q at %s, batches of %d, %d at once", s.Model, s.URL, s.BatchSize, s.Concurrency)
}

func screeningFromEnv(getenv func(string) string) (Screening, error) {
	s := Screening{
		URL:    strings.TrimSpace(getenv("INTAKE_SCREENING_URL")),
		Model:  strings.TrimSpace(getenv("INTAKE_SCREENING_MODEL")),
		APIKey: getenv("INTAKE_SCREENING_API_KEY"),
	}
	var err error
	if s.BatchSize, err = intVar(getenv, "INTAKE_SCREENING_BATCH_SIZE", 20, 1, 100); err != nil {
		return s, err
	}
	if s.Concurrency, err = intVar(getenv, "INTAKE_SCREENING_CONCURRENCY", 4, 1, 64); err != nil {
		return s, err
	}
	if s.Timeout, err = durationVar(getenv, "INTAKE_SCREENING_TIMEOUT", time.Minute, time.Second); err != nil {
		return s, err
	}
	if strings.ContainsAny(s.APIKey, "\r\n\x00") || strings.TrimSpace(s.APIKey) != s.APIKey {
		return s, fmt.Errorf("INTAKE_SCREENING_API_KEY: contains whitespace or control characters")
	}
	if s.URL == "" {
		if s.Model != "" || s.APIKey != "" {
			return s, fmt.Errorf("INTAKE_SCREENING_URL: required when INTAKE_SCREENING_MODEL or INTAKE_SCREENING_API_KEY is set")
		}
		return s, nil
	}
	u, err := url.Parse(s.URL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return s, fmt.Errorf("INTAKE_SCREENING_URL: %q must be an absolute http or https URL, such as https://api.openai.com/v1", s.URL)
	case u.User != nil:
		return s, fmt.Errorf("INTAKE_SCREENING_URL: must not carry credentials (use INTAKE_SCREENING_API_KEY)")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return s, fmt.Errorf("INTAKE_SCREENING_URL: %q must not have a query or fragment", s.URL)
	case strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/chat/completions"):
		return s, fmt.Errorf("INTAKE_SCREENING_URL: %q must end before /chat/completions", s.URL)
	}
	if s.Model == "" {
		return s, fmt.Errorf("INTAKE_SCREENING_MODEL: required with INTAKE_SCREENING_URL")
	}
	return s, nil
}
