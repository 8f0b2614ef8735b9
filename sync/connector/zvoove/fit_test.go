package zvoove_test

import (
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/zvoovefake"
)

// wantFit is the fit attributes the connector must read for person i:
// the detail's profession, "city, country code", and the status of the
// new-applicants list when the record comes from it (status "").
func wantFit(d sandbox.Dataset, i int, status string) map[string]any {
	p := d.Person(i)
	want := map[string]any{}
	if p.Profession != "" {
		want[connector.AttrProfession] = p.Profession
	}
	var loc []string
	for _, s := range []string{p.City, p.Country} {
		if s != "" {
			loc = append(loc, s)
		}
	}
	if len(loc) > 0 {
		want[connector.AttrLocation] = strings.Join(loc, ", ")
	}
	if status != "" {
		want[connector.AttrStatus] = status
	}
	if len(want) == 0 {
		return nil
	}
	return want
}

var digitRun = regexp.MustCompile(`[0-9]{4}`)

// assertNoContactData fails when a fit attribute holds a phone number, an
// e-mail address or a name of the person.
func assertNoContactData(t *testing.T, p sandbox.Person, r connector.Record) {
	t.Helper()
	for k, v := range connector.FitOf(r.Attributes) {
		var vals []string
		switch v := v.(type) {
		case string:
			vals = []string{v}
		case []string:
			vals = v
		case []any:
			for _, x := range v {
				s, _ := x.(string)
				vals = append(vals, s)
			}
		default:
			t.Fatalf("record %s: fit attribute %s = %#v is neither a string nor a list", r.ExternalID, k, v)
		}
		for _, s := range vals {
			if strings.Contains(s, "@") || digitRun.MatchString(s) || strings.Contains(s, p.FirstName) || strings.Contains(s, p.LastName) {
				t.Fatalf("record %s: fit attribute %s = %q holds contact data", r.ExternalID, k, s)
			}
			for _, ph := range p.Phones {
				if ph != "" && strings.Contains(s, ph) {
					t.Fatalf("record %s: fit attribute %s = %q holds phone %q", r.ExternalID, k, s, ph)
				}
			}
		}
	}
}

func TestFetchFitAttributes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	check := func(t *testing.T, got []connector.Record, status string) {
		t.Helper()
		var noProfession, countryOnly int
		for _, r := range got {
			i, ok := b.data.IndexOf(r.ExternalID)
			if !ok || r.Problem != "" {
				t.Fatalf("record %+v: unknown or with a problem", r)
			}
			want := wantFit(b.data, i, status)
			if fit := connector.FitOf(r.Attributes); !reflect.DeepEqual(fit, want) {
				t.Fatalf("record %s (person %d): fit attributes %v, want %v", r.ExternalID, i, fit, want)
			}
			if r.Attributes["candidateGuid"] != zvoovefake.CandidateGUID(b.data, i) {
				t.Fatalf("record %s: candidateGuid %v", r.ExternalID, r.Attributes["candidateGuid"])
			}
			if len(r.Attributes) != len(want)+1 {
				t.Fatalf("record %s: attributes %v, want the fit attributes and candidateGuid only", r.ExternalID, r.Attributes)
			}
			assertNoContactData(t, b.data.Person(i), r)
			if b.data.Person(i).Profession == "" {
				noProfession++
			}
			if b.data.Person(i).City == "" {
				countryOnly++
				if r.Attributes[connector.AttrLocation] != b.data.Person(i).Country {
					t.Fatalf("record %s: location %v, want the country alone", r.ExternalID, r.Attributes[connector.AttrLocation])
				}
			}
		}
		if noProfession == 0 || countryOnly == 0 {
			t.Fatalf("%d records, %d without profession, %d without city: the test covers no empty value", len(got), noProfession, countryOnly)
		}
	}

	t.Run("new applications carry the list status", func(t *testing.T) {
		t.Parallel()
		got := records(collect(t, b.conn, connector.FetchRequest{SearchType: connector.SearchNewApplications}))
		if len(got) != b.data.Size {
			t.Fatalf("%d records, want %d", len(got), b.data.Size)
		}
		check(t, got, "Applicant")
	})
	t.Run("the talent pool has no change-log status as a person status", func(t *testing.T) {
		t.Parallel()
		req := connector.FetchRequest{SearchType: connector.SearchTalentPool, Params: map[string]any{"daysSinceLastChange": 10}}
		got := slices.DeleteFunc(records(collect(t, b.conn, req)), func(r connector.Record) bool {
			return r.Gone != "" && len(r.Attributes) == 0 // a candidate removed: nothing but its ID
		})
		if len(got) < 100 {
			t.Fatalf("%d records, want most of %d", len(got), b.data.Size)
		}
		check(t, got, "")
	})
}

// A fit field of an unexpected type is left out; the candidate is read all
// the same. Street and zip code never reach the attributes.
func TestFetchMistypedFitFields(t *testing.T) {
	t.Parallel()
	b := setup(t)
	odd := b.data.ExternalID(5)
	f := func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/zvoove/temp-staffing-de/v2/candidates/"+odd {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":`+odd+`,"candidateGuid":"g5","officeId":1,"firstName":"X","lastName":"Y","profession":{"id":3,"name":"Welder"},
			"address":{"zipCode":"10115","streetAddress":"Musterstraße 1","cityName":7,"countryCode":" AT ","phone1":"0151 23456789"}}`)
		return true
	}
	b.intercept.Store(&f)
	got := records(collect(t, b.conn, connector.FetchRequest{References: []connector.Reference{office(0)}}))
	for _, r := range got {
		if r.ExternalID != odd {
			continue
		}
		want := map[string]any{"candidateGuid": "g5", connector.AttrLocation: "AT", connector.AttrStatus: "Applicant"}
		if r.Problem != "" || !reflect.DeepEqual(r.Attributes, want) {
			t.Fatalf("record %+v, want attributes %v and no problem", r, want)
		}
		return
	}
	t.Fatalf("candidate %s was not fetched", odd)
}
