package compleet_test

import (
	"context"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/connector/compleet"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/atsfake"
)

// The records carry the fit attributes of the person, from the candidate,
// the application and its job, and no contact data among them.
func TestFetchFitAttributes(t *testing.T) {
	t.Parallel()
	data := sandbox.Dataset{Seed: 4, Size: 31, Groups: 3}
	fake := atsfake.New(atsfake.Config{Provider: "Compleet", Dataset: data, StageMoves: compleet.New().Descriptor().SupportsStatusMapping})
	srv := httptest.NewServer(fake.Handler())
	defer srv.Close()
	conn, err := compleet.New().Open(fake.Credentials(srv.URL), connector.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	var got []connector.Record
	for page, err := range conn.Fetch(context.Background(), connector.FetchRequest{SearchType: connector.SearchNewApplications}) {
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		got = append(got, page.Records...)
	}
	if len(got) != data.Size {
		t.Fatalf("%d records, want %d", len(got), data.Size)
	}
	digits := regexp.MustCompile(`[0-9]{4}`)
	// Person 14 has no city, 24 no source, 29 no profession.
	for _, i := range []int{0, 1, 2, 14, 24, 29, 30} {
		p, r := data.Person(i), got[i]
		want := map[string]any{
			connector.AttrPosition: atsfake.JobName(p.Group),
			connector.AttrStatus:   "New",
		}
		for k, v := range map[string]string{connector.AttrProfession: p.Profession, connector.AttrLocation: p.City, connector.AttrSource: p.Source} {
			if v != "" {
				want[k] = v
			}
		}
		if len(p.Tags) > 0 {
			want[connector.AttrTags] = p.Tags
		}
		if fit := connector.FitOf(r.Attributes); !reflect.DeepEqual(fit, want) {
			t.Fatalf("record %d: fit attributes %v, want %v", i, fit, want)
		}
		if r.Attributes["applicationId"] != atsfake.ApplicationID(data, i) || r.Attributes["jobId"] != atsfake.JobID(p.Group) {
			t.Fatalf("record %d: attributes %v lack the application and job IDs", i, r.Attributes)
		}
	}
	for i, r := range got {
		p := data.Person(i)
		for k, v := range connector.FitOf(r.Attributes) {
			vals, ok := v.([]string)
			if !ok {
				vals = []string{v.(string)}
			}
			for _, s := range vals {
				if strings.Contains(s, "@") || digits.MatchString(s) || strings.Contains(s, p.FirstName) || strings.Contains(s, p.LastName) {
					t.Fatalf("record %d: fit attribute %s = %q holds contact data", i, k, s)
				}
			}
		}
	}
	fake.Contract.Verify(t)
}
