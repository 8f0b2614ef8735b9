//go:build unix

package main

import (
	"bytes"
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/intake/intake/ent/syncrun"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/schema/schematype"
)

// TestScreenBench runs the command on a tiny data set with a fast model
// fake: the run succeeds with screening applied, its counters add up, the
// model was asked and counted tokens, the bounds are worked out and the
// scratch database is dropped.
func TestScreenBench(t *testing.T) {
	t.Parallel()
	server := dbtest.ServerURL(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	args := []string{"-n", "200", "-latency", "20ms", "-batch", "5", "-concurrency", "2", "-postgres", server, "-timeout", "90s"}
	res, err := run(ctx, args, &stdout, &stderr)
	if err != nil {
		t.Fatalf("screenbench %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	out := stdout.String()

	if res.Status != syncrun.StatusSUCCEEDED || res.RunKind != syncrun.KindTEST || res.Screening != schematype.ScreeningActive {
		t.Errorf("run %s (%s), screening %s; want SUCCEEDED (TEST), ACTIVE; error %q", res.Status, res.RunKind, res.Screening, res.RunError)
	}
	if res.N != 200 || res.Fetched != 200 || res.Provider != schematype.ProviderTalention {
		t.Errorf("N %d, fetched %d from %s; want 200 of 200 from TALENTION", res.N, res.Fetched, res.Provider)
	}
	if sum := res.Imported + res.Duplicates + res.InvalidPhone + res.FilteredOut + res.Failed + res.ScreenedOut; sum != res.Fetched {
		t.Errorf("imported + issues = %d, fetched %d: %+v", sum, res.Fetched, res)
	}
	if res.Contacts != res.Imported {
		t.Errorf("campaign holds %d contacts, imported %d", res.Contacts, res.Imported)
	}
	if res.Imported == 0 || res.ScreenedOut == 0 {
		t.Errorf("imported %d, screened out %d: the description should match some records and not others", res.Imported, res.ScreenedOut)
	}
	if res.Sent <= 0 || res.Sent > res.Screened || res.Tokens <= 0 || res.Requests < (res.Sent+4)/5 {
		t.Errorf("sent %d of %d screened records in %d requests, %d tokens; want some sent, at most the screened, in batches of at most 5, tokens counted",
			res.Sent, res.Screened, res.Requests, res.Tokens)
	}
	if res.MaxInFlight < 1 || res.MaxInFlight > 2 {
		t.Errorf("at most %d requests in flight, want 1 or 2 (concurrency 2)", res.MaxInFlight)
	}
	// B1 = 200/(5*2) * 20ms = 0.4s; B2 = ceil(ceil(sent/5)/2) * 20ms.
	b2 := float64(((res.Sent+4)/5+1)/2) * 0.020
	if abs(res.B1-0.4) > 1e-9 || abs(res.B2-b2) > 1e-9 || res.Seconds <= 0 || abs(res.Ratio1-res.Seconds/res.B1) > 1e-9 {
		t.Errorf("B1 %.4f (want 0.4), B2 %.4f (want %.4f), elapsed %.3f, ratio %.4f", res.B1, res.B2, b2, res.Seconds, res.Ratio1)
	}
	if res.TargetMet != (res.Ratio1 <= target) {
		t.Errorf("target met %t with elapsed/B1 %.3f", res.TargetMet, res.Ratio1)
	}
	verdict := "target missed"
	if res.TargetMet {
		verdict = "target met"
	}
	for _, want := range []string{"  N              200\n", "  fetched        200\n", "elapsed/B1", "elapsed/B2", "tokens per screened record", verdict, res.Summary + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.HasPrefix(res.Database, "intake_screenbench_") || databaseExists(t, server, res.Database) {
		t.Errorf("scratch database %q was not dropped", res.Database)
	}
}

func TestFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-n", "5"}, "-n: 5 is not between"},
		{[]string{"-provider", "COMPLEET"}, `-provider: "COMPLEET" is not one of`},
		{[]string{"-batch", "101"}, "-batch: 101"},
		{[]string{"-concurrency", "0"}, "-concurrency: 0"},
		{[]string{"-latency", "-1s"}, "-latency: -1s is negative"},
		{[]string{"-description", "a b c"}, "-description:"},
		{[]string{"-postgres", "mysql://127.0.0.1/x"}, "-postgres:"},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		var stderr bytes.Buffer
		_, err := parseFlags(tc.args, func(string) string { return "" }, &stderr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseFlags(%q) = %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
	o, err := parseFlags(nil, func(string) string { return "" }, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.n != 20000 || o.provider != schematype.ProviderTalention || o.latency != 300*time.Millisecond ||
		o.batch != 20 || o.concurrency != 4 || !o.importUnsure || o.description != defaultDescription {
		t.Errorf("defaults %+v", o)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
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
