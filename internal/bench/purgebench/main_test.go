//go:build unix

package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/schema/schematype"
)

// TestPurgeBench runs the command small: every expired issue is purged
// while the syncs run, the recent ones and the syncs' own survive, every
// statement was timed, the syncs made progress in both phases, the verdict
// is printed and the scratch database is dropped.
func TestPurgeBench(t *testing.T) {
	t.Parallel()
	server := dbtest.ServerURL(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	const n, recent = 2500, 40
	var stdout, stderr bytes.Buffer
	args := []string{"-n", fmt.Sprint(n), "-recent", fmt.Sprint(recent), "-sync-n", "300", "-syncs", "2", "-baseline", "1s",
		"-postgres", server, "-timeout", "2m"}
	res, err := run(ctx, args, &stdout, &stderr)
	if err != nil {
		t.Fatalf("purgebench %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	out := stdout.String()

	if res.Purged != n || res.ExpiredLeft != 0 || res.RecentLeft != recent {
		t.Errorf("purged %d (want %d), %d expired left (want 0), %d of %d recent left", res.Purged, n, res.ExpiredLeft, res.RecentLeft, recent)
	}
	if res.SyncIssues != res.SyncIssuesWanted || res.SyncIssues == 0 {
		t.Errorf("sync runs' issues %d, their counters %d: want equal and some", res.SyncIssues, res.SyncIssuesWanted)
	}
	// 1,000 rows a statement: 3 DELETEs delete everything, a fourth finds
	// nothing in the pass that ends the purge.
	if res.Statements != 4 || res.Passes != 2 || res.OtherStatements != 2 {
		t.Errorf("%d DELETE statements in %d passes, %d other statements; want 4 in 2, and 2", res.Statements, res.Passes, res.OtherStatements)
	}
	if !(res.StmtP50 > 0 && res.StmtP50 <= res.StmtP99 && res.StmtP99 <= res.StmtMax && res.StmtMax <= res.LongestStatement) {
		t.Errorf("statement durations p50 %s, p99 %s, max %s, longest %s", res.StmtP50, res.StmtP99, res.StmtMax, res.LongestStatement)
	}
	if res.Samples == 0 || res.SampleErrors != 0 {
		t.Errorf("pg_stat_activity sampled %d times, %d failed", res.Samples, res.SampleErrors)
	}
	// A purge this small may end before a sync reports a page, so only
	// the baseline must have seen progress.
	if res.BaselineRecords == 0 || res.BaselineRate <= 0 || res.SyncRuns == 0 || res.FailedRuns != 0 {
		t.Errorf("syncs: %d records alone (%.0f/s) in %d runs after the first, %d failed",
			res.BaselineRecords, res.BaselineRate, res.SyncRuns, res.FailedRuns)
	}
	verdict := "PASS: "
	if !res.Pass {
		verdict = "FAIL: "
	}
	for _, want := range []string{verdict, fmt.Sprintf("purge: %d import issues in 2 passes", n), "  DELETE statements  4: max ",
		"syncs during the purge: ", fmt.Sprintf("left: 0 issues past the retention; %d of %d seeded recent issues", recent, recent), res.Summary + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.HasPrefix(res.Database, "intake_purgebench_") || databaseExists(t, server, res.Database) {
		t.Errorf("scratch database %q was not dropped", res.Database)
	}
}

func TestFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-n", "0"}, "-n: 0 is not between"},
		{[]string{"-recent", "-1"}, "-recent: -1"},
		{[]string{"-sync-n", "5"}, "-sync-n: 5 is not between"},
		{[]string{"-syncs", "0"}, "-syncs: 0"},
		{[]string{"-syncs", "3", "-workers", "2"}, "-workers: 2 is not between -syncs (3)"},
		{[]string{"-provider", "TALENTION"}, `-provider: "TALENTION" is not one of`},
		{[]string{"-baseline", "0s"}, "-baseline: 0s"},
		{[]string{"-sample", "0s"}, "-sample: 0s"},
		{[]string{"-postgres", "mysql://127.0.0.1/x"}, "-postgres:"},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		_, err := parseFlags(tc.args, func(string) string { return "" }, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseFlags(%q) = %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
	o, err := parseFlags([]string{"-provider", "zvoove"}, func(string) string { return "" }, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.n != 1_000_000 || o.recent != 10_000 || o.syncN != 50_000 || o.syncs != 2 || o.provider != schematype.ProviderZvoove ||
		o.baseline != 30*time.Second || o.sample != 20*time.Millisecond || o.postgres != "postgres://postgres@127.0.0.1:5432/test?sslmode=disable" {
		t.Errorf("defaults %+v", o)
	}
}

// databaseExists reports whether the server has a database of that name.
func databaseExists(t *testing.T, server, name string) bool {
	t.Helper()
	db, err := sql.Open("postgres", server)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}
