package schematype

import (
	"bytes"
	"io"
	"slices"
	"testing"
)

// TestEnums pins each enum's values, which are stored strings and GraphQL
// values at once: changing one here must be deliberate (it needs a
// migration and changes the API). It also checks the GraphQL marshalling.
func TestEnums(t *testing.T) {
	for _, e := range []struct {
		name   string
		values []string
		want   []string
		marsh  func(string) string
		unmar  func(any) (string, error)
	}{
		{"ProviderKey", ProviderKey("").Values(), []string{"ZVOOVE", "TALENTION", "COMPLEET", "HUBSPOT"},
			marshalGQL[ProviderKey], unmarshalGQL[ProviderKey]},
		{"ReferenceKind", ReferenceKind("").Values(), []string{"JOB", "CAMPAIGN", "LIST", "SEGMENT", "OFFICE"},
			marshalGQL[ReferenceKind], unmarshalGQL[ReferenceKind]},
		{"CallOutcome", CallOutcome("").Values(), []string{"SUCCESS", "PARTIAL", "FAILURE", "NOT_ANSWERED"},
			marshalGQL[CallOutcome], unmarshalGQL[CallOutcome]},
		{"ImportIssueCode", ImportIssueCode("").Values(), []string{"MISSING_PHONE", "INVALID_PHONE", "DUPLICATE", "FILTERED_OUT", "INVALID_RECORD", "SCREENED_OUT", "ERASED", "DO_NOT_CALL", "UNSUPPORTED_NUMBER_TYPE"},
			marshalGQL[ImportIssueCode], unmarshalGQL[ImportIssueCode]},
		{"SearchFieldType", SearchFieldType("").Values(), []string{"INT", "STRING", "BOOLEAN"},
			marshalGQL[SearchFieldType], unmarshalGQL[SearchFieldType]},
		{"Role", Role("").Values(), []string{"ADMIN", "VIEWER"},
			marshalGQL[Role], unmarshalGQL[Role]},
		{"AuditActorKind", AuditActorKind("").Values(), []string{"API_KEY", "WEBHOOK", "SCHEDULE", "SYSTEM"},
			marshalGQL[AuditActorKind], unmarshalGQL[AuditActorKind]},
		{"ScreeningState", ScreeningState("").Values(), []string{"OFF", "NOT_CONFIGURED", "ACTIVE"},
			marshalGQL[ScreeningState], unmarshalGQL[ScreeningState]},
		{"ScreeningDecision", ScreeningDecision("").Values(), []string{"MATCH", "NO_MATCH", "UNSURE"},
			marshalGQL[ScreeningDecision], unmarshalGQL[ScreeningDecision]},
		{"DoNotCallSource", DoNotCallSource("").Values(), []string{"API", "CALL_RESULT", "IMPORT"},
			marshalGQL[DoNotCallSource], unmarshalGQL[DoNotCallSource]},
		{"NumberType", NumberType("").Values(), []string{"MOBILE", "FIXED_LINE", "FIXED_LINE_OR_MOBILE", "VOIP", "TOLL_FREE", "PREMIUM_RATE",
			"SHARED_COST", "PERSONAL_NUMBER", "PAGER", "UAN", "VOICEMAIL", "UNKNOWN"},
			marshalGQL[NumberType], unmarshalGQL[NumberType]},
		{"Weekday", Weekday("").Values(), []string{"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"},
			marshalGQL[Weekday], unmarshalGQL[Weekday]},
	} {
		t.Run(e.name, func(t *testing.T) {
			if !slices.Equal(e.values, e.want) {
				t.Fatalf("Values() = %q, want %q", e.values, e.want)
			}
			for _, v := range e.values {
				if got := e.marsh(v); got != `"`+v+`"` {
					t.Errorf("MarshalGQL of %s wrote %s", v, got)
				}
				if got, err := e.unmar(v); err != nil || got != v {
					t.Errorf("UnmarshalGQL(%q) = %q, %v", v, got, err)
				}
			}
			for _, bad := range []any{"", "nope", e.want[0] + " ", 1, nil} {
				if got, err := e.unmar(bad); err == nil || got != "" {
					t.Errorf("UnmarshalGQL(%#v) = %q, %v; want an error and no value", bad, got, err)
				}
			}
		})
	}
}

func marshalGQL[T interface {
	~string
	MarshalGQL(io.Writer)
}](v string) string {
	var b bytes.Buffer
	T(v).MarshalGQL(&b)
	return b.String()
}

func unmarshalGQL[T ~string, P interface {
	*T
	UnmarshalGQL(any) error
}](v any) (string, error) {
	var e T
	err := P(&e).UnmarshalGQL(v)
	return string(e), err
}
