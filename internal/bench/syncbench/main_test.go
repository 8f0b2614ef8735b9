//go:build unix

package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/intake/intake/ent/syncrun"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/zvoovefake"
)

// want is what a sync of the first n people of the data set must end with,
// worked out from the data set's own description of each person (not from
// the phone package the command uses): gone tells which people the
// provider's search reports deleted (erased, not imported).
type want struct {
	fetched, imported, duplicates, invalidPhone, erased int
	distinct                                            int // distinct usable numbers among all n people
}

func expect(n int, gone func(i int) bool) want {
	d := sandbox.Dataset{Seed: 1, Size: n}
	var w want
	seen := map[string]bool{}
	all := map[string]bool{}
	for i := range n {
		p := d.Person(i)
		if p.Kind == sandbox.PhoneValid || p.Kind == sandbox.PhoneDuplicate {
			all[p.E164] = true
		}
		w.fetched++
		if gone(i) {
			w.erased++
			continue
		}
		switch p.Kind {
		case sandbox.PhoneValid, sandbox.PhoneDuplicate:
			if seen[p.E164] {
				w.duplicates++
			} else {
				seen[p.E164] = true
				w.imported++
			}
		default:
			w.invalidPhone++
		}
	}
	w.distinct = len(all)
	return w
}

// zvooveGone: the zvoove talent pool search reports the change-log entries
// of deleted, anonymised and legally removed candidates as gone.
func zvooveGone(i int) bool {
	switch zvoovefake.EntryStatus(i) {
	case zvoovefake.StatusDeleted, zvoovefake.StatusAnonymized, zvoovefake.StatusRemoved:
		return true
	}
	return false
}

func nobody(int) bool { return false }

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

// bench runs the command with args and returns its result and output.
func bench(t *testing.T, args ...string) (*result, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	res, err := run(ctx, append(args, "-timeout", "4m"), &stdout, &stderr)
	if err != nil {
		t.Fatalf("syncbench %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	if res == nil {
		t.Fatalf("syncbench %s returned no result", strings.Join(args, " "))
	}
	return res, stdout.String()
}

func TestSyncBench(t *testing.T) {
	t.Parallel()
	server := dbtest.ServerURL(t)
	const n = 2000

	for _, tc := range []struct {
		provider schematype.ProviderKey
		search   string
		gone     func(int) bool
	}{
		{schematype.ProviderHubSpot, connector.SearchTalentPool, nobody},
		{schematype.ProviderTalention, connector.SearchNewApplications, nobody},
		{schematype.ProviderZvoove, connector.SearchTalentPool, zvooveGone},
	} {
		t.Run(string(tc.provider)+" syncs every person, measures against COPY and drops its database", func(t *testing.T) {
			t.Parallel()
			res, out := bench(t, "-n", fmt.Sprint(n), "-provider", string(tc.provider), "-postgres", server)
			w := expect(n, tc.gone)

			if res.Status != syncrun.StatusSUCCEEDED || res.RunKind != syncrun.KindTEST {
				t.Errorf("run %s (%s), want SUCCEEDED (TEST); error %q", res.Status, res.RunKind, res.RunError)
			}
			if res.Provider != tc.provider || res.SearchType != tc.search || res.N != n {
				t.Errorf("benchmarked %s %s with N %d, want %s %s with N %d", res.Provider, res.SearchType, res.N, tc.provider, tc.search, n)
			}
			got := want{res.Fetched, res.Imported, res.Duplicates, res.InvalidPhone, res.Erased, res.ValidNumbers}
			if got != w {
				t.Errorf("fetched/imported/duplicates/invalid phone/distinct numbers = %+v, want %+v", got, w)
			}
			if res.FilteredOut != 0 || res.Failed != 0 {
				t.Errorf("filtered out %d, failed %d; want none", res.FilteredOut, res.Failed)
			}
			if res.Contacts != w.imported || res.Issues != w.fetched-w.imported {
				t.Errorf("rows left: %d contacts, %d import issues; want %d and %d", res.Contacts, res.Issues, w.imported, w.fetched-w.imported)
			}
			if res.CopyRows != w.distinct {
				t.Errorf("COPY wrote %d rows, want one per distinct usable number: %d", res.CopyRows, w.distinct)
			}
			if !(res.SyncSeconds > 0 && res.SyncRate > 0 && res.CopySeconds > 0 && res.CopyRate > 0 && res.TempCopyRate > 0) {
				t.Errorf("rates not measured: sync %.3fs %.0f/s, COPY %.3fs %.0f/s, TEMP COPY %.0f/s",
					res.SyncSeconds, res.SyncRate, res.CopySeconds, res.CopyRate, res.TempCopyRate)
			}
			if r := float64(res.Fetched) / res.SyncSeconds; math.Abs(r-res.SyncRate) > 1e-6*r {
				t.Errorf("sync rate %.3f is not fetched per second %.3f", res.SyncRate, r)
			}
			if p := 100 * res.SyncRate / res.CopyRate; math.Abs(p-res.Percent) > 1e-9*p {
				t.Errorf("percentage %.4f, want sync/COPY = %.4f", res.Percent, p)
			}
			if res.SampledRSSMB <= 0 || res.PeakRSSMB < res.SampledRSSMB {
				t.Errorf("peak RSS %.1f MB, largest sample %.1f MB: want a sample > 0 and a peak at least as large",
					res.PeakRSSMB, res.SampledRSSMB)
			}

			summary := regexp.MustCompile(fmt.Sprintf(`(?m)^sync: %d records in [0-9]+\.[0-9]s = [0-9]+/s, peak RSS [0-9]+ MB; `+
				`COPY: %d rows in [0-9]+\.[0-9]s = [0-9]+/s; sync = [0-9]+\.[0-9]%% of COPY$`, w.fetched, w.distinct))
			if !summary.MatchString(out) || !strings.Contains(out, res.Summary+"\n") {
				t.Errorf("no summary line %q in the output:\n%s", res.Summary, out)
			}
			for _, line := range []string{
				fmt.Sprintf("  N            %d\n", n),
				fmt.Sprintf("  fetched      %d\n", w.fetched),
				fmt.Sprintf("  imported     %d (contacts in the campaign: %d)\n", w.imported, w.imported),
				fmt.Sprintf("  issues       %d (duplicates %d, invalid phone %d, filtered out 0, failed 0, erased %d)\n",
					w.fetched-w.imported, w.duplicates, w.invalidPhone, w.erased),
			} {
				if !strings.Contains(out, line) {
					t.Errorf("output lacks %q:\n%s", line, out)
				}
			}

			if !strings.HasPrefix(res.Database, "intake_bench_") {
				t.Errorf("scratch database %q", res.Database)
			}
			if databaseExists(t, server, res.Database) {
				t.Errorf("scratch database %s was not dropped", res.Database)
			}
		})
	}

	t.Run("keep leaves the scratch database with the synced contacts", func(t *testing.T) {
		t.Parallel()
		res, out := bench(t, "-n", "100", "-postgres", server, "-keep")
		t.Cleanup(func() {
			db, err := sql.Open("postgres", server)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec("DROP DATABASE IF EXISTS " + res.Database + " WITH (FORCE)"); err != nil {
				t.Errorf("dropping %s: %v", res.Database, err)
			}
		})
		if !databaseExists(t, server, res.Database) {
			t.Fatalf("-keep: database %s is gone", res.Database)
		}
		if !strings.Contains(out, "kept the scratch database: ") || !strings.Contains(out, "/"+res.Database+"?") {
			t.Errorf("output does not name the kept database %s:\n%s", res.Database, out)
		}
		u, err := url.Parse(server)
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + res.Database
		kept, err := sql.Open("postgres", u.String())
		if err != nil {
			t.Fatal(err)
		}
		defer kept.Close()
		var contacts int
		if err := kept.QueryRow(`SELECT count(*) FROM contacts`).Scan(&contacts); err != nil {
			t.Fatal(err)
		}
		// The sync's contacts and the COPY baseline's.
		if w := expect(100, nobody); contacts != w.imported+w.distinct {
			t.Errorf("kept database has %d contacts, want %d synced + %d copied", contacts, w.imported, w.distinct)
		}
	})
}

func TestFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string // in the error
	}{
		{"n below the sandbox minimum is refused", []string{"-n", "5"}, "-n: 5 is not between 10 and 1000000"},
		{"n above the sandbox maximum is refused", []string{"-n", "1000001"}, "-n: 1000001 is not between"},
		{"a provider without a benchmark is refused", []string{"-provider", "COMPLEET"}, `-provider: "COMPLEET" is not one of`},
		{"workers must be positive", []string{"-workers", "0"}, "-workers: 0"},
		{"a non-postgres server is refused", []string{"-postgres", "mysql://127.0.0.1/x"}, "-postgres:"},
		{"stray arguments are refused", []string{"-n", "100", "extra"}, "unexpected arguments"},
		{"an unreachable server is reported", []string{"-n", "100", "-postgres", "postgres://postgres@127.0.0.1:1/x?sslmode=disable"}, "-postgres: cannot reach"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			res, err := run(t.Context(), tc.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
			}
			if res != nil {
				t.Errorf("run(%q) returned a result with its error: %+v", tc.args, res)
			}
		})
	}

	t.Run("provider names are case-insensitive and the server URL gets sslmode", func(t *testing.T) {
		t.Parallel()
		o, err := parseFlags([]string{"-provider", "zvoove", "-postgres", "postgres://u@127.0.0.1:5432/db"}, func(string) string { return "" }, &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		if o.provider != schematype.ProviderZvoove || o.postgres != "postgres://u@127.0.0.1:5432/db?sslmode=disable" || o.n != 200_000 {
			t.Errorf("parsed provider %q, postgres %q, n %d", o.provider, o.postgres, o.n)
		}
	})

	t.Run("the server defaults to TEST_DATABASE_URL", func(t *testing.T) {
		t.Parallel()
		env := func(k string) string {
			if k == "TEST_DATABASE_URL" {
				return "postgres://ci@127.0.0.1:5433/ci?sslmode=disable"
			}
			return ""
		}
		o, err := parseFlags(nil, env, &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		if o.postgres != "postgres://ci@127.0.0.1:5433/ci?sslmode=disable" || o.provider != schematype.ProviderHubSpot {
			t.Errorf("parsed postgres %q, provider %q", o.postgres, o.provider)
		}
	})
}
