package main

import (
	"bytes"
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/sync/sandbox/hubspotfake"
)

// TestRatebenchSmoke runs the benchmark small, on two replicas against the
// enforcing HubSpot fake: every run and every pushback completes, the
// fake's counts add up to the requests the work needs, and the figures and
// the targets' lines are printed.
func TestRatebenchSmoke(t *testing.T) {
	t.Parallel()
	server := dbtest.ServerURL(t) // skips (fails in CI) without PostgreSQL
	const triggers, contacts, pushbacks = 3, 400, 60
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	res, err := run(ctx, []string{
		"-triggers", "3", "-contacts", "400", "-pushbacks", "60", "-postgres", server, "-timeout", "3m",
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("ratebench: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	if res.Runs != triggers || res.RunsSucceeded != triggers || res.Fetched != triggers*contacts || res.Imported == 0 {
		t.Errorf("runs %d (%d SUCCEEDED), fetched %d, imported %d; want %d SUCCEEDED fetching %d each",
			res.Runs, res.RunsSucceeded, res.Fetched, res.Imported, triggers, contacts)
	}
	if res.Delivered != pushbacks || res.Dead != 0 || res.CallsInFake != pushbacks {
		t.Errorf("%d delivered, %d dead, %d calls in the fake; want %d delivered once each", res.Delivered, res.Dead, res.CallsInFake, pushbacks)
	}
	if sum(res.RunsByReplica) != triggers || sum(res.DeliveredByReplica) != pushbacks || len(res.RunsByReplica) != 2 {
		t.Errorf("by replica: runs %v, deliveries %v", res.RunsByReplica, res.DeliveredByReplica)
	}
	// Each run: two search pages of 200 and one page of archived contacts;
	// each pushback: the call and the lead status.
	if want := triggers * 2; res.Searches != want {
		t.Errorf("%d searches served, want %d", res.Searches, want)
	}
	// A delivery that failed on 429s is delivered again, looking for its
	// call first: more requests, but never fewer.
	if want := triggers*3 + pushbacks*2; res.Served < want || res.Refused == 0 && res.Served != want {
		t.Errorf("%d requests served (%d refused), want %d", res.Served, res.Refused, want)
	}
	if res.GrantsByClass["pushback"] < pushbacks*2 || res.GrantsByClass["background"] < triggers*3 || res.GrantsByClass["interactive"] != 0 {
		t.Errorf("grants by class %v", res.GrantsByClass)
	}
	if want := minSeconds(res.Served, res.Searches, hubspotfake.FreeAccount); res.MinSeconds != want || want != 10 {
		t.Errorf("minimum %.1fs, want %.1fs (one window after the first 100 requests)", res.MinSeconds, want)
	}
	if res.Seconds < res.MinSeconds || res.Ratio != res.Seconds/res.MinSeconds {
		t.Errorf("wall %.2fs against a minimum of %.1fs, ratio %.3f", res.Seconds, res.MinSeconds, res.Ratio)
	}
	if res.PushWaitRequests < pushbacks*2 || res.PushWaitMaxLE == 0 || res.Latency <= 0 || res.Latency < res.LatencyP50 {
		t.Errorf("pushback waits not measured: %+v", res)
	}
	for _, want := range []string{"ratio ", "429 share ", "pushback budget wait: ", res.Summary + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "PASS ") + strings.Count(out, "FAIL "); n != 3 {
		t.Errorf("%d PASS/FAIL lines, want 3:\n%s", n, out)
	}
	db, err := sql.Open("postgres", server)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pg_database WHERE datname = $1`, res.Database).Scan(&n); err != nil || n != 0 {
		t.Errorf("scratch database %s left behind (%d, %v)", res.Database, n, err)
	}
}

func sum(xs []int) int {
	t := 0
	for _, x := range xs {
		t += x
	}
	return t
}

func TestMinSeconds(t *testing.T) {
	t.Parallel()
	lim := hubspotfake.FreeAccount
	for _, tc := range []struct {
		served, searches int
		want             float64
	}{
		{0, 0, 0}, {100, 4, 0}, {101, 4, 10}, {200, 0, 10}, {2530, 500, 250}, {300, 500, 124}, {120, 5, 10}, {50, 41, 10},
	} {
		if got := minSeconds(tc.served, tc.searches, lim); got != tc.want {
			t.Errorf("minSeconds(%d, %d) = %v, want %v", tc.served, tc.searches, got, tc.want)
		}
	}
}

func TestHistogramBound(t *testing.T) {
	t.Parallel()
	text := metricSet{
		{"intake_rate_budget_wait_seconds_bucket", map[string]string{"class": "pushback", "le": "1"}, 3},
		{"intake_rate_budget_wait_seconds_bucket", map[string]string{"class": "pushback", "le": "5"}, 7},
		{"intake_rate_budget_wait_seconds_bucket", map[string]string{"class": "pushback", "le": "60"}, 7},
		{"intake_rate_budget_wait_seconds_bucket", map[string]string{"class": "pushback", "le": "+Inf"}, 7},
		{"intake_rate_budget_wait_seconds_count", map[string]string{"class": "pushback"}, 7},
		{"intake_rate_budget_wait_seconds_sum", map[string]string{"class": "pushback"}, 9},
		{"intake_rate_budget_wait_seconds_count", map[string]string{"class": "background"}, 100},
	}
	h := text.histogram("intake_rate_budget_wait_seconds", map[string]string{"class": "pushback"})
	if h.count != 7 || h.sum != 9 || h.maxBound() != 5 {
		t.Errorf("histogram %+v, bound %v; want 7 observations of at most 5s", h, h.maxBound())
	}
	var d histogram
	d.add(h, 1)
	d.add(histogram{buckets: map[float64]float64{1: 3, 5: 3, 60: 3}, count: 3}, -1)
	if d.count != 4 || d.maxBound() != 5 {
		t.Errorf("difference %+v, bound %v", d, d.maxBound())
	}
	h.buckets[60] = 6 // one beyond 60s
	h.buckets[5] = 6
	if b := h.maxBound(); b != -1 {
		t.Errorf("bound %v with one observation beyond every finite bucket, want -1", b)
	}
	if (&histogram{}).maxBound() != 0 {
		t.Error("an empty histogram has a bound")
	}
}

// TestFlags refuses what the command cannot run.
func TestFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-triggers", "0"}, {"-contacts", "5"}, {"-pushbacks", "-1"}, {"-replicas", "0"}, {"-replicas", "9"},
		{"-workers", "0"}, {"-pushback-workers", "0"}, {"-callers", "0"}, {"-record-over", "-1s"}, {"-timeout", "0"},
		{"-postgres", "mysql://x"}, {"extra"},
	} {
		var out bytes.Buffer
		if _, err := run(context.Background(), args, &out, &out); err == nil {
			t.Errorf("%q was accepted", args)
		}
	}
}
