package config

import (
	"strings"
	"testing"
)

// The rate budget paces requests unless switched off.
func TestRateBudget(t *testing.T) {
	for value, want := range map[string]bool{"": true, "true": true, "1": true, "false": false, "0": false} {
		c, err := FromEnv(func(k string) string { return map[string]string{"INTAKE_RATE_BUDGET": value}[k] })
		if err != nil || c.RateBudget != want {
			t.Errorf("INTAKE_RATE_BUDGET=%q: %v, %v; want %v", value, c.RateBudget, err, want)
		}
	}
	_, err := FromEnv(func(k string) string { return map[string]string{"INTAKE_RATE_BUDGET": "sometimes"}[k] })
	if err == nil || !strings.Contains(err.Error(), "INTAKE_RATE_BUDGET") {
		t.Errorf("INTAKE_RATE_BUDGET=sometimes: %v, want an error naming the variable", err)
	}
}
