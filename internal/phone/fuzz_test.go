package phone

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/intake/intake/schema/schematype"
	"github.com/nyaruka/phonenumbers"
)

// fuzzRegions are the regions FuzzNormalize reads numbers in, picked by
// index so that the fuzzer spends its effort on the raw value.
var fuzzRegions = []string{"DE", "AT", "CH", "GB", "US", "IT", "BR", "RU", "XX", "", "de", "001"}

// FuzzNormalize checks what Normalize promises for any input:
//   - it does not panic;
//   - it returns either a valid E.164 number ("+" and at most 15 digits)
//     and no problem, or no number, a problem and a message;
//   - IssueMissingPhone exactly for blank input;
//   - the number is what the library formats for it, and normalising it
//     again, in the same or no region, returns it unchanged;
//   - the national digits of the number all come from the input, in order
//     (no letters read as keypad digits);
//   - messages do not repeat long input whole.
func FuzzNormalize(f *testing.F) {
	for _, fm := range formats {
		for _, raw := range fm.raws {
			f.Add(raw, uint8(0))
		}
	}
	for _, raw := range []string{
		"", " ", "n/a", "+49 0000", "0151 23456789 ext. 12", "Tel.: 0151 23456789", "030 12345 Home",
		"0800-FLOWERS", "tel:0151-23456789;phone-context=+49", "tel:+49-151-23456789;isub=12",
		"(530) 583-6985 x302/x2303", "+39 06 1234 5678", "8 800 555 35 35", "+7 800 555 35 35",
		"0151 23456789-12", "1 ext 345678", "+800 1234 5678", "+882 1234 5678", "١٢٣٤٥٦٧٨٩",
		"\xff\xfe0151", strings.Repeat("9", 251), "+" + strings.Repeat("1", 30),
	} {
		for r := range fuzzRegions {
			f.Add(raw, uint8(r))
		}
	}
	f.Fuzz(func(t *testing.T, raw string, r uint8) {
		region := fuzzRegions[int(r)%len(fuzzRegions)]
		e164, p, msg := Normalize(raw, region)
		trimmed := strings.TrimSpace(raw)

		if p != "" {
			if e164 != "" || msg == "" || (p != schematype.IssueMissingPhone && p != schematype.IssueInvalidPhone) {
				t.Fatalf("Normalize(%q, %q) = %q, %q, %q", raw, region, e164, p, msg)
			}
			if (p == schematype.IssueMissingPhone) != (trimmed == "") {
				t.Fatalf("Normalize(%q, %q): problem %s for trimmed %q", raw, region, p, trimmed)
			}
			if utf8.RuneCountInString(trimmed) > maxQuoted && strings.Contains(msg, strconv.Quote(trimmed)) {
				t.Fatalf("message %q quotes the whole value", msg)
			}
			if n := utf8.RuneCountInString(msg); n > 200 {
				t.Fatalf("message of %d characters: %q", n, msg)
			}
			return
		}

		if msg != "" || len(e164) < 2 || len(e164) > 16 || e164[0] != '+' || strings.Trim(e164[1:], "0123456789") != "" {
			t.Fatalf("Normalize(%q, %q) = %q, %q, %q: not E.164", raw, region, e164, p, msg)
		}
		num, err := phonenumbers.Parse(e164, "")
		if err != nil || !phonenumbers.IsValidNumber(num) || phonenumbers.Format(num, phonenumbers.E164) != e164 {
			t.Fatalf("Normalize(%q, %q) = %q, which the library does not read back (err %v)", raw, region, e164, err)
		}
		if lib, err := phonenumbers.Parse(spacesToSpace(trimmed), canonicalRegion(region)); err != nil || phonenumbers.Format(lib, phonenumbers.E164) != e164 {
			t.Fatalf("Normalize(%q, %q) = %q, the library formats it differently (err %v)", raw, region, e164, err)
		}
		for _, again := range []string{region, ""} {
			if e, p, m := Normalize(e164, again); e != e164 || p != "" || m != "" {
				t.Fatalf("Normalize(%q, %q) = %q, %q, %q; not idempotent (from %q in %q)", e164, again, e, p, m, raw, region)
			}
		}
		// The national number's digits come from the input, in order.
		// Except: with ";phone-context=" the context's digits come after
		// the number's; and where the region's metadata has a national
		// prefix transform rule, the library rewrites the national number
		// by it and may add the rule's digits (Norfolk Island's rule "3$1"
		// gives 5-digit local numbers their leading 3: "+67200000" is
		// +672300000). Those digits, once each, need not come from the
		// input.
		if !strings.Contains(raw, ";phone-context=") {
			nsn := e164[1+len(strconv.Itoa(int(num.GetCountryCode()))):]
			for _, d := range transformDigits()[phonenumbers.GetRegionCodeForNumber(num)] {
				nsn = strings.Replace(nsn, string(d), "", 1)
			}
			if !isSubsequence(nsn, asciiDigits(trimmed)) {
				t.Fatalf("Normalize(%q, %q) = %q: national number %s has digits the input does not", raw, region, e164, nsn)
			}
		}
	})
}

// transformDigits are, by region, the literal digits of the region's
// national prefix transform rule ("3$1": "3"), which parsing may add to a
// national number.
var transformDigits = sync.OnceValue(func() map[string]string {
	out := map[string]string{}
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		panic(err)
	}
	for _, md := range coll.GetMetadata() {
		rule := md.GetNationalPrefixTransformRule()
		var digits strings.Builder
		for i := 0; i < len(rule); i++ {
			switch c := rule[i]; {
			case c == '$' && i+1 < len(rule): // a group reference, not a literal
				i++
			case '0' <= c && c <= '9':
				digits.WriteByte(c)
			}
		}
		if digits.Len() > 0 {
			out[md.GetId()] = digits.String()
		}
	}
	return out
})

// asciiDigits returns the decimal digits of s in order, as ASCII, mapping
// the full-width and Arabic-Indic digits the library reads; other digits
// become '?'.
func asciiDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case '0' <= r && r <= '9':
			b.WriteRune(r)
		case '\uff10' <= r && r <= '\uff19':
			b.WriteRune('0' + r - '\uff10')
		case '\u0660' <= r && r <= '\u0669':
			b.WriteRune('0' + r - '\u0660')
		case '\u06f0' <= r && r <= '\u06f9':
			b.WriteRune('0' + r - '\u06f0')
		case unicode.IsDigit(r):
			b.WriteRune('?')
		}
	}
	return b.String()
}

// isSubsequence reports whether sub's bytes occur in s in order.
func isSubsequence(sub, s string) bool {
	for i := 0; i < len(sub); i++ {
		j := strings.IndexByte(s, sub[i])
		if j < 0 {
			return false
		}
		s = s[j+1:]
	}
	return true
}
