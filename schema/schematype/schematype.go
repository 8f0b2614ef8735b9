// Package schematype holds the Go types of data-model fields that the rest of
// Intake shares: the enums (enums.go) and the types of JSON fields.
//
// Each type here is the only definition of its values. ent stores it
// (field.Enum(...).GoType, field.JSON), gqlgen binds the GraphQL type of the
// same name to it (gqlgen.yml; the package is also autobound), and the
// connectors, the sync engine and the services use it as it is, so no code
// converts between two spellings of one enum. The package imports only the
// standard library: the ent schema, the GraphQL layer and the connectors all
// import it, and it must not pull any of them into another.
package schematype

// QuestionResult is one question asked during a call and its answer: the
// stored call_results.question_results, the GraphQL QuestionResult and
// QuestionResultInput, and what pushbacks send to the external system.
type QuestionResult struct {
	Question string `json:"question"`
	Answer   string `json:"answer"`
}

// CallingWindow is a time of day on a weekday when a campaign calls, in the
// local time of each contact's number: the stored campaigns.calling_hours,
// GraphQL CallingWindow and CallingWindowInput.
type CallingWindow struct {
	Day Weekday `json:"day"`
	// Start and End are "HH:MM", 24-hour; Start is inclusive, End
	// exclusive, "24:00" the end of the day.
	Start string `json:"start"`
	End   string `json:"end"`
}

// DefaultCallingHours are the hours of a campaign that names none: Monday
// to Friday, 09:00 to 18:00.
func DefaultCallingHours() []CallingWindow {
	var out []CallingWindow
	for _, d := range []Weekday{Monday, Tuesday, Wednesday, Thursday, Friday} {
		out = append(out, CallingWindow{Day: d, Start: "09:00", End: "18:00"})
	}
	return out
}

// RateLimit is an integration's own limit of requests to its external
// account, replacing the provider's default: the stored
// integrations.rate_limit, GraphQL RateLimit and RateLimitInput.
type RateLimit struct {
	// Requests are allowed per IntervalSeconds, a rolling window.
	Requests        int `json:"requests"`
	IntervalSeconds int `json:"intervalSeconds"`
	// SearchesPerSecond bounds searches (HubSpot's CRM search); 0: none.
	SearchesPerSecond int `json:"searchesPerSecond,omitempty"`
	// Daily bounds a day's requests (UTC); 0: none.
	Daily int `json:"daily,omitempty"`
}
