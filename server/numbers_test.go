package server_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/phone"
	"github.com/intake/intake/schema/schematype"
)

// TestNumberTypes checks over HTTP, on both databases, that contacts say
// what their number is, and that a campaign imports only the number types
// it calls: others are UNSUPPORTED_NUMBER_TYPE issues.
func TestNumberTypes(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			app := isoStart(t, dbtest.Open(t, d))
			data := syncNow(99, 60)
			fk := apptest.StartSyncFakes(t, data, nil)
			e := syncNewEnv(t, app)
			tal := e.connect(t, fk, schematype.ProviderTalention)

			var created struct {
				CreateCampaign struct {
					ID                  string
					AcceptedNumberTypes []string
				}
			}
			e.c.MustDo(t, `mutation { createCampaign(input: {name: "all"}) { id acceptedNumberTypes } }`, nil, &created)
			if got := created.CreateCampaign.AcceptedNumberTypes; slices.Contains(got, "PREMIUM_RATE") || slices.Contains(got, "SHARED_COST") ||
				!slices.Contains(got, "MOBILE") || !slices.Contains(got, "FIXED_LINE") {
				t.Fatalf("default accepted types %v", got)
			}
			all := created.CreateCampaign.ID
			e.c.MustDo(t, `mutation { createCampaign(input: {name: "mobiles", acceptedNumberTypes: [MOBILE]}) { id acceptedNumberTypes } }`, nil, &created)
			mobiles := created.CreateCampaign.ID
			if got := created.CreateCampaign.AcceptedNumberTypes; !slices.Equal(got, []string{"MOBILE"}) {
				t.Fatalf("accepted types %v, want [MOBILE]", got)
			}

			runAll := erSync(t, e, e.trigger(t, all, tal, nil))
			runMobiles := erSync(t, e, e.trigger(t, mobiles, tal, nil))
			if runAll.Status != "SUCCEEDED" || runMobiles.Status != "SUCCEEDED" {
				t.Fatalf("runs %+v, %+v", runAll, runMobiles)
			}

			// Every contact says what its number is.
			var got struct {
				Node struct {
					Contacts struct {
						Edges []struct {
							Node struct {
								PhoneE164, NumberType string
								TimeZone, Region      *string
							}
						}
					}
				}
			}
			e.c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Campaign { contacts(first: 100) { edges { node { phoneE164 numberType timeZone region } } } } } }`,
				map[string]any{"id": all}, &got)
			landlines := 0
			for _, edge := range got.Node.Contacts.Edges {
				c := edge.Node
				want := phone.Describe(c.PhoneE164)
				if c.NumberType != string(want.Type) || syncDeref(c.Region) != want.Region || syncDeref(c.TimeZone) != want.TimeZone {
					t.Errorf("contact %s: %s in %q (%q), want %+v", c.PhoneE164, c.NumberType, syncDeref(c.Region), syncDeref(c.TimeZone), want)
				}
				if c.NumberType == "FIXED_LINE" {
					landlines++
				}
				if strings.HasPrefix(c.PhoneE164, "+49") && (syncDeref(c.Region) != "DE" || syncDeref(c.TimeZone) != "Europe/Berlin") {
					t.Errorf("German contact %s: region %q, zone %q", c.PhoneE164, syncDeref(c.Region), syncDeref(c.TimeZone))
				}
			}
			if landlines == 0 {
				t.Fatal("the data set gave no landline: the test checks nothing")
			}

			// The mobiles-only campaign refused the landlines, naming the type.
			if runMobiles.Imported != runAll.Imported-landlines || runMobiles.InvalidPhone != runAll.InvalidPhone+landlines {
				t.Errorf("mobiles only: %+v; with every type: %+v; want %d landlines moved to invalidPhone", runMobiles, runAll, landlines)
			}
			unsupported := 0
			for _, is := range e.issues(t, runMobiles.ID) {
				if is.Code == "UNSUPPORTED_NUMBER_TYPE" {
					unsupported++
					if !strings.Contains(is.Message, "FIXED_LINE") || is.RawPhone == nil {
						t.Errorf("issue %+v does not name the type and keep the number", is)
					}
				}
			}
			if unsupported != landlines {
				t.Errorf("%d UNSUPPORTED_NUMBER_TYPE issues, want %d", unsupported, landlines)
			}

			// The list is validated, and can be changed.
			for _, bad := range []struct{ query, field string }{
				{`mutation { createCampaign(input: {name: "x", acceptedNumberTypes: []}) { id } }`, "input.acceptedNumberTypes"},
				{`mutation { createCampaign(input: {name: "x", acceptedNumberTypes: [MOBILE, MOBILE]}) { id } }`, "input.acceptedNumberTypes[1]"},
			} {
				if r := e.c.Do(t, bad.query, nil); r.Code() != "VALIDATION_FAILED" || r.Field() != bad.field {
					t.Errorf("%s: %s on %q, want VALIDATION_FAILED on %s", bad.query, r.Code(), r.Field(), bad.field)
				}
			}
			var upd struct {
				UpdateCampaign struct{ AcceptedNumberTypes []string }
			}
			e.c.MustDo(t, `mutation($id: ID!) { updateCampaign(id: $id, input: {acceptedNumberTypes: [MOBILE, FIXED_LINE]}) { acceptedNumberTypes } }`,
				map[string]any{"id": mobiles}, &upd)
			if !slices.Equal(upd.UpdateCampaign.AcceptedNumberTypes, []string{"MOBILE", "FIXED_LINE"}) {
				t.Errorf("updated accepted types %v", upd.UpdateCampaign.AcceptedNumberTypes)
			}
		})
	}
}
