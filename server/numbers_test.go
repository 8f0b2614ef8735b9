package server_test

import (
	"slices"
	"strings"
	"testing"
	"time"

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

// TestCallableContacts checks over HTTP, on both databases, that the dialer
// gets exactly the contacts it may call at a time: not erased, not on the
// do-not-call list, within the campaign's calling hours in the local time
// of each number, page by page.
func TestCallableContacts(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			app := isoStart(t, dbtest.Open(t, d))
			data := syncNow(101, 80)
			fk := apptest.StartSyncFakes(t, data, nil)
			e := syncNewEnv(t, app)
			tal := e.connect(t, fk, schematype.ProviderTalention)
			var created struct{ CreateCampaign struct{ ID string } }
			e.c.MustDo(t, `mutation { createCampaign(input: {name: "hours", callingHours: [
				{day: MONDAY, start: "09:00", end: "12:00"}, {day: MONDAY, start: "14:00", end: "24:00"}]}) { id } }`, nil, &created)
			cmp := created.CreateCampaign.ID
			if r := erSync(t, e, e.trigger(t, cmp, tal, nil)); r.Status != "SUCCEEDED" || r.Imported == 0 {
				t.Fatalf("sync: %+v", r)
			}
			var all struct {
				Node struct {
					Contacts struct {
						Edges []struct {
							Node struct {
								ID, PhoneE164 string
								TimeZone      *string
							}
						}
					}
				}
			}
			e.c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Campaign { contacts(first: 100) { edges { node { id phoneE164 timeZone } } } } } }`,
				map[string]any{"id": cmp}, &all)
			contacts := all.Node.Contacts.Edges
			// One contact erased, one listed: never callable.
			erasedID, listed := contacts[0].Node.ID, contacts[1].Node.PhoneE164
			var ignore map[string]any
			e.c.MustDo(t, `mutation($id: ID!) { eraseContact(id: $id) { contacts } }`, map[string]any{"id": erasedID}, &ignore)
			e.c.MustDo(t, `mutation($p: String!) { addDoNotCall(phone: $p) { id } }`, map[string]any{"p": listed}, &ignore)

			// Monday 09:30 in Berlin is 08:30 in London: the British wait.
			berlin, _ := time.LoadLocation("Europe/Berlin")
			monday := time.Date(2026, 12, 7, 9, 30, 0, 0, berlin)
			expect := func(at time.Time) map[string]bool {
				want := map[string]bool{}
				for _, edge := range contacts[2:] {
					c := edge.Node
					zone := berlin
					if c.TimeZone != nil {
						zone, _ = time.LoadLocation(*c.TimeZone)
					}
					local := at.In(zone)
					h := local.Hour()
					if local.Weekday() == time.Monday && (h >= 9 && h < 12 || h >= 14) {
						want[c.ID] = true
					}
				}
				return want
			}
			want := expect(monday)
			gb := 0
			for _, edge := range contacts {
				if strings.HasPrefix(edge.Node.PhoneE164, "+44") {
					gb++
				}
			}
			if gb == 0 || len(want) == 0 || len(want) == len(contacts)-2 {
				t.Fatalf("%d British contacts, %d of %d callable: the test checks nothing", gb, len(want), len(contacts))
			}
			page := func(at time.Time, after any) (ids []string, total int, next *string) {
				var got struct {
					CallableContacts struct {
						TotalCount int
						PageInfo   struct {
							HasNextPage bool
							EndCursor   *string
						}
						Edges []struct{ Node struct{ ID string } }
					}
				}
				e.c.MustDo(t, `query($c: ID!, $at: Time, $after: Cursor) { callableContacts(campaignID: $c, at: $at, first: 7, after: $after) {
					totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }`,
					map[string]any{"c": cmp, "at": at.Format(time.RFC3339), "after": after}, &got)
				cc := got.CallableContacts
				for _, edge := range cc.Edges {
					ids = append(ids, edge.Node.ID)
				}
				if cc.PageInfo.HasNextPage {
					next = cc.PageInfo.EndCursor
				}
				return ids, cc.TotalCount, next
			}
			var got []string
			var after any
			for range 50 {
				ids, total, next := page(monday, after)
				if total != len(want) {
					t.Errorf("totalCount %d, want %d", total, len(want))
				}
				got = append(got, ids...)
				if next == nil {
					break
				}
				after = *next
			}
			if len(got) != len(want) {
				t.Errorf("%d callable contacts over the pages, want %d", len(got), len(want))
			}
			for _, id := range got {
				if !want[id] {
					t.Errorf("contact %s is not callable at %s but was returned", id, monday)
				}
			}
			// At 12:30 in Berlin only the British are within their hours
			// (11:30); at 13:30 nobody is; at 20:00 everyone callable is.
			if _, total, _ := page(monday.Add(3*time.Hour), nil); total != len(expect(monday.Add(3*time.Hour))) || total == 0 {
				t.Errorf("at 12:30: total %d, want the %d British within their hours", total, len(expect(monday.Add(3*time.Hour))))
			}
			if ids, total, _ := page(monday.Add(4*time.Hour), nil); len(ids) != 0 || total != 0 {
				t.Errorf("at 13:30: %d contacts (total %d), want none", len(ids), total)
			}
			if _, total, _ := page(time.Date(2026, 12, 7, 20, 0, 0, 0, berlin), nil); total != len(contacts)-2 {
				t.Errorf("at 20:00: total %d, want every contact but the erased and the listed (%d)", total, len(contacts)-2)
			}

			// The hours are validated.
			for _, bad := range []struct{ hours, field string }{
				{`[{day: MONDAY, start: "9:00", end: "12:00"}]`, "input.callingHours[0].start"},
				{`[{day: MONDAY, start: "12:00", end: "09:00"}]`, "input.callingHours[0].end"},
				{`[{day: MONDAY, start: "09:00", end: "24:01"}]`, "input.callingHours[0].end"},
				{`[{day: MONDAY, start: "09:00", end: "12:00"}, {day: MONDAY, start: "11:00", end: "13:00"}]`, "input.callingHours[1]"},
			} {
				r := e.c.Do(t, `mutation { createCampaign(input: {name: "x", callingHours: `+bad.hours+`}) { id } }`, nil)
				if r.Code() != "VALIDATION_FAILED" || r.Field() != bad.field {
					t.Errorf("%s: %s on %q, want VALIDATION_FAILED on %s", bad.hours, r.Code(), r.Field(), bad.field)
				}
			}
			var hours struct {
				Node struct{ CallingHours []schematype.CallingWindow }
			}
			e.c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Campaign { callingHours { day start end } } } }`, map[string]any{"id": cmp}, &hours)
			if len(hours.Node.CallingHours) != 2 || hours.Node.CallingHours[1].End != "24:00" {
				t.Errorf("callingHours %+v", hours.Node.CallingHours)
			}
		})
	}
}
