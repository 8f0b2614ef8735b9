package config

import (
	"strings"
	"testing"
	"time"
)

func TestAuditRetention(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  time.Duration
		bad   bool
	}{
		{value: "", want: 365 * 24 * time.Hour},
		{value: "90d", want: 90 * 24 * time.Hour},
		{value: " 7D ", want: 7 * 24 * time.Hour},
		{value: "720h", want: 720 * time.Hour},
		{value: "1h", want: time.Hour},
		{value: "0", want: 0},
		{value: "forever", want: 0},
		{value: "Forever", want: 0},
		{value: "0d", bad: true},
		{value: "-5d", bad: true},
		{value: "90", bad: true},
		{value: "30m", bad: true},
		{value: "-1h", bad: true},
		{value: "1.5d", bad: true},
		{value: "99999d", bad: true},
		{value: "never", bad: true},
	} {
		c, err := FromEnv(func(k string) string {
			if k == "INTAKE_AUDIT_RETENTION" {
				return tc.value
			}
			return ""
		})
		switch {
		case tc.bad && err == nil:
			t.Errorf("%q: accepted as %s, want an error", tc.value, c.AuditRetention)
		case !tc.bad && err != nil:
			t.Errorf("%q: %v", tc.value, err)
		case !tc.bad && c.AuditRetention != tc.want:
			t.Errorf("%q: %s, want %s", tc.value, c.AuditRetention, tc.want)
		}
	}
}

// The data retentions read like the audit trail's, each from its own
// variable, with their own defaults.
func TestDataRetention(t *testing.T) {
	c, err := FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if c.IssueRetention != 90*24*time.Hour || c.TranscriptRetention != 365*24*time.Hour {
		t.Fatalf("defaults: issues %s, transcripts %s", c.IssueRetention, c.TranscriptRetention)
	}
	c, err = FromEnv(func(k string) string {
		return map[string]string{"INTAKE_RETENTION_IMPORT_ISSUES": "30d", "INTAKE_RETENTION_TRANSCRIPTS": "forever"}[k]
	})
	if err != nil || c.IssueRetention != 30*24*time.Hour || c.TranscriptRetention != 0 {
		t.Fatalf("set: issues %s, transcripts %s, %v", c.IssueRetention, c.TranscriptRetention, err)
	}
	for _, name := range []string{"INTAKE_RETENTION_IMPORT_ISSUES", "INTAKE_RETENTION_TRANSCRIPTS"} {
		_, err := FromEnv(func(k string) string {
			if k == name {
				return "10m"
			}
			return ""
		})
		if err == nil || !strings.HasPrefix(err.Error(), name+":") {
			t.Errorf("%s=10m: error %v, want one naming the variable", name, err)
		}
	}
}
