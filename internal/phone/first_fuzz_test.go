package phone

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/intake/intake/schema/schematype"
)

// e164Pattern is E.164 as ITU-T defines it: a country code that does not
// start with 0, at most 15 digits in all.
var e164Pattern = regexp.MustCompile(`^\+[1-9]\d{1,14}$`)

// FuzzFirst checks what First promises for any values and any region
// string, valid ("DE", "de", " at "), non-geographic ("001") or bogus
// ("XX", "", "DEU"):
//   - it does not panic, and its problem is "", IssueMissingPhone or
//     IssueInvalidPhone;
//   - a usable result is E.164, is what Normalize makes of the first usable
//     value (every value before it is unusable), and normalises to itself
//     in the same region, in no region and in a bogus one;
//   - IssueMissingPhone exactly when every value is blank,
//     IssueInvalidPhone with the first non-blank value otherwise;
//   - a value of more than MaxRawLength characters is refused: the first
//     value padded with pad hyphens, which Normalize would otherwise skip as
//     trailing punctuation, is tried too.
func FuzzFirst(f *testing.F) {
	for _, s := range []struct {
		a, b, c, region string
		pad             uint8
	}{
		{"0151 23456789", "", "", "DE", 0},
		{"0151 23456789", "", "", "de", 240},
		{"+49 151 23456789", "", "", "", 230},
		{" ", "n/a", "0664 1234567", " at ", 0},
		{"", "\t", "", "DE", 0},
		{"030 12345 Home", "+44 20 7946 0958", "", "XX", 0},
		{"0800-FLOWERS", "0151 23456789 ext. 12", "x", "US", 0},
		{"+800 1234 5678", "079 123 45 67", "", "001", 0},
		{"(530) 583-6985 x302/x2303", "", "", "DEU", 0},
		{"tel:0151-23456789;phone-context=+49", "", "", "ZZ", 0},
		{"\xff\xfe0151", "０１５１ ２３４５６７８９", "", "DE", 0},
		{strings.Repeat("9", 251), "+4915123456789", "", "DE", 0},
	} {
		f.Add(s.a, s.b, s.c, s.region, s.pad)
	}
	f.Fuzz(func(t *testing.T, a, b, c, region string, pad uint8) {
		raws := []string{a, b, c}
		e164, raw, p, msg := First(raws, region)

		switch p {
		case "":
			if !e164Pattern.MatchString(e164) || msg != "" {
				t.Fatalf("First(%q, %q) = %q, %q, %q, %q: not E.164", raws, region, e164, raw, p, msg)
			}
			i := slices.Index(raws, raw)
			if i < 0 {
				t.Fatalf("First(%q, %q) returned raw %q, which is not one of the values", raws, region, raw)
			}
			for _, earlier := range raws[:i] {
				if e, _, _ := Normalize(earlier, region); e != "" {
					t.Fatalf("First(%q, %q) = %q from %q, but the earlier %q is usable (%q)", raws, region, e164, raw, earlier, e)
				}
			}
			if e, p, _ := Normalize(raw, region); e != e164 || p != "" {
				t.Fatalf("First(%q, %q) = %q from %q, Normalize says %q, %q", raws, region, e164, raw, e, p)
			}
			if n := utf8.RuneCountInString(strings.TrimSpace(raw)); n > MaxRawLength {
				t.Fatalf("First(%q, %q) accepted a value of %d characters", raws, region, n)
			}
			for _, again := range []string{region, "", "XX"} {
				if e, p, m := Normalize(e164, again); e != e164 || p != "" || m != "" {
					t.Fatalf("Normalize(%q, %q) = %q, %q, %q; not idempotent (from %q in %q)", e164, again, e, p, m, raw, region)
				}
			}
		case schematype.IssueMissingPhone:
			if e164 != "" || raw != "" || msg == "" {
				t.Fatalf("First(%q, %q) = %q, %q, %q, %q", raws, region, e164, raw, p, msg)
			}
			for _, r := range raws {
				if strings.TrimSpace(r) != "" {
					t.Fatalf("First(%q, %q): %s, but %q is not blank", raws, region, p, r)
				}
			}
		case schematype.IssueInvalidPhone:
			if e164 != "" || msg == "" {
				t.Fatalf("First(%q, %q) = %q, %q, %q, %q", raws, region, e164, raw, p, msg)
			}
			if first := firstNonBlank(raws); raw != first {
				t.Fatalf("First(%q, %q) blames %q, not the first non-blank value %q", raws, region, raw, first)
			}
		default:
			t.Fatalf("First(%q, %q): unknown problem %q", raws, region, p)
		}

		long := a + strings.Repeat("-", int(pad))
		if utf8.RuneCountInString(strings.TrimSpace(long)) > MaxRawLength {
			if e, p, msg := Normalize(long, region); p != schematype.IssueInvalidPhone || e != "" || msg == "" {
				t.Fatalf("Normalize(%q, %q) = %q, %q, %q: a value of more than %d characters was not refused", long, region, e, p, msg, MaxRawLength)
			}
		}
	})
}

// firstNonBlank returns the first value of list that is not blank.
func firstNonBlank(list []string) string {
	if i := slices.IndexFunc(list, func(v string) bool { return strings.TrimSpace(v) != "" }); i >= 0 {
		return list[i]
	}
	return ""
}
