package phone

import (
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/intake/intake/schema/schematype"
)

// example is the phone library's example number of a type in a region, in
// E.164.
func example(t *testing.T, region string, typ phonenumbers.PhoneNumberType) string {
	t.Helper()
	n := phonenumbers.GetExampleNumberForType(region, typ)
	if n == nil {
		t.Fatalf("no example %v number for %s", typ, region)
	}
	return phonenumbers.Format(n, phonenumbers.E164)
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		e164         string
		typ          schematype.NumberType
		zone, region string
	}{
		{"+4915112345678", schematype.NumberMobile, "Europe/Berlin", "DE"},
		{"+493012345678", schematype.NumberFixedLine, "Europe/Berlin", "DE"},
		{"+436641234567", schematype.NumberMobile, "Europe/Vienna", "AT"},
		{"+447400123456", schematype.NumberMobile, "", "GB"}, // several zones of one offset (Guernsey, London, ...)
		{example(t, "DE", phonenumbers.PREMIUM_RATE), schematype.NumberPremiumRate, "", "DE"},
		{example(t, "DE", phonenumbers.SHARED_COST), schematype.NumberSharedCost, "", "DE"},
		{example(t, "DE", phonenumbers.TOLL_FREE), schematype.NumberTollFree, "", "DE"},
		{"not a number", schematype.NumberUnknown, "", ""},
	} {
		got := Describe(tc.e164)
		if got.Type != tc.typ || got.Region != tc.region || (tc.zone != "" && got.TimeZone != tc.zone) {
			t.Errorf("Describe(%q) = %+v, want %s in %q (%s)", tc.e164, got, tc.typ, tc.region, tc.zone)
		}
	}
}

func TestFirstAccepted(t *testing.T) {
	t.Parallel()
	premium := example(t, "DE", phonenumbers.PREMIUM_RATE)
	noPremium := func(nt schematype.NumberType) bool { return nt != schematype.NumberPremiumRate }

	// A premium number first, a mobile one after it: the mobile one.
	e, raw, info, p, _ := FirstAccepted([]string{premium, "0151 12345678"}, "DE", noPremium)
	if e != "+4915112345678" || raw != "0151 12345678" || info.Type != schematype.NumberMobile || p != "" {
		t.Errorf("premium then mobile: %q %q %+v %q", e, raw, info, p)
	}
	// Only a premium number: UNSUPPORTED_NUMBER_TYPE naming the type.
	e, raw, _, p, msg := FirstAccepted([]string{"n/a", premium}, "DE", noPremium)
	if e != "" || raw != premium || p != schematype.IssueUnsupportedNumberType || msg == "" {
		t.Errorf("premium only: %q %q %q %q", e, raw, p, msg)
	}
	// Nothing valid: what First says.
	if _, _, _, p, _ := FirstAccepted([]string{"n/a"}, "DE", noPremium); p != schematype.IssueInvalidPhone {
		t.Errorf("invalid only: %q", p)
	}
	if _, _, _, p, _ := FirstAccepted(nil, "DE", noPremium); p != schematype.IssueMissingPhone {
		t.Errorf("none: %q", p)
	}
	// Every type accepted: the first valid number, described.
	if e, _, info, p, _ := FirstAccepted([]string{premium}, "DE", nil); e != premium || info.Type != schematype.NumberPremiumRate || p != "" {
		t.Errorf("nil accept: %q %+v %q", e, info, p)
	}
}

// FirstAccepted, which asks the library for the type instead of for
// validity, accepts exactly the numbers First accepts.
func FuzzFirstAcceptedAgreesWithFirst(f *testing.F) {
	for _, s := range []string{"0151 12345678", "+49 30 1234567", "030 12345", "+44 7400 123456", "0900 1234567", "+1 650 253 0000", "n/a", "+800 1234 5678"} {
		f.Add(s, "DE")
	}
	f.Fuzz(func(t *testing.T, raw, region string) {
		e1, r1, p1, m1 := First([]string{raw}, region)
		e2, r2, _, p2, m2 := FirstAccepted([]string{raw}, region, nil)
		if e1 != e2 || r1 != r2 || p1 != p2 || m1 != m2 {
			t.Fatalf("%q in %q: First %q %q %q %q, FirstAccepted %q %q %q %q", raw, region, e1, r1, p1, m1, e2, r2, p2, m2)
		}
	})
}
