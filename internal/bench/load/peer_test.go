//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/intake/intake/internal/dbtest"
)

func TestPeerFlag(t *testing.T) {
	env := func(string) string { return "" }
	for _, tc := range []struct {
		args []string
		peer string
	}{
		{nil, ""},
		{[]string{"-peer", "postgraphile"}, "postgraphile"},
		{[]string{"-peer", "postgraphile", "-only", "nodeLookup"}, "postgraphile"},
		{[]string{"-peer", "postgraphile", "-phase", "idle"}, "postgraphile"},
		{[]string{"-peer", "intake"}, "intake"},
	} {
		var out bytes.Buffer
		o, err := parseFlags(tc.args, env, &out)
		if err != nil || o.peer != tc.peer {
			t.Errorf("%q: peer %q, %v; want %q", tc.args, o.peer, err, tc.peer)
		}
	}
	for _, args := range [][]string{
		{"-peer", "hasura"}, {"-peer", "PostGraphile"}, {"-peer", "postgraphile", "-only", "configureTrigger"},
		{"-peer", "intake", "-only", "configureTrigger"},
	} {
		var out bytes.Buffer
		if _, err := parseFlags(args, env, &out); err == nil || !strings.Contains(err.Error(), "-peer") {
			t.Errorf("%q: %v, want an error naming -peer", args, err)
		}
	}
}

// TestPeerSkippedWithoutNode: without node or npm on PATH the peer is
// skipped with one line, and no error, before anything is installed.
func TestPeerSkippedWithoutNode(t *testing.T) {
	for _, tc := range []struct {
		missing, want string
	}{
		{"node", "peer: skipped: node not found on PATH\n"},
		{"npm", "peer: skipped: npm not found on PATH\n"},
	} {
		var looked []string
		lookPath := func(name string) (string, error) {
			looked = append(looked, name)
			if name == tc.missing {
				return "", errors.New("executable file not found in $PATH")
			}
			return "/usr/bin/" + name, nil
		}
		var stdout, stderr bytes.Buffer
		p, err := startPeer(context.Background(), peerConfig{kind: peerPostGraphile, dbURL: "postgres://nowhere/x", poolSize: 20, lookPath: lookPath}, &stdout, &stderr)
		if p != nil || err != nil {
			t.Errorf("without %s: peer %v, error %v; want neither", tc.missing, p, err)
		}
		if stdout.String() != tc.want || stderr.Len() > 0 {
			t.Errorf("without %s: printed %q and %q; want %q", tc.missing, stdout.String(), stderr.String(), tc.want)
		}
		if looked[len(looked)-1] != tc.missing {
			t.Errorf("without %s: looked for %q", tc.missing, looked)
		}
	}
}

func TestReadWeights(t *testing.T) {
	if w := readWeights(opWeights); w[opConfigure] != 0 || w[opCampaigns] != opWeights[opCampaigns] || w[opContact] != opWeights[opContact] {
		t.Errorf("readWeights(%v) = %v", opWeights, w)
	}
	for op := range numOps {
		if op != opConfigure && postgraphileQueries[op] == "" {
			t.Errorf("no PostGraphile query for %s", opNames[op])
		}
	}
}

func TestParseStatCPU(t *testing.T) {
	// Fields 14 and 15 are utime and stime, in ticks of 10ms; the command
	// name may hold spaces and parentheses.
	line := "4242 (a) b (c) S 1 4242 4242 0 -1 4194304 23912 0 0 0 116 7 0 0 20 0 7 0 224137 11775827968 20253\n"
	d, err := parseStatCPU(line)
	if err != nil || d != 1230*time.Millisecond {
		t.Errorf("parseStatCPU: %s, %v; want 1.23s", d, err)
	}
	for _, bad := range []string{"", "4242 (node) S 1 2 3", "4242 (node) S 1 4242 4242 0 -1 4194304 23912 0 0 0 x 7 0"} {
		if _, err := parseStatCPU(bad); err == nil {
			t.Errorf("parseStatCPU(%q) succeeded", bad)
		}
	}
	if runtime.GOOS != "linux" {
		return
	}
	// Spin until the kernel has counted 100ms of this process's CPU time
	// (getrusage), however long a busy machine takes to give it, and check
	// that procCPU saw as much: a wall-clock spin gets less than its
	// length of CPU time when other processes share the processors.
	rusageCPU := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	before, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	from := rusageCPU()
	spent := time.Duration(0)
	for deadline := time.Now().Add(30 * time.Second); spent < 100*time.Millisecond && time.Now().Before(deadline); {
		spent = rusageCPU() - from
	}
	after, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if spent < 100*time.Millisecond {
		t.Fatalf("the process got only %s of CPU time in 30s", spent)
	}
	// /proc counts in ticks of 10ms: allow two of them.
	if got := after - before; got < spent-20*time.Millisecond {
		t.Errorf("procCPU counted %s while getrusage counted %s", got, spent)
	}
}

// TestSummarize: answers of Intake's and PostGraphile's shapes with the
// same rows summarize alike; another row or count does not.
func TestSummarize(t *testing.T) {
	intake := `{"node": {"id": "cmp_1", "name": "c", "contacts": {"totalCount": 668, "pageInfo": {"hasNextPage": true, "endCursor": "x"},
		"edges": [{"cursor": "a", "node": {"id": "con_1", "attributes": {"id": 7}}}, {"cursor": "b", "node": {"id": "con_2"}}]}}}`
	peer := `{"campaignById": {"id": "cmp_1", "name": "c", "contactsByCampaignId": {"totalCount": 668, "pageInfo": {"hasNextPage": true, "endCursor": "y"},
		"edges": [{"cursor": "c", "node": {"id": "con_2"}}, {"cursor": "d", "node": {"id": "con_1", "attributes": {"id": 7}}}]}}}`
	si, err := summarize(json.RawMessage(intake))
	if err != nil {
		t.Fatal(err)
	}
	sp, err := summarize(json.RawMessage(peer))
	if err != nil {
		t.Fatal(err)
	}
	if !si.equal(sp) || len(si.ids) != 3 || len(si.counts) != 1 {
		t.Errorf("%s and %s", si, sp)
	}
	for _, other := range []string{
		strings.Replace(peer, "con_2", "con_3", 1),
		strings.Replace(peer, "668", "667", 1),
		`{"campaignById": null}`,
	} {
		so, err := summarize(json.RawMessage(other))
		if err != nil || si.equal(so) {
			t.Errorf("%s summarized as %s (%v)", other, so, err)
		}
	}
}

func TestPrintPeer(t *testing.T) {
	st := func(name string, rate float64, p99, cpu time.Duration) loadStats {
		return loadStats{Target: name, Rate: rate, Requests: 100, P99: p99, CPUPerReq: cpu, CPUMeasured: cpu > 0}
	}
	p := &peerResult{Name: "PostGraphile", Version: postgraphileVersion, Weights: readWeights(opWeights),
		Intake: st("Intake", 300, 30*time.Millisecond, 3*time.Millisecond), Peer: st("PostGraphile", 200, 40*time.Millisecond, 0),
		ByOp: []peerOpResult{
			{Op: "campaignList", Intake: st("Intake", 100, 50*time.Millisecond, 5*time.Millisecond), Peer: st("PostGraphile", 400, 10*time.Millisecond, time.Millisecond)},
			{Op: "nodeLookup", Intake: st("Intake", 2000, 5*time.Millisecond, time.Millisecond/2), Peer: st("PostGraphile", 1000, 7*time.Millisecond, time.Millisecond)},
		}}
	var out bytes.Buffer
	printPeer(&out, p)
	for _, want := range []string{
		"closed loop Intake", "closed loop PostGraphile", "cpu 3.00 ms/req", "cpu n/a",
		"Intake req/s  PostGraphile req/s  Intake/PostGraphile",
		"campaignList                100                 400                 0.25      50.0ms            10.0ms          5.00ms                1.00ms\n",
		"nodeLookup                 2000                1000                 2.00",
		"reads of the mix            300                 200                 1.50      30.0ms            40.0ms          3.00ms                   n/a\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in\n%s", want, out.String())
		}
	}
	if got := peerSummary(p); !strings.Contains(got, "Intake 300 req/s = 1.50x PostGraphile "+postgraphileVersion+"'s 200 req/s") {
		t.Errorf("summary %q", got)
	}
}

// TestPeerIntakeServe compares the tool's server process with `intake
// serve` built from the module, on tiny numbers: both answer every read
// with the same rows and without errors, and the comparison is printed.
func TestPeerIntakeServe(t *testing.T) {
	server := dbtest.ServerURL(t) // skips (fails in CI) without PostgreSQL
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go not on PATH: intake cannot be built")
	}
	var stdout, stderr bytes.Buffer
	res, err := run(context.Background(), []string{
		"-postgres", server, "-phase", "queries", "-duration", "500ms", "-concurrency", "4",
		"-campaigns", "2", "-seed-size", "40", "-peer", "intake",
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("load: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	p := res.Queries.Peer
	if p == nil || !p.Auth || p.Name != "intake serve" {
		t.Fatalf("no intake serve comparison: %+v\nstdout:\n%s", p, stdout.String())
	}
	if len(p.ByOp) != 4 {
		t.Errorf("%d reads compared, want 4", len(p.ByOp))
	}
	for _, s := range []loadStats{p.Intake, p.Peer} {
		if s.Errors != 0 || s.Rate <= 0 || (runtime.GOOS == "linux" && !s.CPUMeasured) {
			t.Errorf("%s: %+v", s.Target, s)
		}
	}
	if !strings.Contains(stdout.String(), "peer: on the reads of the mix Intake ") || !strings.Contains(stdout.String(), "x intake serve") {
		t.Errorf("no summary line:\n%s", stdout.String())
	}
}
