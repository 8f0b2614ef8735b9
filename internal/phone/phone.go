// Package phone turns the phone numbers external systems hand over into
// E.164, the form Intake stores and dedupes contacts on (one contact per
// E.164 number and campaign).
//
// Numbers are parsed with github.com/nyaruka/phonenumbers in the campaign's
// default region and must be valid numbers for their country, not merely of a
// possible length. What Normalize accepts, with region "DE":
//
//	"+49 151 23456789", "+4915123456789", "0049 151 23456789"  international forms
//	"0151 23456789", "(0151) 234-56789", "0151/23456789"        national forms
//	"+49 (0)151 2345 6789"                                      trunk prefix in brackets
//	"tel:+49-151-23456789", "tel:+49-151-23456789;ext=12"       RFC 3966 tel: URIs
//	"0151 23456789 ext. 12", "0151 23456789 x12", "…#12"        extensions (dropped from the result)
//	"Tel.: 0151 23456789", "mobil: 0151 23456789"               leading text (skipped)
//	"+44 20 7946 0958", "0044 20 7946 0958"                     other countries, whatever the region
//
// Deliberate departures from the library:
//
//   - ASCII letters are refused unless they are leading text, an extension
//     label or tel: URI parameters. The library reads three or more letters
//     as keypad digits (vanity numbers such as "0800-FLOWERS"), which turns
//     labels into digits of a valid but wrong number: "030 12345 Home" would
//     become +4930123454663, "030 12 abc" +493012222. Calling a stranger is
//     worse than an INVALID_PHONE import issue, so vanity numbers go too.
//   - Whitespace other than a space or a no-break space (tabs, thin spaces)
//     inside a number is read as a space; the library refuses it.
//   - Numbers of more than 15 digits are refused: E.164 allows no more, but
//     the library's DE metadata takes "201000000000000" for the valid
//     +49201000000000000.
//
// Library behaviour callers should know about:
//
//   - A country code written without "+" or "00" is read as part of a
//     national number: with region DE, "49 151 23456789" is the valid number
//     +494915123456789, not +4915123456789.
//   - German numbering is dense: a national number of another country is
//     often a valid DE number too ("079 123 45 67", Swiss mobile, is
//     +49791234567 in region DE).
//   - An extension written with a hyphen ("0151 23456789-12") is read as
//     part of the number, which then is not valid.
//   - Trailing words that are not extension labels ("0151 23456789 privat")
//     make the number invalid, as do two numbers in one field.
package phone

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/intake/intake/schema/schematype"
	"github.com/nyaruka/phonenumbers"
)

// MaxRawLength is the longest raw input, in characters after trimming, that
// Normalize parses; longer input is schematype.IssueInvalidPhone without
// parsing.
const MaxRawLength = 250

// maxQuoted is the longest raw value, in characters, quoted whole in a
// message; longer values are cut to this length and end in "…".
const maxQuoted = 40

// maxE164 is the length of the longest E.164 number: "+" and 15 digits.
const maxE164 = 16

// scratch is the per-call working memory of Normalize, pooled so that a
// valid number costs no allocation of ours beyond the returned string.
type scratch struct {
	num phonenumbers.PhoneNumber
	buf []byte
}

var scratchPool = sync.Pool{New: func() any { return &scratch{buf: make([]byte, 0, 20)} }}

// Normalize returns the E.164 form of raw ("+4915123456789"), reading numbers
// without a country code in region, an ISO 3166-1 alpha-2 code such as "DE"
// (case-insensitive). A number's extension is not part of the result.
//
// When raw cannot be used, e164 is empty, p says why and msg is a message for
// people naming the value (cut to 40 characters) and what is wrong with it.
// p is one of the two phone codes of import issues, so that a caller records
// it as it is: schematype.IssueMissingPhone when raw is empty or whitespace
// only, schematype.IssueInvalidPhone when it is not a valid phone number in
// region or for its own country code. Numbers with a country code ("+44 …",
// "0044 …") are read whatever region is; numbers without one are invalid
// when region is unknown.
//
// Normalize is safe for concurrent use.
func Normalize(raw, region string) (e164 string, p schematype.ImportIssueCode, msg string) {
	return normalize(raw, region, nil)
}

// normalize is Normalize; with info, it also tells what a valid number is,
// from the number it parsed.
func normalize(raw, region string, info *Info) (e164 string, p schematype.ImportIssueCode, msg string) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", schematype.IssueMissingPhone, "phone number is empty"
	}
	if len(s) > MaxRawLength { // bytes >= runes: count runes only when it can matter
		if n := utf8.RuneCountInString(s); n > MaxRawLength {
			return "", schematype.IssueInvalidPhone, fmt.Sprintf("phone number %s is too long: %d characters, at most %d are read", quote(s), n, MaxRawLength)
		}
	}
	s = spacesToSpace(s)
	if hasStrayLetters(s) {
		return "", schematype.IssueInvalidPhone, fmt.Sprintf("phone number %s contains letters", quote(s))
	}
	region = canonicalRegion(region)

	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	sc.num.Reset()
	if err := phonenumbers.ParseToNumber(s, region, &sc.num); err != nil {
		return "", schematype.IssueInvalidPhone, parseMessage(s, region, err)
	}
	sc.buf = appendE164(sc.buf[:0], &sc.num)
	// A number is valid exactly when its type is known: the library's
	// IsValidNumber is GetNumberType(number) != UNKNOWN with the region the
	// number itself names. Asked for the type, this asks once.
	valid := false
	var typ phonenumbers.PhoneNumberType
	if info != nil {
		typ = phonenumbers.GetNumberType(&sc.num)
		valid = typ != phonenumbers.UNKNOWN
	} else {
		valid = phonenumbers.IsValidNumber(&sc.num)
	}
	if !valid {
		return "", schematype.IssueInvalidPhone, invalidMessage(s, &sc.num, string(sc.buf))
	}
	if len(sc.buf) > maxE164 { // the library's metadata lets some through (DE fixed lines)
		return "", schematype.IssueInvalidPhone, fmt.Sprintf("phone number %s is too long: %s has more than 15 digits", quote(s), sc.buf)
	}
	if info != nil {
		describe(&sc.num, typ, sc.buf, info)
	}
	if string(sc.buf) == s { // already E.164: no copy (the comparison does not allocate)
		return s, "", ""
	}
	return string(sc.buf), "", ""
}

// First returns the first usable phone number of raws, in order, as E.164
// together with its raw value as given. When none is usable, e164 is empty
// and p is schematype.IssueMissingPhone if raws holds no non-blank value
// (raw is then empty), or else schematype.IssueInvalidPhone with the first
// non-blank value that was not usable as raw and the reason for it as msg:
// a later valid number wins over an earlier invalid one, and blank values
// are skipped.
func First(raws []string, region string) (e164, raw string, p schematype.ImportIssueCode, msg string) {
	e164, raw, _, p, msg = first(raws, region, nil, false)
	return e164, raw, p, msg
}

// appendE164 appends number in E.164 form to b: "+", the country code and the
// national significant number with its leading zeros. It is what
// phonenumbers.Format(number, phonenumbers.E164) returns, without the
// library's intermediate allocations.
func appendE164(b []byte, number *phonenumbers.PhoneNumber) []byte {
	b = append(b, '+')
	b = strconv.AppendInt(b, int64(number.GetCountryCode()), 10)
	if number.GetItalianLeadingZero() {
		for i := int32(0); i < number.GetNumberOfLeadingZeros() && i < 17; i++ {
			b = append(b, '0')
		}
	}
	return strconv.AppendUint(b, number.GetNationalNumber(), 10)
}

// spacesToSpace replaces whitespace the library does not accept inside a
// number (tabs, line breaks, thin and other typographic spaces) with a
// space. It returns s itself when there is none.
func spacesToSpace(s string) string {
	if !strings.ContainsFunc(s, oddSpace) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if oddSpace(r) {
			return ' '
		}
		return r
	}, s)
}

// oddSpace reports whether r is whitespace other than a space or a no-break
// space, which the library accepts as punctuation.
func oddSpace(r rune) bool {
	return r != ' ' && r != '\u00a0' && (unicode.IsSpace(r) || unicode.Is(unicode.Zs, r))
}

// hasStrayLetters reports whether s contains ASCII letters the library would
// read as part of the number (keypad digits, or dropped when fewer than
// three): letters in text before the number, in a trailing extension
// ("ext. 12", "x12") and in tel: URI parameters (";ext=12") are not stray.
// It mirrors the library's own extraction of the number from s.
func hasStrayLetters(s string) bool {
	if !hasASCIILetter(s) {
		return false
	}
	// The library skips everything before the first character that can
	// start a number: a plus sign or a decimal digit ("Tel.: ", "tel:").
	start := strings.IndexFunc(s, func(r rune) bool { return r == '+' || r == '\uff0b' || unicode.IsDigit(r) })
	if start < 0 {
		return false // no number at all: the library refuses it
	}
	t := s[start:]
	// tel: URI parameters (";ext=", ";isub=", ";phone-context=") and the
	// ";123" auto-dial extension follow the number.
	if i := strings.IndexByte(t, ';'); i >= 0 {
		t = t[:i]
	}
	if !hasASCIILetter(t) {
		return false
	}
	// The library drops what its pattern for unwanted trailing characters
	// matches, then a second extension ("… x302/x2303"), then the
	// extension. The pattern is the library's own: it is written in Java's
	// class-intersection syntax, which Go's regexp reads otherwise, so it
	// does not drop trailing punctuation such as "(". An extension followed
	// by one is then not an extension to the library, and its letters
	// become keypad digits ("21000 ext0(" parses as 210003980): they are
	// stray.
	if loc := phonenumbers.UNWANTED_END_CHAR_PATTERN.FindStringIndex(t); loc != nil {
		t = t[:loc[0]]
	}
	if loc := phonenumbers.SECOND_NUMBER_START_PATTERN.FindStringIndex(t); loc != nil {
		t = t[:loc[0]]
	}
	if loc := phonenumbers.EXTN_PATTERN.FindStringIndex(t); loc != nil && viable(t[:loc[0]]) {
		t = t[:loc[0]]
	}
	return hasASCIILetter(t)
}

// viable reports whether the library takes s for a number that an extension
// may follow.
func viable(s string) bool {
	return len(s) >= phonenumbers.MIN_LENGTH_FOR_NSN && phonenumbers.VALID_PHONE_NUMBER_PATTERN.MatchString(s)
}

func hasASCIILetter(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; 'a' <= c && c <= 'z' {
			return true
		}
	}
	return false
}

// canonicalRegion trims region and upper-cases it, allocating only when it
// has lower-case letters.
func canonicalRegion(region string) string {
	region = strings.TrimSpace(region)
	for i := 0; i < len(region); i++ {
		if 'a' <= region[i] && region[i] <= 'z' {
			return strings.ToUpper(region)
		}
	}
	return region
}

// knownRegion reports whether region has a numbering plan in the library.
func knownRegion(region string) bool {
	return phonenumbers.GetSupportedRegions()[region]
}

// parseMessage explains a parse error of s.
func parseMessage(s, region string, err error) string {
	q := quote(s)
	switch {
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
		if !knownRegion(region) {
			if region == "" {
				return fmt.Sprintf("phone number %s has no country code and no default region is set", q)
			}
			return fmt.Sprintf("phone number %s has no country code and %q is not a known region", q, region)
		}
		return fmt.Sprintf("phone number %s has an unknown country code", q)
	case errors.Is(err, phonenumbers.ErrTooShortNSN), errors.Is(err, phonenumbers.ErrTooShortAfterIDD):
		return fmt.Sprintf("phone number %s is too short", q)
	case errors.Is(err, phonenumbers.ErrNumTooLong):
		return fmt.Sprintf("phone number %s is too long", q)
	default: // ErrNotANumber and anything new
		return fmt.Sprintf("%s is not a phone number", q)
	}
}

// invalidMessage explains why the parsed number, read as e164, is not valid.
func invalidMessage(s string, number *phonenumbers.PhoneNumber, e164 string) string {
	q := quote(s)
	cc := number.GetCountryCode()
	switch phonenumbers.IsPossibleNumberWithReason(number) {
	case phonenumbers.INVALID_COUNTRY_CODE:
		return fmt.Sprintf("phone number %s has an unknown country code (+%d)", q, cc)
	case phonenumbers.TOO_SHORT:
		return fmt.Sprintf("phone number %s is too short for country code +%d (read as %s)", q, cc, e164)
	case phonenumbers.TOO_LONG:
		return fmt.Sprintf("phone number %s is too long for country code +%d (read as %s)", q, cc, e164)
	default:
		return fmt.Sprintf("phone number %s is not a valid number for country code +%d (read as %s)", q, cc, e164)
	}
}

// quote quotes s for a message, cut to maxQuoted characters. Invalid UTF-8
// and characters that are not graphic (control characters, zero-width
// marks) are shown as U+FFFD, so that the message stays readable and short.
func quote(s string) string {
	n := 0
	for i := range s {
		if n == maxQuoted {
			s = s[:i] + "…"
			break
		}
		n++
	}
	return strconv.QuoteToGraphic(strings.Map(func(r rune) rune {
		if !unicode.IsGraphic(r) {
			return utf8.RuneError
		}
		return r
	}, s))
}
