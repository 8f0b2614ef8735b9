package server_test

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/sandbox/zvoovefake"
)

// A test sync of zvoove imports every candidate exactly once, and
// availableReferences lists every office, whether zvoove counts pages from
// 0 or from 1 (its spec does not say).
func TestSyncZvoovePaging(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := syncStart(t, db)
		for _, base := range []int{0, 1} {
			t.Run(fmt.Sprintf("page base %d", base), func(t *testing.T) {
				// 137 candidates: three pages of the 50 asked, the last
				// partial; 7 offices.
				d := syncNow(31+uint64(base), 137)
				d.Groups = 7
				z := zvoovefake.New(zvoovefake.Config{Dataset: d, PageBase: base})
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
				f := syncSetup(t, app, d, swap, connector.Zvoove, nil)

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

				run := f.waitRun(t, f.testSync(t, f.trig).ID)
				if run.Status != "SUCCEEDED" || run.Fetched != d.Size {
					t.Fatalf("ended %s, want SUCCEEDED fetching all %d candidates", run, d.Size)
				}
				recs := syncModel{d: d, to: d.Size}.records()
				contacts := f.contacts(t, f.campaign)
				syncCheckRun(t, f.syncEnv, run, recs, contacts)
				syncImportedOnce(t, contacts, recs)
				z.Contract.Verify(t)
			})
		}
	})
}
