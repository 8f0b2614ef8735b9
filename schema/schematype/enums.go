package schematype

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Every enum below is a string type whose values are at once the GraphQL
// enum values and the strings stored in the database: renaming a value
// changes the API and needs a migration. Each has
//
//   - Values, which ent reads to declare the column
//     (field.Enum(...).GoType(T(""))) and to validate writes;
//   - MarshalGQL and UnmarshalGQL, through which gqlgen reads and writes it
//     as the GraphQL enum of the same name (gqlgen.yml).
//
// The enums of graph/ent.graphqls also have Descriptions, the description
// of each value in the API reference (the EnumDoc annotation of their ent
// field passes them to the generator).

// ProviderKey names an external system: GraphQL ProviderKey, the stored
// integrations.provider.
type ProviderKey string

const (
	ProviderZvoove    ProviderKey = "ZVOOVE"
	ProviderTalention ProviderKey = "TALENTION"
	ProviderCompleet  ProviderKey = "COMPLEET"
	ProviderHubSpot   ProviderKey = "HUBSPOT"
)

// Values lists the provider keys in the order of the column declaration.
func (ProviderKey) Values() []string {
	return values(ProviderZvoove, ProviderTalention, ProviderCompleet, ProviderHubSpot)
}

// Descriptions describes each provider key in the API reference.
func (ProviderKey) Descriptions() map[string]string {
	return map[string]string{
		string(ProviderZvoove):    "zvoove, an applicant tracking system: triggers import its candidates.",
		string(ProviderTalention): "Talention, an applicant tracking system: triggers import its applications.",
		string(ProviderCompleet):  "Compleet, an applicant tracking system: triggers import its applications.",
		string(ProviderHubSpot):   "HubSpot, a CRM: triggers import its contacts.",
	}
}

// MarshalGQL implements graphql.Marshaler.
func (k ProviderKey) MarshalGQL(w io.Writer) { marshal(w, k) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (k *ProviderKey) UnmarshalGQL(v any) error { return unmarshal(k, v, "ProviderKey") }

// ReferenceKind is what a reference is in the external system: GraphQL
// ReferenceKind, the stored references.kind.
type ReferenceKind string

const (
	ReferenceJob      ReferenceKind = "JOB"
	ReferenceCampaign ReferenceKind = "CAMPAIGN"
	ReferenceList     ReferenceKind = "LIST"
	ReferenceSegment  ReferenceKind = "SEGMENT"
	ReferenceOffice   ReferenceKind = "OFFICE"
)

// Values lists the reference kinds in the order of the column declaration.
func (ReferenceKind) Values() []string {
	return values(ReferenceJob, ReferenceCampaign, ReferenceList, ReferenceSegment, ReferenceOffice)
}

// Descriptions describes each reference kind in the API reference.
func (ReferenceKind) Descriptions() map[string]string {
	return map[string]string{
		string(ReferenceJob):      "A job posting: its records are the applications to it.",
		string(ReferenceCampaign): "A campaign of the external system.",
		string(ReferenceList):     "A list of contacts, such as a HubSpot list.",
		string(ReferenceSegment):  "A segment of contacts of the external system.",
		string(ReferenceOffice):   "A branch office: its records are the candidates it manages.",
	}
}

// MarshalGQL implements graphql.Marshaler.
func (k ReferenceKind) MarshalGQL(w io.Writer) { marshal(w, k) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (k *ReferenceKind) UnmarshalGQL(v any) error { return unmarshal(k, v, "ReferenceKind") }

// CallOutcome is a call's result as the calling platform reports it:
// GraphQL CallOutcome, the stored call_results.outcome.
type CallOutcome string

const (
	OutcomeSuccess     CallOutcome = "SUCCESS"      // green
	OutcomePartial     CallOutcome = "PARTIAL"      // yellow
	OutcomeFailure     CallOutcome = "FAILURE"      // red
	OutcomeNotAnswered CallOutcome = "NOT_ANSWERED" // not answered
)

// Values lists the outcomes in the order of the column declaration.
func (CallOutcome) Values() []string {
	return values(OutcomeSuccess, OutcomePartial, OutcomeFailure, OutcomeNotAnswered)
}

// Descriptions describes each outcome in the API reference.
func (CallOutcome) Descriptions() map[string]string {
	return map[string]string{
		string(OutcomeSuccess):     "The call reached its goal (green).",
		string(OutcomePartial):     "The call partly reached its goal (yellow).",
		string(OutcomeFailure):     "The call did not reach its goal (red).",
		string(OutcomeNotAnswered): "Nobody answered the call.",
	}
}

// MarshalGQL implements graphql.Marshaler.
func (o CallOutcome) MarshalGQL(w io.Writer) { marshal(w, o) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (o *CallOutcome) UnmarshalGQL(v any) error { return unmarshal(o, v, "CallOutcome") }

// ImportIssueCode is why a fetched record was not imported: GraphQL
// ImportIssueCode, the stored import_issues.code. internal/phone answers
// with the two phone codes.
type ImportIssueCode string

const (
	// IssueMissingPhone: the record has no phone number (none, or only
	// blank values).
	IssueMissingPhone ImportIssueCode = "MISSING_PHONE"
	// IssueInvalidPhone: the record's phone numbers are not valid numbers
	// in the campaign's region or for their own country code.
	IssueInvalidPhone ImportIssueCode = "INVALID_PHONE"
	// IssueDuplicate: the campaign already has a contact with the number.
	IssueDuplicate ImportIssueCode = "DUPLICATE"
	// IssueFilteredOut: the record belongs to none of the trigger's
	// references.
	IssueFilteredOut ImportIssueCode = "FILTERED_OUT"
	// IssueInvalidRecord: the connector could not read the record
	// completely.
	IssueInvalidRecord ImportIssueCode = "INVALID_RECORD"
	// IssueScreenedOut: the screening model judged that the record does
	// not fit the trigger's description (or could not tell, and the
	// trigger imports only matches).
	IssueScreenedOut ImportIssueCode = "SCREENED_OUT"
	// IssueErased: the person is erased: the external system reports them
	// deleted or anonymised, or they were erased in Intake before.
	IssueErased ImportIssueCode = "ERASED"
	// IssueDoNotCall: the record's number is on the organization's
	// do-not-call list.
	IssueDoNotCall ImportIssueCode = "DO_NOT_CALL"
	// IssueUnsupportedNumberType: every valid number of the record is of a
	// type the campaign does not call (acceptedNumberTypes).
	IssueUnsupportedNumberType ImportIssueCode = "UNSUPPORTED_NUMBER_TYPE"
)

// Values lists the issue codes in the order of the column declaration.
func (ImportIssueCode) Values() []string {
	return values(IssueMissingPhone, IssueInvalidPhone, IssueDuplicate, IssueFilteredOut, IssueInvalidRecord, IssueScreenedOut, IssueErased, IssueDoNotCall, IssueUnsupportedNumberType)
}

// Descriptions describes each issue code in the API reference.
func (ImportIssueCode) Descriptions() map[string]string {
	return map[string]string{
		string(IssueMissingPhone):          "The record has no phone number (none, or only blank values). Counted in SyncRun.invalidPhone.",
		string(IssueInvalidPhone):          "None of the record's phone numbers is valid, read in the campaign's phone region or with its own country code. Counted in SyncRun.invalidPhone.",
		string(IssueDuplicate):             "The campaign already has a contact with the record's number, or an earlier record of the same page has it. Counted in SyncRun.duplicates.",
		string(IssueFilteredOut):           "The record belongs to none of the trigger's references. Counted in SyncRun.filteredOut.",
		string(IssueInvalidRecord):         "The connector could not read the record completely. Counted in SyncRun.failed.",
		string(IssueScreenedOut):           "The screening model judged that the record does not fit the trigger's description (NO_MATCH), or could not tell (UNSURE) and the trigger has importUnsure off; the message gives the decision and the model's reason. Counted in SyncRun.screenedOut.",
		string(IssueErased):                "The person is erased: the external system reports them deleted or anonymised (their contact, if any, is erased now), or they were erased in Intake before (eraseContact, erasePerson, an earlier report). Nothing of the record is kept: the issue has no external ID and no number. Counted in SyncRun.erased.",
		string(IssueDoNotCall):             "The record's number is on the organization's do-not-call list (addDoNotCall, or a call result with doNotCall). Counted in SyncRun.doNotCall.",
		string(IssueUnsupportedNumberType): "The record's valid numbers are all of types the campaign does not call (Campaign.acceptedNumberTypes: premium-rate and shared-cost numbers by default); the message names the type. Counted in SyncRun.invalidPhone.",
	}
}

// MarshalGQL implements graphql.Marshaler.
func (c ImportIssueCode) MarshalGQL(w io.Writer) { marshal(w, c) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (c *ImportIssueCode) UnmarshalGQL(v any) error { return unmarshal(c, v, "ImportIssueCode") }

// SearchFieldType is the type of a search parameter of a provider: GraphQL
// SearchFieldType. It is not stored: the connectors declare it.
type SearchFieldType string

const (
	FieldInt     SearchFieldType = "INT"
	FieldString  SearchFieldType = "STRING"
	FieldBoolean SearchFieldType = "BOOLEAN"
)

// Values lists the search field types.
func (SearchFieldType) Values() []string { return values(FieldInt, FieldString, FieldBoolean) }

// MarshalGQL implements graphql.Marshaler.
func (t SearchFieldType) MarshalGQL(w io.Writer) { marshal(w, t) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (t *SearchFieldType) UnmarshalGQL(v any) error { return unmarshal(t, v, "SearchFieldType") }

// Role is what a caller may do: GraphQL Role, the stored api_keys.role, and
// the role of an authenticated viewer (internal/viewer).
type Role string

const (
	// RoleAdmin may query, subscribe and mutate.
	RoleAdmin Role = "ADMIN"
	// RoleViewer may query and subscribe, not mutate.
	RoleViewer Role = "VIEWER"
)

// Values lists the roles in the order of the column declaration.
func (Role) Values() []string { return values(RoleAdmin, RoleViewer) }

// MarshalGQL implements graphql.Marshaler.
func (r Role) MarshalGQL(w io.Writer) { marshal(w, r) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (r *Role) UnmarshalGQL(v any) error { return unmarshal(r, v, "Role") }

// AuditActorKind is who made a change of the audit trail: GraphQL
// AuditActorKind, the stored audit_events.actor_kind.
type AuditActorKind string

const (
	// ActorAPIKey is an API key; the event names it.
	ActorAPIKey AuditActorKind = "API_KEY"
	// ActorWebhook is a verified webhook of an external system.
	ActorWebhook AuditActorKind = "WEBHOOK"
	// ActorSchedule is the scheduler.
	ActorSchedule AuditActorKind = "SCHEDULE"
	// ActorSystem is Intake itself.
	ActorSystem AuditActorKind = "SYSTEM"
)

// Values lists the actor kinds in the order of the column declaration.
func (AuditActorKind) Values() []string {
	return values(ActorAPIKey, ActorWebhook, ActorSchedule, ActorSystem)
}

// MarshalGQL implements graphql.Marshaler.
func (k AuditActorKind) MarshalGQL(w io.Writer) { marshal(w, k) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (k *AuditActorKind) UnmarshalGQL(v any) error { return unmarshal(k, v, "AuditActorKind") }

// ScreeningState is whether a trigger's description decides which of its
// records are imported: GraphQL ScreeningState, Trigger.screening and the
// stored sync_runs.screening (the state a run started with).
type ScreeningState string

const (
	// ScreeningOff: the trigger has no description, so there is nothing
	// to screen against.
	ScreeningOff ScreeningState = "OFF"
	// ScreeningNotConfigured: the trigger has a description, but no
	// screening model is configured: the description is not applied.
	ScreeningNotConfigured ScreeningState = "NOT_CONFIGURED"
	// ScreeningActive: a language model judges each record against the
	// description.
	ScreeningActive ScreeningState = "ACTIVE"
)

// Values lists the screening states in the order of the column
// declaration.
func (ScreeningState) Values() []string {
	return values(ScreeningOff, ScreeningNotConfigured, ScreeningActive)
}

// Descriptions documents each value in the API.
func (ScreeningState) Descriptions() map[string]string {
	return map[string]string{
		string(ScreeningOff):           "The trigger has no description: nothing is screened.",
		string(ScreeningNotConfigured): "The trigger has a description, but no screening model is configured on this server: the description is NOT applied, and records are imported as if it were empty.",
		string(ScreeningActive):        "A language model judges each record against the description; only matching records are imported.",
	}
}

// ScreeningFor is the screening state of a trigger with the description
// given, on a server with a screening model (configured) or without.
func ScreeningFor(description string, configured bool) ScreeningState {
	switch {
	case strings.TrimSpace(description) == "":
		return ScreeningOff
	case !configured:
		return ScreeningNotConfigured
	}
	return ScreeningActive
}

// MarshalGQL implements graphql.Marshaler.
func (s ScreeningState) MarshalGQL(w io.Writer) { marshal(w, s) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (s *ScreeningState) UnmarshalGQL(v any) error { return unmarshal(s, v, "ScreeningState") }

func values[T ~string](vs ...T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

func marshal[T ~string](w io.Writer, v T) {
	io.WriteString(w, strconv.Quote(string(v)))
}

// unmarshal sets *e to v when v is one of e's values. gqlgen checks enum
// input against the GraphQL schema before it gets here; the check makes
// UnmarshalGQL refuse what ent would refuse on write for any other caller.
func unmarshal[T interface {
	~string
	Values() []string
}](e *T, v any, name string) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("enum %s must be a string, not %T", name, v)
	}
	if !slices.Contains((*e).Values(), s) {
		return fmt.Errorf("%s is not a valid %s", s, name)
	}
	*e = T(s)
	return nil
}

// ScreeningDecision is the screening model's judgement of one record:
// GraphQL ScreeningDecision, the stored contacts.screening_decision and
// screening_verdicts.decision.
type ScreeningDecision string

const (
	// DecisionMatch: the record fits the description.
	DecisionMatch ScreeningDecision = "MATCH"
	// DecisionNoMatch: the record does not fit the description.
	DecisionNoMatch ScreeningDecision = "NO_MATCH"
	// DecisionUnsure: the record lacks the data to decide.
	DecisionUnsure ScreeningDecision = "UNSURE"
)

// Values lists the decisions in the order of the column declaration.
func (ScreeningDecision) Values() []string {
	return values(DecisionMatch, DecisionNoMatch, DecisionUnsure)
}

// Descriptions documents each value in the API.
func (ScreeningDecision) Descriptions() map[string]string {
	return map[string]string{
		string(DecisionMatch):   "The record fits the description: it is imported.",
		string(DecisionNoMatch): "The record does not fit the description: it is not imported (a SCREENED_OUT import issue).",
		string(DecisionUnsure):  "The record lacks the data to decide: it is imported when the trigger's importUnsure is on (the default), else a SCREENED_OUT import issue.",
	}
}

// MarshalGQL implements graphql.Marshaler.
func (d ScreeningDecision) MarshalGQL(w io.Writer) { marshal(w, d) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (d *ScreeningDecision) UnmarshalGQL(v any) error { return unmarshal(d, v, "ScreeningDecision") }

// DoNotCallSource is how a number came onto the do-not-call list: GraphQL
// DoNotCallSource, the stored do_not_calls.source.
type DoNotCallSource string

const (
	// DoNotCallAPI: addDoNotCall.
	DoNotCallAPI DoNotCallSource = "API"
	// DoNotCallCallResult: a call result with doNotCall (the person asked
	// not to be called again).
	DoNotCallCallResult DoNotCallSource = "CALL_RESULT"
	// DoNotCallImport: importDoNotCall brought it in with a list.
	DoNotCallImport DoNotCallSource = "IMPORT"
)

// Values lists the sources in the order of the column declaration.
func (DoNotCallSource) Values() []string {
	return values(DoNotCallAPI, DoNotCallCallResult, DoNotCallImport)
}

// Descriptions documents each value in the API.
func (DoNotCallSource) Descriptions() map[string]string {
	return map[string]string{
		string(DoNotCallAPI):        "Added with addDoNotCall.",
		string(DoNotCallCallResult): "Added by recordCallResult with doNotCall: the person asked not to be called again.",
		string(DoNotCallImport):     "Brought in with a list by importDoNotCall.",
	}
}

// MarshalGQL implements graphql.Marshaler.
func (s DoNotCallSource) MarshalGQL(w io.Writer) { marshal(w, s) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (s *DoNotCallSource) UnmarshalGQL(v any) error { return unmarshal(s, v, "DoNotCallSource") }

// NumberType is what a phone number is, from the phone library's offline
// data: GraphQL NumberType, the stored contacts.number_type and the values
// of campaigns.accepted_number_types.
type NumberType string

const (
	NumberMobile            NumberType = "MOBILE"
	NumberFixedLine         NumberType = "FIXED_LINE"
	NumberFixedLineOrMobile NumberType = "FIXED_LINE_OR_MOBILE"
	NumberVoIP              NumberType = "VOIP"
	NumberTollFree          NumberType = "TOLL_FREE"
	NumberPremiumRate       NumberType = "PREMIUM_RATE"
	NumberSharedCost        NumberType = "SHARED_COST"
	NumberPersonal          NumberType = "PERSONAL_NUMBER"
	NumberPager             NumberType = "PAGER"
	NumberUAN               NumberType = "UAN"
	NumberVoicemail         NumberType = "VOICEMAIL"
	NumberUnknown           NumberType = "UNKNOWN"
)

// Values lists the number types.
func (NumberType) Values() []string {
	return values(NumberMobile, NumberFixedLine, NumberFixedLineOrMobile, NumberVoIP, NumberTollFree, NumberPremiumRate,
		NumberSharedCost, NumberPersonal, NumberPager, NumberUAN, NumberVoicemail, NumberUnknown)
}

// Descriptions documents each value in the API.
func (NumberType) Descriptions() map[string]string {
	return map[string]string{
		string(NumberMobile):            "A mobile number.",
		string(NumberFixedLine):         "A landline number.",
		string(NumberFixedLineOrMobile): "A number the numbering plan does not tell apart: landline or mobile (the United States, for one).",
		string(NumberVoIP):              "A number of an internet telephony service.",
		string(NumberTollFree):          "A freephone number (0800 in Germany).",
		string(NumberPremiumRate):       "A premium-rate number (0900 in Germany): calling it costs extra. Not called by default.",
		string(NumberSharedCost):        "A shared-cost number (0180 in Germany). Not called by default.",
		string(NumberPersonal):          "A personal number, routed to wherever its owner chooses (0700 in Germany).",
		string(NumberPager):             "A pager number.",
		string(NumberUAN):               "A universal access number of a company.",
		string(NumberVoicemail):         "A voicemail access number.",
		string(NumberUnknown):           "A valid number whose type the phone library's data does not tell.",
	}
}

// DefaultAcceptedNumberTypes are the types a campaign calls unless it says
// otherwise: every type a dialer may call, not premium-rate or shared-cost
// numbers.
func DefaultAcceptedNumberTypes() []NumberType {
	var out []NumberType
	for _, v := range NumberType("").Values() {
		if t := NumberType(v); t != NumberPremiumRate && t != NumberSharedCost {
			out = append(out, t)
		}
	}
	return out
}

// MarshalGQL implements graphql.Marshaler.
func (t NumberType) MarshalGQL(w io.Writer) { marshal(w, t) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (t *NumberType) UnmarshalGQL(v any) error { return unmarshal(t, v, "NumberType") }

// Weekday is a day of the week: GraphQL Weekday and CallingWindow.day.
type Weekday string

const (
	Monday    Weekday = "MONDAY"
	Tuesday   Weekday = "TUESDAY"
	Wednesday Weekday = "WEDNESDAY"
	Thursday  Weekday = "THURSDAY"
	Friday    Weekday = "FRIDAY"
	Saturday  Weekday = "SATURDAY"
	Sunday    Weekday = "SUNDAY"
)

// Values lists the days, Monday first.
func (Weekday) Values() []string {
	return values(Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday)
}

// WeekdayOf is the Weekday of a time.Weekday.
func WeekdayOf(d time.Weekday) Weekday {
	return Weekday(strings.ToUpper(d.String()))
}

// MarshalGQL implements graphql.Marshaler.
func (d Weekday) MarshalGQL(w io.Writer) { marshal(w, d) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (d *Weekday) UnmarshalGQL(v any) error { return unmarshal(d, v, "Weekday") }
