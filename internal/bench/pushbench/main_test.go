package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/schema/schematype"
)

// TestPushbenchSmoke runs the benchmark small, for each provider that
// takes pushbacks: every call result is delivered once, and the figures
// are printed.
func TestPushbenchSmoke(t *testing.T) {
	t.Parallel()
	server := dbtest.ServerURL(t) // skips (fails in CI) without PostgreSQL
	for _, tc := range []struct {
		provider schematype.ProviderKey
		broker   string
		mapped   bool
		perCall  int    // effects per delivery: a note/call, and a status with a mapping
		fail     string // -fail
	}{
		{schematype.ProviderTalention, "postgres", true, 2, "0"},
		{schematype.ProviderCompleet, "local", false, 1, "0.2"},
		{schematype.ProviderHubSpot, "postgres", true, 2, "0.2"},
	} {
		// One after the other: each holds a pool of up to 20 connections.
		t.Run(string(tc.provider)+" delivers every call result once", func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			res, err := run(context.Background(), []string{
				"-n", "200", "-provider", string(tc.provider), "-workers", "8", "-callers", "4", "-broker", tc.broker, "-postgres", server,
				"-fail", tc.fail,
			}, &stdout, &stderr)
			if err != nil {
				t.Fatalf("pushbench: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			if res.N != 200 || res.Delivered != 200 || res.Dead != 0 || res.Workers != 8 || res.Mapped != tc.mapped {
				t.Fatalf("result %+v", res)
			}
			if res.WantEffects != 200*tc.perCall || res.Effects != res.WantEffects {
				t.Fatalf("%d effects in the fake, want %d (%d per delivery)", res.Effects, 200*tc.perCall, tc.perCall)
			}
			if res.Seconds <= 0 || res.Rate <= 0 || res.RecordRate <= 0 || res.P50 <= 0 || res.P95 < res.P50 || res.Max < res.P95 {
				t.Fatalf("implausible figures: %+v", res)
			}
			if !strings.Contains(stdout.String(), res.Summary) || !strings.Contains(res.Summary, "deliveries/s") ||
				!strings.Contains(res.Summary, "8 workers") {
				t.Fatalf("summary %q not printed as such:\n%s", res.Summary, stdout.String())
			}
		})
	}
	t.Run("refuses bad flags", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{
			{"-n", "0"}, {"-provider", "ZVOOVE"}, {"-workers", "0"}, {"-callers", "0"}, {"-broker", "redis"},
			{"-postgres", "mysql://x"}, {"-fail", "0.6"}, {"-fail", "-0.1"}, {"extra"},
		} {
			var out bytes.Buffer
			if _, err := run(context.Background(), args, &out, &out); err == nil {
				t.Errorf("%q was accepted", args)
			}
		}
	})
}
