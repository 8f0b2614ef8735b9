package config

import (
	"strings"
	"testing"
	"time"
)

func TestScreeningFromEnv(t *testing.T) {
	t.Parallel()
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}

	t.Run("unset: not configured", func(t *testing.T) {
		c, err := FromEnv(env(nil))
		if err != nil {
			t.Fatal(err)
		}
		if c.Screening.Configured() || c.Screening.String() != "not configured" {
			t.Fatalf("screening %+v is configured", c.Screening)
		}
		if c.Screening.BatchSize != 20 || c.Screening.Concurrency != 4 || c.Screening.Timeout != time.Minute {
			t.Fatalf("defaults %+v", c.Screening)
		}
	})

	t.Run("every variable is read; the key is not described", func(t *testing.T) {
		c, err := FromEnv(env(map[string]string{
			"INTAKE_SCREENING_URL":         "http://127.0.0.1:11434/v1",
			"INTAKE_SCREENING_MODEL":       "llama3.1",
			"INTAKE_SCREENING_API_KEY":     "sk-secret-123",
			"INTAKE_SCREENING_BATCH_SIZE":  "50",
			"INTAKE_SCREENING_CONCURRENCY": "8",
			"INTAKE_SCREENING_TIMEOUT":     "90s",
		}))
		if err != nil {
			t.Fatal(err)
		}
		want := Screening{URL: "http://127.0.0.1:11434/v1", Model: "llama3.1", APIKey: "sk-secret-123", BatchSize: 50, Concurrency: 8, Timeout: 90 * time.Second}
		if c.Screening != want {
			t.Fatalf("screening %+v, want %+v", c.Screening, want)
		}
		if s := c.Screening.String(); strings.Contains(s, "sk-secret") || !strings.Contains(s, "llama3.1") {
			t.Fatalf("String() = %q", s)
		}
	})

	for _, tc := range []struct {
		name string
		vars map[string]string
		want string // the variable the error names
	}{
		{"model without URL", map[string]string{"INTAKE_SCREENING_MODEL": "m"}, "INTAKE_SCREENING_URL"},
		{"key without URL", map[string]string{"INTAKE_SCREENING_API_KEY": "k"}, "INTAKE_SCREENING_URL"},
		{"URL without model", map[string]string{"INTAKE_SCREENING_URL": "https://api.example.com/v1"}, "INTAKE_SCREENING_MODEL"},
		{"relative URL", map[string]string{"INTAKE_SCREENING_URL": "api/v1", "INTAKE_SCREENING_MODEL": "m"}, "INTAKE_SCREENING_URL"},
		{"ftp URL", map[string]string{"INTAKE_SCREENING_URL": "ftp://h/v1", "INTAKE_SCREENING_MODEL": "m"}, "INTAKE_SCREENING_URL"},
		{"credentials in URL", map[string]string{"INTAKE_SCREENING_URL": "https://u:p@h/v1", "INTAKE_SCREENING_MODEL": "m"}, "INTAKE_SCREENING_URL"},
		{"query in URL", map[string]string{"INTAKE_SCREENING_URL": "https://h/v1?x=1", "INTAKE_SCREENING_MODEL": "m"}, "INTAKE_SCREENING_URL"},
		{"the endpoint itself", map[string]string{"INTAKE_SCREENING_URL": "https://h/v1/chat/completions", "INTAKE_SCREENING_MODEL": "m"}, "INTAKE_SCREENING_URL"},
		{"key with a newline", map[string]string{"INTAKE_SCREENING_URL": "https://h/v1", "INTAKE_SCREENING_MODEL": "m", "INTAKE_SCREENING_API_KEY": "k\nX: y"}, "INTAKE_SCREENING_API_KEY"},
		{"batch size 0", map[string]string{"INTAKE_SCREENING_BATCH_SIZE": "0"}, "INTAKE_SCREENING_BATCH_SIZE"},
		{"batch size 101", map[string]string{"INTAKE_SCREENING_BATCH_SIZE": "101"}, "INTAKE_SCREENING_BATCH_SIZE"},
		{"concurrency 65", map[string]string{"INTAKE_SCREENING_CONCURRENCY": "65"}, "INTAKE_SCREENING_CONCURRENCY"},
		{"timeout 10ms", map[string]string{"INTAKE_SCREENING_TIMEOUT": "10ms"}, "INTAKE_SCREENING_TIMEOUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromEnv(env(tc.vars))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want+":") {
				t.Fatalf("error %v, want one naming %s", err, tc.want)
			}
			if k := tc.vars["INTAKE_SCREENING_API_KEY"]; k != "" && strings.Contains(err.Error(), k) {
				t.Fatalf("error %q shows the API key", err)
			}
		})
	}
}
