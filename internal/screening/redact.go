package screening

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"time"
)

// sensitiveKeyParts are the fragments that mark an attribute key as
// contact data. Matching is by substring, so it errs on the side of
// dropping: "hotel" contains "tel" and is dropped too.
var sensitiveKeyParts = []string{"phone", "mobile", "tel", "fax", "email", "e-mail", "mail"}

var (
	// emailRE finds anything shaped like an e-mail address.
	emailRE = regexp.MustCompile(`[^\s@<>()\[\],;:"']+@(?:[^\s@<>()\[\],;:"'.]+\.)+[^\s@<>()\[\],;:"'.]+`)
	// phoneRunRE finds runs of digits joined only by phone punctuation.
	phoneRunRE = regexp.MustCompile(`\+?\(?\d[\d+()\-./ ]*\d`)
)

// redactedText replaces an e-mail address or phone number found inside a
// longer text.
const redactedText = "[redacted]"

// Redact returns a copy of attrs without contact data, ready to leave the
// process:
//
//   - an attribute whose key contains (case-insensitively) "phone",
//     "mobile", "tel", "fax", "email", "e-mail" or "mail" is dropped, at
//     any depth of nested maps;
//   - a string value that is an e-mail address, or that looks like a phone
//     number (7 or more digits and nothing but the phone punctuation
//     "+ ( ) - . /" and spaces), is dropped, also inside nested maps and
//     slices (a dropped slice element is removed);
//   - inside a longer string, e-mail addresses and phone-number-like runs
//     are replaced by "[redacted]".
//
// Calendar dates written as YYYY-MM-DD, YYYY/MM/DD, DD.MM.YYYY or
// DD/MM/YYYY are not mistaken for phone numbers. Values of types other
// than strings, numbers, booleans, maps and slices are converted through
// their JSON form first, so nothing escapes the rules by its Go type.
// attrs itself is not modified. Redact(nil) returns an empty map.
func Redact(attrs map[string]any) map[string]any {
	out := make(map[string]any, len(attrs))
	for k, v := range attrs {
		if SensitiveKey(k) {
			continue
		}
		if rv, ok := redactValue(v); ok {
			out[k] = rv
		}
	}
	return out
}

// SensitiveKey reports whether an attribute key names contact data that
// Redact drops.
func SensitiveKey(key string) bool {
	k := strings.ToLower(key)
	for _, p := range sensitiveKeyParts {
		if strings.Contains(k, p) {
			return true
		}
	}
	return false
}

// redactValue returns the redacted form of v and whether it is kept.
func redactValue(v any) (any, bool) {
	switch t := v.(type) {
	case nil, bool, float64, float32, int, int8, int16, int32, int64,
		uint, uint8, uint16, uint32, uint64, json.Number:
		return t, true
	case string:
		return redactString(t)
	case map[string]any:
		return Redact(t), true
	case []any:
		out := make([]any, 0, len(t))
		for _, e := range t {
			if re, ok := redactValue(e); ok {
				out = append(out, re)
			}
		}
		return out, true
	case []string:
		out := make([]any, 0, len(t))
		for _, e := range t {
			if re, ok := redactString(e); ok {
				out = append(out, re)
			}
		}
		return out, true
	case map[string]string:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = e
		}
		return Redact(m), true
	}
	// Anything else (structs, typed maps and slices): take its JSON form
	// and redact that.
	b, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, false
	}
	return redactValue(generic)
}

// redactString drops a string that is an e-mail address or a phone number
// and masks those found inside longer text.
func redactString(s string) (string, bool) {
	trimmed := strings.TrimSpace(s)
	if loc := emailRE.FindStringIndex(trimmed); loc != nil && loc[0] == 0 && loc[1] == len(trimmed) {
		return "", false
	}
	if looksLikePhone(trimmed) {
		return "", false
	}
	out := emailRE.ReplaceAllString(s, redactedText)
	out = phoneRunRE.ReplaceAllStringFunc(out, func(run string) string {
		if looksLikePhone(run) {
			return redactedText
		}
		return run
	})
	return out, true
}

// looksLikePhone reports whether s consists of 7 or more digits and
// nothing but phone punctuation, and is not a calendar date.
func looksLikePhone(s string) bool {
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune("+()-./ ", r):
		default:
			return false
		}
	}
	return digits >= 7 && !isDate(strings.TrimSpace(s))
}

// dateLayouts are the date spellings that are not phone numbers.
var dateLayouts = []string{"2006-01-02", "2006/01/02", "02.01.2006", "02/01/2006", "01/02/2006"}

func isDate(s string) bool {
	for _, l := range dateLayouts {
		if _, err := time.Parse(l, s); err == nil {
			return true
		}
	}
	return false
}
