// Package connector defines how Intake talks to the external systems where
// contacts live (ATS and CRMs). A Provider describes one external system and
// opens Connectors bound to one integration's credentials; the sync engine,
// the pushback worker and the webhook endpoint use only this interface.
//
// Providers are registered explicitly (see Registry); there are no init-time
// side effects.
//
// The enums the connectors share with the stored data and the GraphQL API
// (provider keys, reference kinds, search field types, call outcomes) and
// question results are the types of schema/schematype, used as they are.
package connector

import (
	"context"
	"iter"
	"log/slog"
	"net/http"
	"time"

	"github.com/intake/intake/internal/egress"
	"github.com/intake/intake/schema/schematype"
)

// Search type keys shared by providers.
const (
	SearchNewApplications = "new_applications"
	SearchTalentPool      = "talent_pool_research"
)

// SearchField is one parameter of a search type.
type SearchField struct {
	Key         string
	Label       string
	Description string
	Type        schematype.SearchFieldType
	Required    bool
	Min, Max    *int // bounds of an INT field (inclusive); length bounds of a STRING field
}

// SearchType is a kind of search a provider can run, with its parameters.
type SearchType struct {
	Key         string
	Name        string
	Description string
	IsDefault   bool
	Fields      []SearchField
}

// Descriptor is what a provider is and can do. It is static data.
type Descriptor struct {
	Key                   schematype.ProviderKey
	Name                  string
	SupportsPushback      bool
	SupportsStatusMapping bool
	SupportsWebhooks      bool
	SearchTypes           []SearchType
	ReferenceKinds        []schematype.ReferenceKind
	// CredentialKeys lists every key the credentials map may hold.
	CredentialKeys []string
	// AccountKeys are the credentials that name the external account whose
	// limits requests count against (with the base URL): integrations with
	// the same values share one rate budget.
	AccountKeys []string
	// RateLimits are the provider's documented (or, where it documents
	// none, conservative) limits of an account.
	RateLimits RateLimits
}

// SearchType returns the search type with the given key.
func (d Descriptor) SearchType(key string) (SearchType, bool) {
	for _, st := range d.SearchTypes {
		if st.Key == key {
			return st, true
		}
	}
	return SearchType{}, false
}

// DefaultSearchType returns the provider's default search type.
func (d Descriptor) DefaultSearchType() SearchType {
	for _, st := range d.SearchTypes {
		if st.IsDefault {
			return st
		}
	}
	return d.SearchTypes[0]
}

// Credentials are an integration's secrets and settings (baseURL, apiKey, ...).
// They are decrypted only to open a Connector and never logged.
type Credentials map[string]string

// Options carry the process-wide dependencies of a Connector.
type Options struct {
	// HTTPClient sends the requests; nil means a client with DefaultTimeout
	// that dials through Egress and follows at most a few http(s)
	// redirects. A non-nil HTTPClient is used as it is: Egress does not
	// apply to it.
	HTTPClient *http.Client
	// Egress decides which addresses requests may connect to, redirects
	// and OAuth token requests included. nil applies no policy: that is
	// for tests and tools that call loopback fakes they started. Intake
	// reaches external systems only through internal/service, which
	// always sets one.
	Egress *egress.Policy
	// Retry bounds the retries of one request; the zero value means DefaultRetry.
	Retry RetryPolicy
	// Logger receives request logs (never credentials or bodies); nil discards.
	Logger *slog.Logger
	// Now is the clock (webhook timestamps, date filters); nil means time.Now.
	Now func() time.Time
	// Limiter paces every request to the external account (nil: none):
	// Intake gives each connector the rate budget of its account, shared by
	// every integration, job and replica that reaches that account.
	Limiter Limiter
}

// Limiter is the rate budget of one external account.
type Limiter interface {
	// Wait returns when a request may be sent (search: it also counts
	// against the account's search limit), or ctx's error. Once granted,
	// the request must end with exactly one call of done: when its answer
	// arrives, with the answer's status and headers (the limit headers the
	// provider sends: HubSpot's X-HubSpot-RateLimit-*, Retry-After), or
	// when it fails or is not sent after all, with 0 and nil. The account
	// counts the request from then: it reached the provider at some time
	// before, however late.
	Wait(ctx context.Context, search bool) (done func(status int, h http.Header), err error)
}

// RateLimits are an external account's documented request limits.
type RateLimits struct {
	// Requests are allowed per Interval (a rolling window).
	Requests int
	Interval time.Duration
	// SearchesPerSecond bounds requests marked Search (0: no such limit).
	SearchesPerSecond int
	// Daily bounds the requests of a day (UTC; 0: no such limit).
	Daily int
}

// Provider describes an external system and opens connectors to it.
type Provider interface {
	Descriptor() Descriptor
	// Open validates creds without any network request and returns a
	// Connector bound to them. Bad credentials return a *CredentialError
	// naming the key.
	Open(creds Credentials, opts Options) (Connector, error)
}

// Connector talks to one integration of an external system. Every method is
// safe for concurrent use and returns *Error for failures of the external
// system. Methods a provider does not support return ErrUnsupported.
type Connector interface {
	// Check makes one cheap authenticated request to verify the credentials.
	Check(ctx context.Context) error

	// References lists the references (jobs, offices, lists, ...) whose name
	// contains q.Search, one page at a time.
	References(ctx context.Context, q ReferenceQuery) (ReferencePage, error)

	// Fetch streams the records of a search one page at a time, starting
	// after req.Cursor ("" = from the beginning). Each yielded Page carries
	// the cursor to resume after it. The sequence ends after the last page,
	// or after yielding one error. Breaking out of the loop stops all work.
	Fetch(ctx context.Context, req FetchRequest) iter.Seq2[*Page, error]

	// Push delivers one call result. Providers without pushback return
	// ErrUnsupported.
	Push(ctx context.Context, p PushRequest) error

	// ParseWebhook verifies an incoming webhook's signature and returns its
	// events. A missing, wrong or stale signature returns an error wrapping
	// ErrUnauthorized. Providers without webhooks return ErrUnsupported.
	ParseWebhook(r WebhookRequest) ([]WebhookEvent, error)
}

// ReferenceQuery asks for a page of references.
type ReferenceQuery struct {
	Search string // case-insensitive substring of the name; "" = all
	Cursor string // "" = first page
	Limit  int    // page size; <= 0 means the provider's default
}

// Reference is a job, office, list, ... in the external system.
type Reference struct {
	ExternalID string
	Kind       schematype.ReferenceKind
	Name       string
}

// ReferencePage is one page of references; NextCursor is "" on the last page.
type ReferencePage struct {
	Items      []Reference
	NextCursor string
}

// FetchRequest is one search run against the external system.
type FetchRequest struct {
	SearchType string         // a key of Descriptor.SearchTypes
	Params     map[string]any // validated against the search type's fields
	// References restricts the search; empty means everything the search
	// type covers (e.g. every active office).
	References []Reference
	// Since is the watermark of "new applications": records created at or
	// after it. Zero means from the beginning.
	Since time.Time
	// Cursor resumes after the page that returned it; "" starts at the top.
	Cursor string
}

// Page is one page of fetched records.
type Page struct {
	Records []Record
	// Cursor resumes the fetch after this page. It is opaque to callers.
	Cursor string
	// Total is the number of records the whole search will yield, when the
	// external system tells it; -1 when unknown.
	Total int
}

// Record is one contact as the external system has it, before validation.
type Record struct {
	ExternalID string
	FirstName  string
	LastName   string
	Email      string
	// Phones are the raw phone numbers in order of preference; the first
	// valid one becomes the contact's phone.
	Phones []string
	// ReferenceIDs are the external IDs of the references (jobs, offices,
	// lists) the record belongs to.
	ReferenceIDs []string
	// Attributes are values kept with the contact: the fit attributes
	// (FitAttributes) where the external system has them, and
	// provider-specific values such as the application ID that pushback
	// needs.
	Attributes map[string]any
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// Problem is non-empty when the record could not be read completely; the
	// record then becomes an INVALID_RECORD import issue.
	Problem string
	// Gone is non-empty when the external system reports the person
	// deleted or anonymised (e.g. zvoove's change-log status "Anonymized"):
	// the person is erased wherever Intake holds them, and the record
	// becomes an ERASED import issue. Only ExternalID needs to be set.
	Gone string
}

// The fit attributes: the keys of Record.Attributes that describe whether
// a person fits a campaign, in one vocabulary for every provider. Values
// are strings, except AttrTags, a list of strings; a key is absent when the
// external system has no value. They, and nothing else of a record, are
// what screening shows the language model, after redaction
// (internal/screening). Never put phone numbers, e-mail addresses or names
// in them.
const (
	AttrPosition       = "position"       // the job or position applied for
	AttrProfession     = "profession"     // the person's profession or trade
	AttrStatus         = "status"         // the person's or application's status or stage in the external system
	AttrLocation       = "location"       // office, city or country
	AttrSource         = "source"         // where the application or lead came from
	AttrTags           = "tags"           // labels the external system attaches ([]string)
	AttrJobTitle       = "jobTitle"       // the current job title (CRM)
	AttrCompany        = "company"        // the current employer (CRM)
	AttrIndustry       = "industry"       // the employer's industry (CRM)
	AttrLifecycleStage = "lifecycleStage" // the CRM's lifecycle stage
	AttrLeadStatus     = "leadStatus"     // the CRM's lead status
)

// FitAttributes lists the fit attribute keys.
var FitAttributes = []string{AttrPosition, AttrProfession, AttrStatus, AttrLocation, AttrSource, AttrTags,
	AttrJobTitle, AttrCompany, AttrIndustry, AttrLifecycleStage, AttrLeadStatus}

// FitOf returns the fit attributes of attrs (nil when it has none).
func FitOf(attrs map[string]any) map[string]any {
	var out map[string]any
	for _, k := range FitAttributes {
		if v, ok := attrs[k]; ok && v != nil {
			if out == nil {
				out = make(map[string]any, len(FitAttributes))
			}
			out[k] = v
		}
	}
	return out
}

// ContactRef identifies the contact in the external system.
type ContactRef struct {
	ExternalID string
	Attributes map[string]any // as the connector returned them in Record.Attributes
}

// PushRequest is one call result to deliver.
type PushRequest struct {
	// Key identifies the delivery: it is the same for every attempt of it.
	// None of the external systems documents de-duplication of the writes
	// a pushback makes, so connectors mark what they create with Key and,
	// before creating it again, look for their own marker.
	Key string
	// Redelivery is true when an earlier attempt of this delivery may have
	// reached the external system (it failed, or its process died): the
	// connector then looks for its marker before its first write.
	Redelivery      bool
	Contact         ContactRef
	Outcome         schematype.CallOutcome
	Transcript      string
	QuestionResults []schematype.QuestionResult
	CalledAt        time.Time
	Duration        time.Duration
	// MappedStatus is the status name to set in the external system for this
	// outcome; "" sends the result without a status change.
	MappedStatus string
}

// WebhookRequest is an incoming webhook as received over HTTP.
type WebhookRequest struct {
	Method string
	// URL is the full URL the external system called (scheme, host, path,
	// query); some signatures cover it.
	URL    string
	Header http.Header
	Body   []byte
	Now    time.Time
}

// WebhookEvent is one change the external system announced.
type WebhookEvent struct {
	ID         string // the provider's event ID, when it has one
	Type       string // e.g. "application.created", "contact.creation"
	ExternalID string // the object the event is about
	OccurredAt time.Time
	// Gone: the event reports the person ExternalID deleted or to be
	// erased (HubSpot's contact.deletion, contact.privacyDeletion): Intake
	// erases them instead of syncing.
	Gone bool
}

// MaxWebhookAge is how old a signed webhook may be before it is refused.
const MaxWebhookAge = 5 * time.Minute

// Marker is the text a delivery leaves in what it creates (a logged call,
// a note): "Intake reference: <key>". A connector that retries a create
// looks for it to find the create's earlier effect.
func Marker(key string) string { return "Intake reference: " + key }
