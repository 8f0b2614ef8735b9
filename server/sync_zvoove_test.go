package server_test

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/zvoovefake"
)

// A test sync of zvoove imports every valid candidate exactly once and
// accounts for every other with an import issue, and availableReferences
// lists every office, in each mode zvoove's documents leave open: pages
// counted from 0 or from 1, the lists without paging metadata paged or
// not, and the change log's page-size maximum of a SaaS (20) or an on-prem
// (10) tenant.
func TestSyncZvoovePaging(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := syncStart(t, db)
		for _, m := range []struct {
			base     int
			unpaged  bool
			onPrem   bool
			talent   bool // talent_pool_research instead of new_applications
			people   int
			officeNo int
		}{
			// 137 candidates: three pages of the 50 asked, the last partial.
			{base: 0, people: 137, officeNo: 7},
			{base: 1, people: 137, officeNo: 7},
			{base: 0, unpaged: true, people: 137, officeNo: 7},
			{base: 1, unpaged: true, people: 137, officeNo: 7},
			// Exactly one full page of candidates: the probe must find no second page.
			{base: 0, people: 50, officeNo: 1},
			{base: 1, people: 50, officeNo: 1},
			// The change log: pages of 20 (SaaS) or 10 (on-prem), the last partial.
			{base: 0, talent: true, people: 137, officeNo: 7},
			{base: 1, talent: true, people: 137, officeNo: 7},
			{base: 0, talent: true, onPrem: true, people: 137, officeNo: 7},
			{base: 1, talent: true, onPrem: true, people: 10, officeNo: 3},
		} {
			name := fmt.Sprintf("new applications, page base %d, %d candidates", m.base, m.people)
			if m.talent {
				name = fmt.Sprintf("talent pool research, page base %d, %d candidates", m.base, m.people)
			}
			if m.unpaged {
				name += ", unpaged lists"
			}
			if m.onPrem {
				name += ", on-prem"
			}
			t.Run(name, func(t *testing.T) {
				// Each mode has an organization and fakes of its own.
				t.Parallel()
				d := syncNow(31+uint64(m.base), m.people)
				fields := map[string]any(nil)
				var gone func(int) bool
				if m.talent {
					// Every change is a day old or less and already made.
					d = sandbox.Dataset{Seed: 41 + uint64(m.base), Size: m.people, Step: time.Minute}.AnchoredAt(time.Now().Add(-24 * time.Hour))
					fields = map[string]any{"searchType": connector.SearchTalentPool, "searchParams": map[string]any{"daysSinceLastChange": 30}}
					// The change log reports some candidates removed: they
					// are erased, not imported.
					gone = func(i int) bool {
						switch zvoovefake.EntryStatus(i) {
						case zvoovefake.StatusDeleted, zvoovefake.StatusAnonymized, zvoovefake.StatusRemoved:
							return true
						}
						return false
					}
				}
				d.Groups = m.officeNo
				z := zvoovefake.New(zvoovefake.Config{Dataset: d, PageBase: m.base, UnpagedLists: m.unpaged, OnPrem: m.onPrem})
				own := http.StripPrefix("/zvoove", z.Handler())
				swap := func(next http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if strings.HasPrefix(r.URL.Path, "/zvoove/") {
							own.ServeHTTP(w, r)
							return
						}
						next.ServeHTTP(w, r)
					})
				}
				f := syncSetup(t, app, d, swap, schematype.ProviderZvoove, fields)

				var refs []string
				var after any
				for range 20 {
					var got struct {
						AvailableReferences struct {
							Items      []struct{ ExternalID, Kind string }
							NextCursor *string
						}
					}
					f.c.MustDo(t, `query($id: ID!, $after: String) { availableReferences(integrationID: $id, first: 3, after: $after) { items { externalID kind } nextCursor } }`,
						map[string]any{"id": f.integ, "after": after}, &got)
					for _, it := range got.AvailableReferences.Items {
						refs = append(refs, it.ExternalID)
					}
					if got.AvailableReferences.NextCursor == nil {
						break
					}
					after = *got.AvailableReferences.NextCursor
				}
				var offices []string
				for g := range d.Groups {
					offices = append(offices, strconv.Itoa(zvoovefake.OfficeID(g)))
				}
				if !slices.Equal(refs, offices) {
					t.Fatalf("availableReferences listed %v, want every office once: %v", refs, offices)
				}

				recs := syncModel{d: d, to: d.Size, gone: gone}.records()
				run := f.waitRun(t, f.testSync(t, f.trig).ID)
				if run.Status != "SUCCEEDED" || run.Fetched != len(recs) {
					t.Fatalf("ended %s, want SUCCEEDED fetching all %d candidates", run, len(recs))
				}
				contacts := f.contacts(t, f.campaign)
				syncCheckRun(t, f.syncEnv, run, recs, contacts)
				syncImportedOnce(t, contacts, recs)
				z.Contract.Verify(t)
			})
		}
	})
}
