package hubspot_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/hubspotfake"
)

// Contacts deleted in HubSpot are archived: the search, the list members'
// batch read and the contact list no longer return them, and the fetch
// reports those archived since its start date as gone, over several pages
// of HubSpot's listing of archived contacts, resumably.
func TestFetchArchived(t *testing.T) {
	t.Parallel()
	data := sandbox.Dataset{Seed: 21, Size: 1000, Groups: 5}
	b := setup(t, data)
	ctx := context.Background()
	since := data.CreatedAt(500)
	// 250 contacts archived: three pages of the archived listing. Those
	// of even index were archived before since, the others after it.
	var archivedAfter []string
	archived := map[string]bool{}
	for k := range 250 {
		i := k*4 + 1
		at := since.Add(time.Duration(k) * time.Minute)
		if k%2 == 0 {
			at = since.Add(-time.Duration(k+1) * time.Minute)
		} else {
			archivedAfter = append(archivedAfter, data.ExternalID(i))
		}
		if !b.fake.Archive(data.ExternalID(i), at) {
			t.Fatalf("archiving person %d", i)
		}
		archived[data.ExternalID(i)] = true
	}
	// Gone records, in the order of the archived listing (by ID).
	split := func(recs []connector.Record) (live, gone []string) {
		for _, r := range recs {
			switch {
			case r.Gone != "":
				gone = append(gone, r.ExternalID)
			case archived[r.ExternalID]:
				t.Errorf("archived contact %s was fetched as live", r.ExternalID)
			default:
				live = append(live, r.ExternalID)
			}
		}
		return live, gone
	}
	liveSince := 0
	for i := 500; i < 1000; i++ {
		if !archived[data.ExternalID(i)] {
			liveSince++
		}
	}

	for _, tc := range []struct {
		name     string
		req      connector.FetchRequest
		live     int
		wantGone []string
	}{
		{"new applications since a date", connector.FetchRequest{Since: since}, liveSince, archivedAfter},
		{"first sync: every archived contact", connector.FetchRequest{}, 1000 - 250, slices.Collect(func(yield func(string) bool) {
			for k := range 250 {
				if !yield(data.ExternalID(k*4 + 1)) {
					return
				}
			}
		})},
		{"lists", connector.FetchRequest{Since: since, References: []connector.Reference{{ExternalID: hubspotfake.ListID(1), Kind: schematype.ReferenceList}}}, -1, archivedAfter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pages, err := collect(b.conn.Fetch(ctx, tc.req))
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			live, gone := split(recordsOf(pages))
			if tc.live >= 0 && len(live) != tc.live {
				t.Errorf("%d live records, want %d", len(live), tc.live)
			}
			if !slices.Equal(gone, tc.wantGone) {
				t.Errorf("gone %d records %v\nwant %d %v", len(gone), gone, len(tc.wantGone), tc.wantGone)
			}
			// Resuming after any page yields exactly the rest.
			all := recordsOf(pages)
			for k := range pages {
				req := tc.req
				req.Cursor = pages[k].Cursor
				rest, err := collect(b.conn.Fetch(ctx, req))
				if err != nil {
					t.Fatalf("resuming after page %d: %v", k, err)
				}
				got := recordsOf(rest)
				wantRest := all[len(recordsOf(pages[:k+1])):]
				if len(got) != len(wantRest) {
					t.Fatalf("resuming after page %d: %d records, want %d", k, len(got), len(wantRest))
				}
				for j := range got {
					if got[j].ExternalID != wantRest[j].ExternalID || got[j].Gone != wantRest[j].Gone {
						t.Fatalf("resuming after page %d: record %d is %s (gone %q), want %s (gone %q)", k, j,
							got[j].ExternalID, got[j].Gone, wantRest[j].ExternalID, wantRest[j].Gone)
					}
				}
			}
		})
	}
}
