package service_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/phone"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
)

// TestCallableRealNumbers checks, on both databases, what real-format
// numbers of Germany, Austria, Switzerland, the United Kingdom and the
// United States are (type, region, time zone, as the import reads them)
// and when a campaign with the default hours (Monday to Friday, 09:00 to
// 18:00 local time) may call them, across both daylight-saving changes of
// spring 2026: the United States moves on 8 March, Europe on 29 March.
// The expected local times are worked out by hand, not by the code under
// test.
func TestCallableRealNumbers(t *testing.T) {
	t.Parallel()
	numbers := []struct {
		name, raw, region string // region: the campaign's default region the raw number is read in
		e164              string
		typ               schematype.NumberType
		zone              string // "" when the number's area spans zones with different clocks
		numberRegion      string
	}{
		{"de-mobile", "0151 23456789", "DE", "+4915123456789", schematype.NumberMobile, "Europe/Berlin", "DE"},
		{"de-berlin", "030 901820", "DE", "+4930901820", schematype.NumberFixedLine, "Europe/Berlin", "DE"},
		{"de-munich", "+49 89 2190 0", "DE", "+498921900", schematype.NumberFixedLine, "Europe/Berlin", "DE"},
		{"at-mobile", "0664 1234567", "AT", "+436641234567", schematype.NumberMobile, "Europe/Vienna", "AT"},
		{"at-vienna", "01 588 580", "AT", "+431588580", schematype.NumberFixedLine, "Europe/Vienna", "AT"},
		{"ch-mobile", "079 123 45 67", "CH", "+41791234567", schematype.NumberMobile, "Europe/Zurich", "CH"},
		{"ch-zurich", "044 668 18 00", "CH", "+41446681800", schematype.NumberFixedLine, "Europe/Zurich", "CH"},
		{"gb-mobile", "07400 123456", "GB", "+447400123456", schematype.NumberMobile, "*Europe/London", "GB"},
		{"gb-london", "020 7946 0958", "GB", "+442079460958", schematype.NumberFixedLine, "Europe/London", "GB"},
		{"us-newyork", "(212) 736-5000", "US", "+12127365000", schematype.NumberFixedLineOrMobile, "America/New_York", "US"},
		{"us-chicago", "+1 312 603 6000", "US", "+13126036000", schematype.NumberFixedLineOrMobile, "America/Chicago", "US"},
		{"us-la", "650-253-0000", "US", "+16502530000", schematype.NumberFixedLineOrMobile, "America/Los_Angeles", "US"},
		{"us-tollfree", "1-800-275-2273", "US", "+18002752273", schematype.NumberTollFree, "", "US"},
	}
	// Instants (UTC) and who may be called then, with the local times that
	// decide it.
	instants := []struct {
		name string
		at   time.Time
		want []string
	}{
		// Monday 2 March 2026, 13:30 UTC, everyone on standard time:
		// Berlin 14:30, London 13:30, New York 08:30, Chicago 07:30,
		// Los Angeles 05:30, Honolulu 03:30.
		{"before-us-dst", time.Date(2026, 3, 2, 13, 30, 0, 0, time.UTC),
			[]string{"de-mobile", "de-berlin", "de-munich", "at-mobile", "at-vienna", "ch-mobile", "ch-zurich", "gb-mobile", "gb-london"}},
		// Monday 9 March, 13:30 UTC, the United States on daylight time:
		// New York 09:30 is callable now; Chicago 08:30 not yet.
		{"after-us-dst", time.Date(2026, 3, 9, 13, 30, 0, 0, time.UTC),
			[]string{"de-mobile", "de-berlin", "de-munich", "at-mobile", "at-vienna", "ch-mobile", "ch-zurich", "gb-mobile", "gb-london", "us-newyork"}},
		// Monday 23 March, 16:30 UTC: Berlin 17:30 (CET), London 16:30,
		// New York 12:30, Chicago 11:30, Los Angeles 09:30.
		{"before-eu-dst", time.Date(2026, 3, 23, 16, 30, 0, 0, time.UTC),
			[]string{"de-mobile", "de-berlin", "de-munich", "at-mobile", "at-vienna", "ch-mobile", "ch-zurich", "gb-mobile", "gb-london", "us-newyork", "us-chicago", "us-la"}},
		// Monday 30 March, 16:30 UTC, Europe on summer time: Berlin,
		// Vienna and Zurich 18:30 are past the hours; London 17:30 is not.
		{"after-eu-dst", time.Date(2026, 3, 30, 16, 30, 0, 0, time.UTC),
			[]string{"gb-mobile", "gb-london", "us-newyork", "us-chicago", "us-la"}},
		// Monday 30 March, 20:30 UTC: New York 16:30, Chicago 15:30,
		// Los Angeles 13:30. The toll-free number may be anywhere from
		// Guam (Tuesday 06:30) to Newfoundland (18:00): it is never within
		// the default hours in all of its zones, so it is never called.
		{"us-afternoon", time.Date(2026, 3, 30, 20, 30, 0, 0, time.UTC),
			[]string{"us-newyork", "us-chicago", "us-la"}},
		// Monday 30 March, 15:30 UTC: Berlin 17:30, London 16:30, New York
		// 11:30, Chicago 10:30, but Los Angeles 08:30.
		{"us-morning", time.Date(2026, 3, 30, 15, 30, 0, 0, time.UTC),
			[]string{"de-mobile", "de-berlin", "de-munich", "at-mobile", "at-vienna", "ch-mobile", "ch-zurich", "gb-mobile", "gb-london", "us-newyork", "us-chicago"}},
		// Saturday 28 March, 12:00 UTC: nobody on a weekend.
		{"saturday", time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC), nil},
		// Friday 27 March, 23:30 UTC is Friday 16:30 in Los Angeles and
		// Saturday in Europe.
		{"friday-night", time.Date(2026, 3, 27, 23, 30, 0, 0, time.UTC), []string{"us-la"}},
	}

	// What the import reads from each number, accepting what a campaign
	// accepts by default.
	byDefault := func(nt schematype.NumberType) bool {
		return slices.Contains(schematype.DefaultAcceptedNumberTypes(), nt)
	}
	for _, n := range numbers {
		e164, _, info, code, msg := phone.FirstAccepted([]string{n.raw}, n.region, byDefault)
		if code != "" || e164 != n.e164 || info.Type != n.typ || info.Region != n.numberRegion {
			t.Errorf("%s %q (%s): %q %+v %s %s, want %s %s in %s", n.name, n.raw, n.region, e164, info, code, msg, n.e164, n.typ, n.numberRegion)
		}
		switch {
		case n.zone == "" && info.TimeZone != "":
			t.Errorf("%s: zone %q, want none (the area spans zones with different clocks: %v)", n.name, info.TimeZone, phone.Zones(n.e164))
		case n.zone != "" && n.zone[0] == '*':
			// One of several zones that keep the same clock.
			if !slices.Contains(phone.Zones(n.e164), info.TimeZone) || !slices.Contains(phone.Zones(n.e164), n.zone[1:]) {
				t.Errorf("%s: zone %q, want one of %v including %s", n.name, info.TimeZone, phone.Zones(n.e164), n.zone[1:])
			}
		case n.zone != "" && info.TimeZone != n.zone:
			t.Errorf("%s: zone %q, want %s", n.name, info.TimeZone, n.zone)
		}
	}
	// Premium-rate and shared-cost numbers are refused by default.
	for _, raw := range []string{"0900 5 123456", "0180 2 123456"} {
		if _, _, info, code, _ := phone.FirstAccepted([]string{raw}, "DE", byDefault); code != schematype.IssueUnsupportedNumberType {
			t.Errorf("%q (%s): %s, want %s", raw, info.Type, code, schematype.IssueUnsupportedNumberType)
		}
	}

	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		c := db.Store.Client
		svc := service.New(service.Deps{Store: db.Store})
		sys := viewer.SystemContext(ctx)
		org := c.Organization.Create().SetName("o").SaveX(sys)
		as := viewer.NewContext(ctx, &viewer.Viewer{OrgID: org.ID, Role: schematype.RoleAdmin})
		camp := c.Campaign.Create().SetOrganizationID(org.ID).SetName("c").SetPhoneRegion("DE").SaveX(sys)
		byID := map[string]string{}
		for i, n := range numbers {
			e164, raw, info, _, _ := phone.FirstAccepted([]string{n.raw}, n.region, nil)
			cr := c.Contact.Create().SetOrganizationID(org.ID).SetCampaignID(camp.ID).SetPhoneE164(e164).SetPhoneRaw(raw).
				SetExternalID(n.name).SetNumberType(info.Type).SetRegion(info.Region)
			if info.TimeZone != "" {
				cr.SetTimeZone(info.TimeZone)
			}
			ct := cr.SaveX(sys)
			byID[string(ct.ID)] = numbers[i].name
		}
		for _, in := range instants {
			conn, err := svc.CallableContacts(as, camp.ID, in.at, 100, nil, true)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range conn.Edges {
				got = append(got, byID[string(e.Node.ID)])
			}
			want := slices.Clone(in.want)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) || conn.TotalCount != len(want) {
				t.Errorf("%s (%s): callable %v (total %d), want %v", in.name, in.at, got, conn.TotalCount, want)
			}
		}
		// Around the clock every day, the toll-free number is callable too.
		var always []schematype.CallingWindow
		for _, d := range schematype.Weekday("").Values() {
			always = append(always, schematype.CallingWindow{Day: schematype.Weekday(d), Start: "00:00", End: "24:00"})
		}
		c.Campaign.UpdateOne(camp).SetCallingHours(always).ExecX(sys)
		conn, err := svc.CallableContacts(as, camp.ID, instants[0].at, 100, nil, true)
		if err != nil {
			t.Fatal(err)
		}
		if conn.TotalCount != len(numbers) {
			t.Errorf("around the clock: %d callable, want all %d", conn.TotalCount, len(numbers))
		}
	})
}
