package llmfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// The user message layout the fake reads is the one package
// internal/screening writes:
//
//	Description:
//	<the campaign description>
//
//	Records:
//	{"id":"<record id>", ...attributes}
//	... one JSON object per line ...
//
// The description is the text between the line "Description:" and the last
// line that reads exactly "Records:" (the whole text before "Records:"
// when there is no "Description:" line). Every line after it that parses
// as a JSON object with a string "id" is a record; other lines are
// ignored.
const (
	// DescriptionHeader is the line before the description.
	DescriptionHeader = "Description:"
	// RecordsHeader is the line after which the records follow.
	RecordsHeader = "Records:"
)

// Record is one record the fake read from a request.
type Record struct {
	// Request is the 1-based number of the request that carried it, in
	// the order requests arrived.
	Request int
	// ID is the record's "id".
	ID string
	// Attributes are the record's other fields, as decoded JSON (numbers
	// as json.Number).
	Attributes map[string]any
}

// parseUserMessage splits a user message into description and records.
func parseUserMessage(msg string) (string, []Record) {
	lines := strings.Split(strings.ReplaceAll(msg, "\r\n", "\n"), "\n")
	recAt := -1
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.TrimSpace(lines[i]) == RecordsHeader {
			recAt = i
			break
		}
	}
	if recAt < 0 {
		return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(msg), DescriptionHeader)), nil
	}
	descLines := lines[:recAt]
	for i, l := range descLines {
		if strings.TrimSpace(l) == DescriptionHeader {
			descLines = descLines[i+1:]
			break
		}
	}
	desc := strings.TrimSpace(strings.Join(descLines, "\n"))
	var recs []Record
	for _, l := range lines[recAt+1:] {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "{") {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(l))
		dec.UseNumber()
		var obj map[string]any
		if dec.Decode(&obj) != nil || dec.More() {
			continue
		}
		id, ok := obj["id"].(string)
		if !ok {
			continue
		}
		delete(obj, "id")
		recs = append(recs, Record{ID: id, Attributes: obj})
	}
	return desc, recs
}

// stopwords are the words of 4+ letters that never count as keywords.
var stopwords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`
		that this with from have they them their there these those were what
		when where which while will would should could about into than then
		also only some such more most other over under very just been being
		does each both your here must shall want wants need needs like
		please anyone someone every contact contacts people person persons
		record records candidate candidates campaign call calls
		oder aber auch eine einer eines einem einen dass denn doch nicht noch
		sich sind wird werden wurde haben sein seine ihre ihrer nach über
		unter durch alle allen aller alles diese dieser dieses diesen jene
		welche welcher wenn weil kann können soll sollen muss müssen bitte
		kontakt kontakte personen leute bewerber kandidaten zwischen ohne
		beim sowie bereits oben unten`) {
		stopwords[w] = true
	}
}

// Keywords returns the keywords of a description, in order of first
// appearance: its lower-cased words of 4 or more letters, minus a small
// English and German stopword list.
func Keywords(description string) []string {
	var out []string
	seen := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(description), func(r rune) bool { return !unicode.IsLetter(r) }) {
		if len([]rune(w)) < 4 || stopwords[w] || seen[w] {
			continue
		}
		seen[w] = true
		out = append(out, w)
	}
	return out
}

// decision is one entry of the answer content.
type decision struct {
	ID       string `json:"id"`
	Decision string `json:"decision"`
	Reason   string `json:"reason"`
}

// Judge applies the fake's keyword rules to one record's attributes: any
// keyword contained in a string value (at any depth) is a "match"; a
// record with no attributes is "unsure"; anything else is "no_match". It
// returns the decision and its reason.
func Judge(keywords []string, attrs map[string]any) (string, string) {
	if len(attrs) == 0 {
		return "unsure", "The record has no data to judge."
	}
	var text []string
	collectStrings(attrs, &text)
	for _, k := range keywords {
		for _, t := range text {
			if strings.Contains(t, k) {
				return "match", fmt.Sprintf("Mentions %q, which the description asks for.", k)
			}
		}
	}
	return "no_match", "Nothing in the record matches the description."
}

// mentions returns the first of words that a string value of attrs
// contains (lower-cased).
func mentions(words []string, attrs map[string]any) (string, bool) {
	if len(words) == 0 {
		return "", false
	}
	var text []string
	collectStrings(attrs, &text)
	for _, w := range words {
		for _, t := range text {
			if strings.Contains(t, w) {
				return w, true
			}
		}
	}
	return "", false
}

// collectStrings gathers the lower-cased string values of v, recursively,
// in a deterministic order.
func collectStrings(v any, out *[]string) {
	switch t := v.(type) {
	case string:
		*out = append(*out, strings.ToLower(t))
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			collectStrings(t[k], out)
		}
	case []any:
		for _, e := range t {
			collectStrings(e, out)
		}
	}
}

// answerContent renders the decisions as the structured-output content.
func answerContent(ds []decision) string {
	if ds == nil {
		ds = []decision{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(struct {
		Decisions []decision `json:"decisions"`
	}{ds})
	return strings.TrimSuffix(buf.String(), "\n")
}
