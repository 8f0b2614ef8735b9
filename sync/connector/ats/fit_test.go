package ats_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/connector/ats"
	"github.com/intake/intake/sync/connector/talention"
	"github.com/intake/intake/sync/sandbox"
)

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
		default:
			t.Fatalf("record %s: fit attribute %s = %#v is neither a string nor a list of strings", r.ExternalID, k, v)
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
	for _, p := range providers() {
		t.Run(p.Descriptor().Name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, p)
			var jobReads int
			b.setOverride(func(w http.ResponseWriter, r *http.Request) bool {
				if strings.HasPrefix(r.URL.Path, "/ats/jobs/") {
					jobReads++ // under b.mu
				}
				return false
			})
			_, got, err := collect(b.conn.Fetch(context.Background(), newApplications(connector.FetchRequest{})))
			must(t, err, "Fetch")
			if len(got) != b.data.Size {
				t.Fatalf("%d records, want %d", len(got), b.data.Size)
			}
			empty := map[string]int{}
			for i, r := range got {
				person := b.data.Person(i)
				want := candidateFit(person)
				want[connector.AttrPosition] = b.want(i).Attributes[connector.AttrPosition]
				want[connector.AttrStatus] = "New"
				if person.Source != "" {
					want[connector.AttrSource] = person.Source
				}
				if fit := connector.FitOf(r.Attributes); !reflect.DeepEqual(fit, want) {
					t.Fatalf("record %d: fit attributes %v, want %v", i, fit, want)
				}
				for _, k := range []string{connector.AttrProfession, connector.AttrLocation, connector.AttrSource, connector.AttrTags} {
					if _, ok := want[k]; !ok {
						empty[k]++
					}
				}
				assertNoContactData(t, person, r)
			}
			for _, k := range []string{connector.AttrProfession, connector.AttrLocation, connector.AttrSource, connector.AttrTags} {
				if empty[k] == 0 {
					t.Errorf("no record lacks %s: the test covers no empty value", k)
				}
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			if jobReads != b.data.Groups {
				t.Fatalf("%d job reads for %d jobs, want one per job", jobReads, b.data.Groups)
			}
		})
	}

	t.Run("the status follows the application's stage", func(t *testing.T) {
		t.Parallel()
		b := setup(t, talention.New())
		fetch := func() connector.Record {
			_, got, err := collect(b.conn.Fetch(context.Background(), newApplications(connector.FetchRequest{Since: b.data.CreatedAt(b.data.Size - 1)})))
			must(t, err, "Fetch")
			if len(got) != 1 {
				t.Fatalf("%d records, want 1", len(got))
			}
			return got[0]
		}
		rec := fetch()
		err := b.conn.Push(context.Background(), connector.PushRequest{
			Key: "fit-1", Contact: connector.ContactRef{ExternalID: rec.ExternalID, Attributes: rec.Attributes},
			Outcome: schematype.OutcomeSuccess, MappedStatus: "Interview",
		})
		must(t, err, "Push")
		if got := fetch().Attributes[connector.AttrStatus]; got != "Interview" {
			t.Fatalf("status after the stage move = %v, want Interview", got)
		}
	})

	t.Run("blank or mistyped values, unknown jobs and stages are left out", func(t *testing.T) {
		t.Parallel()
		var jobReads int
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			switch r.URL.Path {
			case "/applications":
				_, _ = w.Write([]byte(`{"status":"success","data":{"next":null,"results":[
					{"id":"a1","candidate_id":"c1","job_id":"j1","current_stage_id":"s2","source":" Referral "},
					{"id":"a2","candidate_id":"c2","job_id":"j1","current_stage_id":"s9","source":null},
					{"id":"a3","candidate_id":"c2","job_id":"j404","current_stage_id":"s1"},
					{"id":"a4","candidate_id":"c2","job_id":"jbad","current_stage_id":"s1","source":7}]}}`))
			case "/jobs/j1":
				jobReads++
				_, _ = w.Write([]byte(`{"status":"success","data":{"id":"j1","name":"Staplerfahrer (m/w/d)","status":"open",
					"stages":[{"id":"s1","name":"New"},{"id":"s2","name":"Interview"}]}}`))
			case "/jobs/jbad":
				_, _ = w.Write([]byte(`{"status":"success","data":{"id":"jbad","name":7}}`))
			case "/candidates/c1":
				_, _ = w.Write([]byte(`{"status":"success","data":{"id":"c1","first_name":"Ada","last_name":"Lovelace",
					"title":"Forklift driver","locations":["Berlin"," ","Potsdam"],"tags":["Night shifts","","Forklift licence"],
					"phone_numbers":[{"phone_number":"0151 2345678","type":"mobile"}]}}`))
			case "/candidates/c2":
				_, _ = w.Write([]byte(`{"status":"success","data":{"id":"c2","first_name":"Bo","title":{"name":"x"},"locations":"Berlin","tags":[1," ","Part-time"]}}`))
			default:
				w.WriteHeader(http.StatusNotFound)
				_, _ = w.Write([]byte(`{"status":"error","message":"not found"}`))
			}
		}))
		defer srv.Close()
		c, err := talention.New().Open(connector.Credentials{"baseURL": srv.URL, "apiKey": "k"}, connector.Options{Retry: fastRetry})
		must(t, err, "Open")
		_, got, err := collect(c.Fetch(context.Background(), newApplications(connector.FetchRequest{})))
		must(t, err, "Fetch")
		want := []map[string]any{
			{ats.AttrApplicationID: "a1", ats.AttrJobID: "j1", connector.AttrSource: "Referral", connector.AttrPosition: "Staplerfahrer (m/w/d)",
				connector.AttrStatus: "Interview", connector.AttrProfession: "Forklift driver", connector.AttrLocation: "Berlin; Potsdam",
				connector.AttrTags: []string{"Night shifts", "Forklift licence"}},
			{ats.AttrApplicationID: "a2", ats.AttrJobID: "j1", connector.AttrPosition: "Staplerfahrer (m/w/d)", connector.AttrTags: []string{"Part-time"}},
			{ats.AttrApplicationID: "a3", ats.AttrJobID: "j404", connector.AttrTags: []string{"Part-time"}},
			{ats.AttrApplicationID: "a4", ats.AttrJobID: "jbad", connector.AttrTags: []string{"Part-time"}},
		}
		if len(got) != len(want) {
			t.Fatalf("%d records, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i].Problem != "" || !reflect.DeepEqual(got[i].Attributes, want[i]) {
				t.Fatalf("record %d: attributes %v (problem %q), want %v", i, got[i].Attributes, got[i].Problem, want[i])
			}
		}
		if jobReads != 1 {
			t.Fatalf("job j1 was read %d times, want once", jobReads)
		}
	})
}
