//go:build unix

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/intake/intake/internal/dbtest"
)

// TestMain lets the test binary be the server process too: the tool
// re-executes itself (os.Executable) with -serve.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == serveFlag {
		if err := serveChild(os.Args[2:], os.Stdin, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "load -serve:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestLoadSmoke runs every phase with tiny numbers: the seeding works
// through the API, both targets answer the whole mix without errors, the
// idle subscribers all receive their event, and every progress subscriber
// follows its run to the end.
func TestLoadSmoke(t *testing.T) {
	server := dbtest.ServerURL(t) // skips (fails in CI) without PostgreSQL
	var stdout, stderr bytes.Buffer
	res, err := run(context.Background(), []string{
		"-postgres", server, "-duration", "1s", "-concurrency", "4", "-campaigns", "2", "-seed-size", "40",
		"-idle", "60", "-subscribers", "45", "-watchers", "2", "-sync-size", "3000",
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("load: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	t.Logf("stdout:\n%s", stdout.String())
	if res.Contacts == 0 || res.Issues == 0 {
		t.Errorf("seeded %d contacts and %d import issues", res.Contacts, res.Issues)
	}

	q := res.Queries
	for _, s := range []loadStats{q.Intake, q.Baseline, q.Open} {
		if s.Errors != 0 || s.Rate <= 0 || s.P50 <= 0 || s.P99 < s.P50 || s.Max < s.P99 {
			t.Errorf("%s: implausible figures %+v", s.Target, s)
		}
	}
	for op := range numOps {
		if q.Intake.ByOp[op].Requests == 0 && op != opConfigure {
			t.Errorf("Intake answered no %s", opNames[op])
		}
	}
	for _, s := range []loadStats{q.Intake, q.Baseline} {
		if runtime.GOOS == "linux" && (!s.CPUMeasured || s.CPUPerReq <= 0 || s.CPU < s.CPUPerReq) {
			t.Errorf("%s: CPU time %s, %s per request (measured: %t)", s.Target, s.CPU, s.CPUPerReq, s.CPUMeasured)
		}
		if !s.AllocMeasured || s.AllocsPerReq < 1 || s.AllocBytesPerReq < s.AllocsPerReq {
			t.Errorf("%s: %.0f allocations, %.0f bytes per request (measured: %t)", s.Target, s.AllocsPerReq, s.AllocBytesPerReq, s.AllocMeasured)
		}
	}
	if !regexp.MustCompile(`cpu [0-9.]+ ms/req, [0-9]+ allocs [0-9.]+ KB/req\n`).MatchString(stdout.String()) {
		t.Errorf("no CPU time and allocations per request printed")
	}
	if q.Percent <= 0 || q.Open.Scheduled <= 0 {
		t.Errorf("ratio %.1f%%, open loop at %.1f req/s", q.Percent, q.Open.Scheduled)
	}

	idle := res.Idle
	if idle.Subscriptions != 60 || idle.Delivered != 60 || idle.GoAfter <= idle.GoroutinesBefore || idle.RSSAfter <= 0 {
		t.Errorf("idle: %+v", idle)
	}

	if len(res.Progress) != 2 {
		t.Fatalf("%d progress rounds", len(res.Progress))
	}
	for i, want := range []int{1, 45} {
		r := res.Progress[i]
		if r.Subscribers != want || r.Completed != want || r.SawDone != want || r.Fetched != 3000 || r.MinMsgs < 1 {
			t.Errorf("progress round %d: %+v", i+1, r)
		}
		if r.Samples > 0 && (r.P50 <= 0 || r.Max < r.P99) {
			t.Errorf("progress round %d: implausible latencies %+v", i+1, r)
		}
	}
	if res.Progress[1].Samples == 0 || res.Progress[1].WatchersSawDone != 2 {
		t.Errorf("progress: no latency measured, or watchers missed the end: %+v", res.Progress[1])
	}

	if len(res.Summary) != 3 {
		t.Fatalf("summary lines %q", res.Summary)
	}
	for _, line := range res.Summary {
		if !strings.Contains(stdout.String(), line) {
			t.Errorf("summary %q not printed", line)
		}
	}
}

func TestLoadRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-concurrency", "0"}, {"-idle", "0"}, {"-subscribers", "0"}, {"-sync-size", "1"}, {"-phase", "soak"},
		{"-duration", "0s"}, {"-postgres", "mysql://x"}, {"-peer", "hasura"}, {"-peer", "postgraphile", "-only", "configureTrigger"},
		{"extra"},
	} {
		var out bytes.Buffer
		if _, err := run(context.Background(), args, &out, &out); err == nil {
			t.Errorf("%q was accepted", args)
		} else if !strings.Contains(err.Error(), strings.TrimPrefix(args[0], "extra")) {
			t.Errorf("%q: the error %q does not name the flag", args, err)
		}
	}
}
