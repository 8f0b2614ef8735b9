package service

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/connector/compleet"
	"github.com/intake/intake/sync/connector/hubspot"
	"github.com/intake/intake/sync/connector/talention"
	"github.com/intake/intake/sync/connector/zvoove"
)

// fuzzDescriptors are the providers FuzzValidateTrigger configures triggers
// for: the four real ones, and one whose search type has a field of every
// type with and without bounds, which no real provider has yet.
var fuzzDescriptors = []connector.Descriptor{
	zvoove.New().Descriptor(),
	talention.New().Descriptor(),
	compleet.New().Descriptor(),
	hubspot.New().Descriptor(),
	{
		Key:  "EVERY_FIELD",
		Name: "Every field type",
		SearchTypes: []connector.SearchType{
			{Key: "plain", IsDefault: true},
			{Key: "fields", Fields: []connector.SearchField{
				{Key: "count", Label: "Count", Type: schematype.FieldInt, Min: connector.Ptr(-5), Max: connector.Ptr(100)},
				{Key: "limit", Label: "Limit", Type: schematype.FieldInt},
				{Key: "query", Label: "Query", Type: schematype.FieldString, Required: true, Min: connector.Ptr(1), Max: connector.Ptr(20)},
				{Key: "note", Label: "Note", Type: schematype.FieldString},
				{Key: "active", Label: "Active", Type: schematype.FieldBoolean},
			}},
		},
		ReferenceKinds: []schematype.ReferenceKind{schematype.ReferenceJob, schematype.ReferenceList},
	},
}

// Bits of FuzzValidateTrigger's set argument: which optional inputs are
// given (a nil pointer in the input otherwise).
const (
	setSearchType = 1 << iota
	setDescription
	setPushback
	pushbackTrue
	setStatusMapping
	setSuccess
	setPartial
	setFailure
	setNotAnswered
	setInterval
	paramsAsFloat // decode searchParams numbers as float64, not json.Number
)

// validationField matches every input path validateTrigger may blame.
// The search param's key is the caller's, any string.
var validationField = regexp.MustCompile(`(?s)^input\.(?:searchType|description|pushbackEnabled|syncIntervalSeconds|` +
	`statusMapping(?:\.(?:success|partial|failure|notAnswered))?|references(?:\[(?P<ref>\d+)\](?:\.(?:kind|externalID|name))?)?|searchParams\.(?P<param>.*))$`)

// FuzzValidateTrigger feeds configureTrigger's search params (JSON, decoded
// as the GraphQL transport does), references (one "KIND\texternalID\tname"
// per line), status mapping and the other optional fields to the
// validation every trigger passes before it is saved:
//   - it does not panic;
//   - it refuses with VALIDATION_FAILED naming an input path the caller sent
//     (or a required search field);
//   - what it accepts keeps every rule of the product (lengths, allowed
//     kinds, no duplicate references, pushback and status mapping only where
//     the provider supports them, interval bounds), and the accepted
//     configuration, given back as input, validates to itself.
func FuzzValidateTrigger(f *testing.F) {
	type seed struct {
		provider    uint8
		set         uint16
		searchType  string
		params      string
		description string
		refs        string
		success     string
		partial     string
		failure     string
		notAnswered string
		interval    int
	}
	mapping := uint16(setStatusMapping | setSuccess | setPartial | setFailure | setNotAnswered)
	for _, s := range []seed{
		{provider: 0, set: setSearchType, searchType: "talent_pool_research", params: `{"daysSinceLastChange": 30}`, refs: "OFFICE\t12\tBerlin\nOFFICE\t13\tHamburg"},
		{provider: 0, set: setSearchType, searchType: "talent_pool_research", params: `{"daysSinceLastChange": 30.5}`},
		{provider: 0, set: setSearchType | paramsAsFloat, searchType: "talent_pool_research", params: `{"daysSinceLastChange": 1e3}`},
		{provider: 0, set: setSearchType, searchType: "talent_pool_research", params: `{"daysSinceLastChange": 99999999999999999999}`},
		{provider: 0, set: setSearchType, searchType: "talent_pool_research", params: `{"daysSinceLastChange": null, "x": 1}`},
		{provider: 0, set: setPushback | pushbackTrue, refs: "JOB\t1\tNurse"},
		{provider: 1, set: setDescription | setPushback | pushbackTrue | mapping, params: `{}`, description: " Nurses ",
			refs: "JOB\tjob-1\tNurse\nJOB\tjob-2\t", success: "accepted", partial: "review", failure: "rejected", notAnswered: "retry"},
		{provider: 1, refs: "JOB\tjob-1\tNurse\nJOB\t job-1 \tdup"},
		{provider: 1, set: setPushback | pushbackTrue | mapping, success: "accepted", partial: " ", failure: "rejected", notAnswered: "retry"},
		{provider: 1, set: mapping, success: "a", partial: "b", failure: "c", notAnswered: "d"},
		{provider: 1, set: setStatusMapping | setSuccess, success: strings.Repeat("ü", MaxStatusName+1)},
		{provider: 2, set: setPushback | pushbackTrue | mapping, success: "a", partial: "b", failure: "c", notAnswered: "d"},
		{provider: 2, set: setInterval, interval: MinSyncInterval - 1, refs: "JOB\t\tempty"},
		{provider: 2, set: setInterval, interval: MaxSyncInterval + 1},
		{provider: 3, set: setSearchType | setInterval, searchType: "talent_pool_research", params: `{"daysSinceLastChange": 3650}`, interval: MaxSyncInterval},
		{provider: 3, set: setSearchType, searchType: "talent_pool_research", params: `{"daysSinceLastChange": "30"}`},
		{provider: 3, set: setSearchType, searchType: "nope", refs: "LIST\t7\tNewsletter"},
		{provider: 3, set: setDescription, description: strings.Repeat("x", MaxDescription+1)},
		{provider: 3, refs: strings.Repeat("LIST\t7\tx\n", MaxReferences+1)},
		{provider: 4, set: setSearchType, searchType: "fields", params: `{"query": "nurse", "count": -5, "limit": 2147483647, "active": true, "note": ""}`},
		{provider: 4, set: setSearchType, searchType: "fields", params: `{"query": "", "count": 101, "active": "yes", "": 1}`},
		{provider: 4, set: setSearchType | paramsAsFloat, searchType: "fields", params: `{"query": "x", "limit": -2147483648.0, "count": 2.5}`},
		{provider: 4, set: setSearchType, searchType: "fields", params: `{"query": "x", "note": 5}`},
		{provider: 4, set: setSearchType, searchType: "fields", params: `[1]`},
	} {
		f.Add(s.provider, s.set, s.searchType, []byte(s.params), s.description, s.refs, s.success, s.partial, s.failure, s.notAnswered, s.interval)
	}

	f.Fuzz(func(t *testing.T, provider uint8, set uint16, searchType string, params []byte, description, refs, success, partial, failure, notAnswered string, interval int) {
		d := fuzzDescriptors[int(provider)%len(fuzzDescriptors)]
		in := ConfigureTriggerInput{References: parseFuzzRefs(refs)}
		if len(params) > 0 {
			dec := json.NewDecoder(bytes.NewReader(params))
			if set&paramsAsFloat == 0 {
				dec.UseNumber()
			}
			if err := dec.Decode(&in.SearchParams); err != nil {
				return // not a JSON object: the GraphQL layer refuses it
			}
		}
		opt := func(bit uint16, s string) *string {
			if set&bit == 0 {
				return nil
			}
			return &s
		}
		in.SearchType = opt(setSearchType, searchType)
		in.Description = opt(setDescription, description)
		if set&setPushback != 0 {
			in.PushbackEnabled = new(set&pushbackTrue != 0)
		}
		if set&setStatusMapping != 0 {
			in.StatusMapping = &StatusMappingInput{
				Success: opt(setSuccess, success), Partial: opt(setPartial, partial),
				Failure: opt(setFailure, failure), NotAnswered: opt(setNotAnswered, notAnswered),
			}
		}
		if set&setInterval != 0 {
			in.SyncIntervalSeconds = &interval
		}

		cfg, err := validateTrigger(in, d)
		if err != nil {
			checkRefusal(t, in, d, err)
			return
		}
		checkAccepted(t, in, d, cfg)

		again, err := validateTrigger(cfg.input(), d)
		if err != nil {
			t.Fatalf("%s: the accepted configuration %+v is refused when given back: %v", d.Key, cfg, err)
		}
		if !reflect.DeepEqual(again, cfg) {
			t.Fatalf("%s: the accepted configuration %+v validates to %+v", d.Key, cfg, again)
		}
	})
}

// parseFuzzRefs reads one reference per line: kind, external ID and name
// separated by tabs.
func parseFuzzRefs(s string) []ReferenceInput {
	if s == "" {
		return nil
	}
	var refs []ReferenceInput
	for line := range strings.SplitSeq(s, "\n") {
		parts := strings.SplitN(line, "\t", 3)
		parts = append(parts, "", "") // missing fields are empty
		refs = append(refs, ReferenceInput{Kind: schematype.ReferenceKind(parts[0]), ExternalID: parts[1], Name: parts[2]})
	}
	return refs
}

// checkRefusal checks that err is a VALIDATION_FAILED *Error naming an
// input path of in.
func checkRefusal(t *testing.T, in ConfigureTriggerInput, d connector.Descriptor, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeValidation || e.Message == "" {
		t.Fatalf("%s: refused with %#v, not a VALIDATION_FAILED error with a message", d.Key, err)
	}
	m := validationField.FindStringSubmatch(e.Field)
	if m == nil {
		t.Fatalf("%s: refused with field %q, which is not an input path: %v", d.Key, e.Field, err)
	}
	if i := m[validationField.SubexpIndex("ref")]; i != "" {
		if n, _ := strconv.Atoi(i); n >= len(in.References) {
			t.Fatalf("%s: blames %s, but there are %d references", d.Key, e.Field, len(in.References))
		}
	}
	if key, ok := strings.CutPrefix(e.Field, "input.searchParams."); ok {
		_, sent := in.SearchParams[key]
		if !sent && !isSearchField(d, key) {
			t.Fatalf("%s: blames %s, which was not sent and is no search field", d.Key, e.Field)
		}
	}
}

// isSearchField reports whether key is a field of one of d's search types.
func isSearchField(d connector.Descriptor, key string) bool {
	return slices.ContainsFunc(d.SearchTypes, func(st connector.SearchType) bool {
		_, ok := searchField(st, key)
		return ok
	})
}

func searchField(st connector.SearchType, key string) (connector.SearchField, bool) {
	i := slices.IndexFunc(st.Fields, func(f connector.SearchField) bool { return f.Key == key })
	if i < 0 {
		return connector.SearchField{}, false
	}
	return st.Fields[i], true
}

// checkAccepted checks that cfg, validated from in, keeps every rule.
func checkAccepted(t *testing.T, in ConfigureTriggerInput, d connector.Descriptor, cfg triggerConfig) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s: accepted %s", d.Key, fmt.Sprintf(format, args...))
	}
	st, ok := d.SearchType(cfg.searchType)
	switch {
	case !ok:
		fail("unknown search type %q", cfg.searchType)
	case in.SearchType == nil && !st.IsDefault:
		fail("search type %q without being asked for it", cfg.searchType)
	case in.SearchType != nil && *in.SearchType != cfg.searchType:
		fail("search type %q as %q", *in.SearchType, cfg.searchType)
	}
	for k, v := range cfg.params {
		f, ok := searchField(st, k)
		if !ok {
			fail("search param %q, which search type %q does not have", k, st.Key)
		}
		if !validParam(f, v) {
			fail("search param %s = %#v", k, v)
		}
	}
	for _, f := range st.Fields {
		if _, ok := cfg.params[f.Key]; f.Required && !ok {
			fail("no value for the required search param %s", f.Key)
		}
	}

	if in.Description == nil && cfg.description != "" ||
		in.Description != nil && cfg.description != strings.TrimSpace(*in.Description) ||
		utf8.RuneCountInString(cfg.description) > MaxDescription {
		fail("description %q", cfg.description)
	}

	if len(cfg.references) != len(in.References) || len(cfg.references) > MaxReferences {
		fail("%d references as %d", len(in.References), len(cfg.references))
	}
	seen := map[string]bool{}
	for i, r := range cfg.references {
		key := string(r.Kind) + "/" + r.ExternalID
		switch {
		case !slices.Contains(d.ReferenceKinds, r.Kind):
			fail("reference %d of kind %q", i, r.Kind)
		case r.ExternalID == "" || r.ExternalID != strings.TrimSpace(r.ExternalID) || utf8.RuneCountInString(r.ExternalID) > 200:
			fail("reference %d with external ID %q", i, r.ExternalID)
		case r.Name != strings.TrimSpace(r.Name) || utf8.RuneCountInString(r.Name) > 500:
			fail("reference %d with name %q", i, r.Name)
		case seen[key]:
			fail("reference %s twice", key)
		}
		seen[key] = true
	}

	wantPushback := in.PushbackEnabled != nil && *in.PushbackEnabled
	if cfg.pushback != wantPushback || cfg.pushback && !d.SupportsPushback {
		fail("pushback %v (asked %v, supported %v)", cfg.pushback, wantPushback, d.SupportsPushback)
	}
	if m := cfg.mapping; m != nil {
		if !d.SupportsStatusMapping || !cfg.pushback {
			fail("a status mapping (supported %v, pushback %v)", d.SupportsStatusMapping, cfg.pushback)
		}
		for _, name := range m {
			if name == "" || name != strings.TrimSpace(name) || utf8.RuneCountInString(name) > MaxStatusName {
				fail("status mapping %q", m)
			}
		}
	} else if in.StatusMapping != nil {
		for _, p := range []*string{in.StatusMapping.Success, in.StatusMapping.Partial, in.StatusMapping.Failure, in.StatusMapping.NotAnswered} {
			if p != nil && strings.TrimSpace(*p) != "" {
				fail("status mapping %+v as none", *in.StatusMapping)
			}
		}
	}

	if cfg.interval < MinSyncInterval || cfg.interval > MaxSyncInterval || in.SyncIntervalSeconds == nil && cfg.interval != DefaultSyncInterval {
		fail("sync interval %d", cfg.interval)
	}
}

// validParam reports whether v is a normalised value of field f.
func validParam(f connector.SearchField, v any) bool {
	inBounds := func(n int) bool { return (f.Min == nil || n >= *f.Min) && (f.Max == nil || n <= *f.Max) }
	switch v := v.(type) {
	case int:
		return f.Type == schematype.FieldInt && inBounds(v)
	case string:
		return f.Type == schematype.FieldString && inBounds(utf8.RuneCountInString(v))
	case bool:
		return f.Type == schematype.FieldBoolean
	}
	return false
}

// input returns cfg as configureTrigger's input, every optional field given.
func (cfg triggerConfig) input() ConfigureTriggerInput {
	in := ConfigureTriggerInput{
		SearchType:          &cfg.searchType,
		SearchParams:        cfg.params,
		Description:         &cfg.description,
		References:          cfg.references,
		PushbackEnabled:     &cfg.pushback,
		SyncIntervalSeconds: &cfg.interval,
	}
	if m := cfg.mapping; m != nil {
		in.StatusMapping = &StatusMappingInput{Success: &m[0], Partial: &m[1], Failure: &m[2], NotAnswered: &m[3]}
	}
	return in
}
