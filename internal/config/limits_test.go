package config

import (
	"strings"
	"testing"
	"time"
)

func TestLimitsFromEnv(t *testing.T) {
	t.Parallel()
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}

	t.Run("unset: server defaults, rate limited at 20 a second", func(t *testing.T) {
		c, err := FromEnv(env(nil))
		if err != nil {
			t.Fatal(err)
		}
		if want := (Limits{RatePerSecond: 20}); c.Limits != want {
			t.Fatalf("limits %+v, want %+v", c.Limits, want)
		}
	})

	t.Run("every variable is read", func(t *testing.T) {
		c, err := FromEnv(env(map[string]string{
			"INTAKE_MAX_COMPLEXITY":          "900",
			"INTAKE_MAX_DEPTH":               "8",
			"INTAKE_MAX_ALIASES":             "5",
			"INTAKE_MAX_BODY_BYTES":          "65536",
			"INTAKE_MAX_WS_MESSAGE_BYTES":    "4096",
			"INTAKE_REQUEST_TIMEOUT":         "5s",
			"INTAKE_RATE_LIMIT":              "2.5",
			"INTAKE_RATE_BURST":              "7",
			"INTAKE_MAX_CONCURRENT_REQUESTS": "6",
		}))
		if err != nil {
			t.Fatal(err)
		}
		want := Limits{
			Complexity: 900, Depth: 8, Aliases: 5, BodyBytes: 65536, MessageBytes: 4096,
			Timeout: 5 * time.Second, RatePerSecond: 2.5, RateBurst: 7, Concurrent: 6,
		}
		if c.Limits != want {
			t.Fatalf("limits %+v, want %+v", c.Limits, want)
		}
	})

	t.Run("INTAKE_RATE_LIMIT=0 turns the rate limit off", func(t *testing.T) {
		c, err := FromEnv(env(map[string]string{"INTAKE_RATE_LIMIT": "0"}))
		if err != nil {
			t.Fatal(err)
		}
		if c.Limits.RatePerSecond != 0 {
			t.Fatalf("rate %v, want 0", c.Limits.RatePerSecond)
		}
	})

	t.Run("a bad value is an error naming its variable", func(t *testing.T) {
		for name, value := range map[string]string{
			"INTAKE_MAX_COMPLEXITY":          "0",
			"INTAKE_MAX_DEPTH":               "deep",
			"INTAKE_MAX_ALIASES":             "-1",
			"INTAKE_MAX_BODY_BYTES":          "100",
			"INTAKE_MAX_WS_MESSAGE_BYTES":    "1.5",
			"INTAKE_REQUEST_TIMEOUT":         "1ms",
			"INTAKE_RATE_LIMIT":              "-3",
			"INTAKE_RATE_BURST":              "0",
			"INTAKE_MAX_CONCURRENT_REQUESTS": "0",
		} {
			_, err := FromEnv(env(map[string]string{name: value}))
			if err == nil || !strings.HasPrefix(err.Error(), name+": ") {
				t.Errorf("%s=%s: error %v, want one naming %s", name, value, err, name)
			}
		}
	})
}
