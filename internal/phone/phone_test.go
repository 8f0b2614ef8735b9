package phone

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/intake/intake/schema/schematype"
)

// formats are the ways people write one number, per region.
var formats = []struct {
	region string
	want   string
	raws   []string
}{
	{"DE", "+4915123456789", []string{
		"+49 151 23456789",
		"0151 23456789",
		"0049 151 23456789",
		"(0151) 234-56789",
		"0151/23456789",
		"+49 (0)151 2345 6789",
		"+4915123456789",
		"tel:+49-151-23456789",
		"tel:0151-23456789",
		"+49-151-23456789",
		"+49.151.23456789",
		"(+49) 151 23456789",
		"00 49 151 23456789",
		"  0151 23456789\t",
		"0151\u00a023456789",   // no-break space
		"0151\t2345\u20096789", // tab, thin space
		"＋４９ １５１ ２３４５６７８９",     // full-width
	}},
	{"AT", "+436641234567", []string{
		"+43 664 1234567",
		"0664 1234567",
		"0043 664 1234567",
		"(0664) 123-4567",
		"0664/1234567",
		"+43 (0)664 123 4567",
		"+436641234567",
		"tel:+43-664-1234567",
	}},
	{"CH", "+41791234567", []string{
		"+41 79 123 45 67",
		"079 123 45 67",
		"0041 79 123 45 67",
		"(079) 123-45-67",
		"079/123 45 67",
		"+41 (0)79 123 45 67",
		"+41791234567",
		"tel:+41-79-123-45-67",
	}},
	{"GB", "+447911123456", []string{
		"+44 7911 123456",
		"07911 123456",
		"0044 7911 123456",
		"(07911) 123-456",
		"07911/123456",
		"+44 (0)7911 123456",
		"+447911123456",
		"tel:+44-7911-123456",
	}},
	{"US", "+12125550123", []string{
		"+1 212 555 0123",
		"(212) 555-0123",
		"212-555-0123",
		"212.555.0123",
		"1-212-555-0123",
		"1 (212) 555-0123",
		"011 1 212 555 0123",
		"+12125550123",
		"tel:+1-212-555-0123",
	}},
}

func TestNormalizeFormats(t *testing.T) {
	t.Parallel()
	for _, f := range formats {
		t.Run(f.region, func(t *testing.T) {
			t.Parallel()
			for _, raw := range f.raws {
				got, p, msg := Normalize(raw, f.region)
				if got != f.want || p != "" || msg != "" {
					t.Errorf("Normalize(%q, %q) = %q, %q, %q; want %q", raw, f.region, got, p, msg, f.want)
				}
			}
		})
	}
}

// TestNormalizeSameNumberOneKey is the dedupe promise: one number written
// five ways is one E.164 key.
func TestNormalizeSameNumberOneKey(t *testing.T) {
	t.Parallel()
	five := []string{"+49 151 23456789", "0151 23456789", "0049 151 23456789", "(0151) 234-56789", "+49 (0)151 2345 6789"}
	keys := map[string]bool{}
	for _, raw := range five {
		e, p, _ := Normalize(raw, "DE")
		if p != "" {
			t.Fatalf("Normalize(%q) problem %s", raw, p)
		}
		keys[e] = true
	}
	if len(keys) != 1 {
		t.Fatalf("five formats gave keys %v, want one", keys)
	}
}

func TestNormalizeAccepts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, raw, region, want string
	}{
		{"extension with ext.", "0151 23456789 ext. 12", "DE", "+4915123456789"},
		{"extension with x", "0151 23456789 x12", "DE", "+4915123456789"},
		{"extension with hash", "0151-2345-6789#12", "DE", "+4915123456789"},
		{"extension in a tel URI", "tel:+49-151-23456789;ext=12", "DE", "+4915123456789"},
		{"extension after semicolon", "+49 151 23456789;12", "DE", "+4915123456789"},
		{"US extension", "(212) 555-0123 ext 45", "US", "+12125550123"},
		{"tel URI with phone-context", "tel:0151-23456789;phone-context=+49", "AT", "+4915123456789"},
		{"leading label Tel.:", "Tel.: 0151 23456789", "DE", "+4915123456789"},
		{"leading label mobil:", "mobil: 0151 23456789", "DE", "+4915123456789"},
		{"leading label Handy", "Handy 0151 23456789", "DE", "+4915123456789"},
		{"leading hash or star", "*0151 23456789", "DE", "+4915123456789"},
		{"trailing punctuation", "0151 23456789.", "DE", "+4915123456789"},
		{"trailing hyphen", "0151 23456789 -", "DE", "+4915123456789"},
		{"fixed line", "030 1234567", "DE", "+49301234567"},
		{"GB number from DE with +", "+44 20 7946 0958", "DE", "+442079460958"},
		{"GB number from DE with 00", "0044 20 7946 0958", "DE", "+442079460958"},
		{"US number from DE", "+1 212 555 0123", "DE", "+12125550123"},
		{"US number from DE with 00", "001 212 555 0123", "DE", "+12125550123"},
		{"DE number from US with 011", "011 49 151 23456789", "US", "+4915123456789"},
		{"DE number from GB", "0049 151 23456789", "GB", "+4915123456789"},
		{"AT number from CH", "0043 664 1234567", "CH", "+436641234567"},
		{"CH number from AT", "+41 79 123 45 67", "AT", "+41791234567"},
		{"Italian leading zero kept", "+39 06 1234 5678", "DE", "+390612345678"},
		{"international number in unknown region", "+49 151 23456789", "XX", "+4915123456789"},
		{"international number without region", "+49 151 23456789", "", "+4915123456789"},
		{"lower-case region", "0151 23456789", "de", "+4915123456789"},
		{"region with spaces", "0151 23456789", " DE ", "+4915123456789"},
		// Library behaviour, not a choice: the country code without + or 00
		// is read as part of a national number, which is valid in DE.
		{"country code without plus is national", "49 151 23456789", "DE", "+494915123456789"},
		// Library behaviour: German numbering is dense, so a CH national
		// number is also a valid DE number (0791 is an area code).
		{"foreign national number valid in DE", "079 123 45 67", "DE", "+49791234567"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, p, msg := Normalize(tc.raw, tc.region)
			if got != tc.want || p != "" || msg != "" {
				t.Fatalf("Normalize(%q, %q) = %q, %q, %q; want %q", tc.raw, tc.region, got, p, msg, tc.want)
			}
		})
	}
}

func TestNormalizeRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, raw, region string
		want              schematype.ImportIssueCode
		msgHas            string
	}{
		{"empty", "", "DE", schematype.IssueMissingPhone, "empty"},
		{"spaces", " \t\n\u00a0", "DE", schematype.IssueMissingPhone, "empty"},
		{"n/a", "n/a", "DE", schematype.IssueInvalidPhone, `"n/a" is not a phone number`},
		{"letters only", "Telefon", "DE", schematype.IssueInvalidPhone, "not a phone number"},
		{"dash", "-", "DE", schematype.IssueInvalidPhone, "not a phone number"},
		{"plus only", "+", "DE", schematype.IssueInvalidPhone, "not a phone number"},
		{"single digit", "0", "DE", schematype.IssueInvalidPhone, "not a phone number"},
		{"three digits", "123", "DE", schematype.IssueInvalidPhone, "(read as +49123)"},
		// The library reads an extension only at the very end: with
		// punctuation after it, its letters become keypad digits
		// ("21000 ext0(" parses as 210003980), which would be calling
		// another number.
		{"extension before a parenthesis", "21000 eXt0(", "CH", schematype.IssueInvalidPhone, "contains letters"},
		{"extension before a full stop", "0151 23456789 ext. 12.", "DE", schematype.IssueInvalidPhone, "contains letters"},
		{"too short mobile", "0151", "DE", schematype.IssueInvalidPhone, "+49"},
		{"zeros", "+49 0000", "DE", schematype.IssueInvalidPhone, "+49"},
		{"one digit missing", "+49 151 2345678", "DE", schematype.IssueInvalidPhone, "not a valid number for country code +49"},
		{"too long", "+49151234567890123", "DE", schematype.IssueInvalidPhone, "+49"},
		{"valid for the library but over 15 digits", "201000000000000", "DE", schematype.IssueInvalidPhone, "+49201000000000000 has more than 15 digits"},
		{"hyphenated extension", "0151 23456789-12", "DE", schematype.IssueInvalidPhone, "read as +491512345678912"},
		{"unknown country code", "+999 1234 5678", "DE", schematype.IssueInvalidPhone, "country code"},
		{"national number in unknown region", "0151 23456789", "XX", schematype.IssueInvalidPhone, `"XX" is not a known region`},
		{"national number without region", "0151 23456789", "", schematype.IssueInvalidPhone, "no default region"},
		{"national number of another region", "079 123 45 67", "US", schematype.IssueInvalidPhone, "+1"},
		{"DE national number in GB", "0151 23456789", "GB", schematype.IssueInvalidPhone, "+44"},
		{"trailing word", "0151 23456789 privat", "DE", schematype.IssueInvalidPhone, "letters"},
		{"trailing word in brackets", "+49 151 23456789 (mobile)", "DE", schematype.IssueInvalidPhone, "letters"},
		// Each of these is a valid but wrong number when letters are keypad digits.
		{"label would be digits", "030 12345 Home", "DE", schematype.IssueInvalidPhone, "letters"},
		{"label would be digits 2", "030 1234567 work", "DE", schematype.IssueInvalidPhone, "letters"},
		{"few letters would be digits", "030 12 abc", "DE", schematype.IssueInvalidPhone, "letters"},
		{"vanity number", "0800-FLOWERS", "DE", schematype.IssueInvalidPhone, "letters"},
		{"vanity number US", "1-800-FLOWERS", "US", schematype.IssueInvalidPhone, "letters"},
		{"dangling extension label", "+49 151 23456789 ext", "DE", schematype.IssueInvalidPhone, "letters"},
		{"German extension label", "+49 30 1234567 Durchwahl 5", "DE", schematype.IssueInvalidPhone, "letters"},
		{"letters in the middle", "0151 23ab456789", "DE", schematype.IssueInvalidPhone, "letters"},
		{"two numbers", "0151 23456789, 030 1234567", "DE", schematype.IssueInvalidPhone, "not a phone number"},
		{"two numbers with slash", "0151 23456789 / 030 1234567", "DE", schematype.IssueInvalidPhone, "too long"},
		{"non-ASCII letters", "030 1234 Büro", "DE", schematype.IssueInvalidPhone, "letters"},
		{"non-ASCII letters only", "Büro", "DE", schematype.IssueInvalidPhone, "not a phone number"},
		{"bad tel URI context", "tel:0151-23456789;phone-context=", "DE", schematype.IssueInvalidPhone, "not a phone number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, p, msg := Normalize(tc.raw, tc.region)
			if got != "" || p != tc.want || !strings.Contains(msg, tc.msgHas) {
				t.Fatalf("Normalize(%q, %q) = %q, %q, %q; want %s with a message containing %q", tc.raw, tc.region, got, p, msg, tc.want, tc.msgHas)
			}
		})
	}
}

func TestNormalizeLength(t *testing.T) {
	t.Parallel()
	t.Run("over the limit in characters is refused unparsed", func(t *testing.T) {
		t.Parallel()
		raw := "+49 151 23456789" + strings.Repeat(" ", MaxRawLength) + "ä" // trimmed inside: 267 characters
		_, p, msg := Normalize(raw, "DE")
		if p != schematype.IssueInvalidPhone || !strings.Contains(msg, "too long: 267 characters, at most 250") {
			t.Fatalf("got %s, %q", p, msg)
		}
	})
	t.Run("limit counts characters, not bytes", func(t *testing.T) {
		t.Parallel()
		raw := strings.Repeat("ä", MaxRawLength) // 500 bytes
		_, p, msg := Normalize(raw, "DE")
		if p != schematype.IssueInvalidPhone || strings.Contains(msg, "at most 250") {
			t.Fatalf("got %s, %q; want the parser's verdict, not the length limit", p, msg)
		}
	})
	t.Run("surrounding spaces do not count", func(t *testing.T) {
		t.Parallel()
		raw := strings.Repeat(" ", 300) + "0151 23456789" + strings.Repeat(" ", 300)
		if got, p, _ := Normalize(raw, "DE"); got != "+4915123456789" || p != "" {
			t.Fatalf("got %q, %s", got, p)
		}
	})
}

func TestNormalizeMessages(t *testing.T) {
	t.Parallel()
	t.Run("long values are cut to 40 characters", func(t *testing.T) {
		t.Parallel()
		raw := "0151 23456789 " + strings.Repeat("ü", 100) + " privat"
		_, p, msg := Normalize(raw, "DE")
		want := `"0151 23456789 ` + strings.Repeat("ü", 26) + `…"`
		if p != schematype.IssueInvalidPhone || !strings.Contains(msg, want) || strings.Contains(msg, "privat") {
			t.Fatalf("msg = %q, want it to quote %s", msg, want)
		}
	})
	t.Run("unreadable characters are shown as replacement characters", func(t *testing.T) {
		t.Parallel()
		_, _, msg := Normalize("ab\x00c\xff\u200b", "DE")
		if want := "\"ab\ufffdc\ufffd\ufffd\" is not a phone number"; msg != want {
			t.Fatalf("msg = %q, want %q", msg, want)
		}
	})
	t.Run("values of 40 characters are quoted whole", func(t *testing.T) {
		t.Parallel()
		raw := strings.Repeat("x", 40)
		_, _, msg := Normalize(raw, "DE")
		if !strings.Contains(msg, `"`+raw+`"`) || strings.Contains(msg, "…") {
			t.Fatalf("msg = %q", msg)
		}
	})
	t.Run("no message is longer than needed", func(t *testing.T) {
		t.Parallel()
		for _, raw := range []string{strings.Repeat("1", 249), strings.Repeat("+49 ", 60), strings.Repeat("a", 1000), strings.Repeat("0151 23456789 ", 20)} {
			_, p, msg := Normalize(raw, "DE")
			if p != schematype.IssueInvalidPhone || utf8.RuneCountInString(msg) > 150 {
				t.Errorf("Normalize(%.20q…) = %s, %q", raw, p, msg)
			}
		}
	})
}

func TestNormalizeE164IsIdempotent(t *testing.T) {
	t.Parallel()
	for _, f := range formats {
		for _, region := range []string{f.region, "DE", "US", "XX", ""} {
			if got, p, _ := Normalize(f.want, region); got != f.want || p != "" {
				t.Errorf("Normalize(%q, %q) = %q, %s", f.want, region, got, p)
			}
		}
	}
}

func TestFirst(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		raws    []string
		e164    string
		raw     string
		p       schematype.ImportIssueCode
		msgHas  string
		msgLack string
	}{
		{name: "nil", raws: nil, p: schematype.IssueMissingPhone, msgHas: "no phone number"},
		{name: "all blank", raws: []string{"", "  ", "\t"}, p: schematype.IssueMissingPhone, msgHas: "no phone number"},
		{name: "first valid wins", raws: []string{"0151 23456789", "030 1234567"}, e164: "+4915123456789", raw: "0151 23456789"},
		{name: "blank skipped", raws: []string{"", " ", "030 1234567"}, e164: "+49301234567", raw: "030 1234567"},
		{name: "later valid beats earlier invalid", raws: []string{"n/a", "", " 030 1234567 "}, e164: "+49301234567", raw: " 030 1234567 "},
		{name: "first invalid reported", raws: []string{"", "n/a", "123"}, raw: "n/a", p: schematype.IssueInvalidPhone, msgHas: `"n/a"`, msgLack: "123"},
		{name: "count of invalid given", raws: []string{"n/a", "123", ""}, raw: "n/a", p: schematype.IssueInvalidPhone, msgHas: "none of the 2 phone numbers"},
		{name: "single invalid has no count", raws: []string{"", "n/a"}, raw: "n/a", p: schematype.IssueInvalidPhone, msgLack: "none of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, raw, p, msg := First(tc.raws, "DE")
			if e != tc.e164 || raw != tc.raw || p != tc.p {
				t.Fatalf("First(%q) = %q, %q, %s, %q; want %q, %q, %s", tc.raws, e, raw, p, msg, tc.e164, tc.raw, tc.p)
			}
			if tc.p == "" && msg != "" {
				t.Fatalf("message %q without a problem", msg)
			}
			if !strings.Contains(msg, tc.msgHas) || (tc.msgLack != "" && strings.Contains(msg, tc.msgLack)) {
				t.Fatalf("message %q: want %q in it and not %q", msg, tc.msgHas, tc.msgLack)
			}
		})
	}
}

// TestNormalizeConcurrent runs Normalize from many goroutines; it is meant
// for the race detector.
func TestNormalizeConcurrent(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				f := formats[(g+i)%len(formats)]
				raw := f.raws[i%len(f.raws)]
				if got, p, _ := Normalize(raw, f.region); got != f.want || p != "" {
					t.Errorf("Normalize(%q, %q) = %q, %s", raw, f.region, got, p)
					return
				}
				if _, p, _ := Normalize(raw+" Home", f.region); p != schematype.IssueInvalidPhone {
					t.Errorf("Normalize(%q) = %s", raw+" Home", p)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkNormalize(b *testing.B) {
	for _, bc := range []struct{ name, raw string }{
		{"e164", "+4915123456789"},
		{"international", "+49 151 23456789"},
		{"national", "(0151) 234-56789"},
		{"idd", "0049 151 23456789"},
		{"label", "Tel.: 0151 23456789"},
		{"extension", "0151 23456789 ext. 12"},
		{"invalid", "+49 0000"},
		{"letters", "n/a"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Normalize(bc.raw, "DE")
			}
		})
	}
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				Normalize("0151 23456789", "DE")
			}
		})
	})
}

func ExampleNormalize() {
	for _, raw := range []string{"(0151) 234-56789", "+44 20 7946 0958", "030 12345 Home", ""} {
		e164, p, msg := Normalize(raw, "DE")
		fmt.Printf("%q %q %q\n", e164, p, msg)
	}
	// Output:
	// "+4915123456789" "" ""
	// "+442079460958" "" ""
	// "" "INVALID_PHONE" "phone number \"030 12345 Home\" contains letters"
	// "" "MISSING_PHONE" "phone number is empty"
}
