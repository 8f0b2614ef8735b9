// Package hubspotfake is a loopback FAKE of the HubSpot CRM API, for tests
// and the demo. It is not HubSpot and must never be presented as such.
//
// It speaks the documented HubSpot v3 shapes (see docs/providers.md) for
// the endpoints Intake uses: contact search (with HubSpot's cap of 10,000
// results per search), contact list, read, batch read and update, list
// search (path ASSUMED), list memberships, call logging and reading (one
// call, a batch of calls, a contact's associated calls). Contacts are the
// people of a sandbox.Dataset, generated on demand: every request costs
// O(page size), so a data set of a million people works. What changes
// (logged calls, lead statuses, archived contacts: see Archive) lives in
// small maps.
//
// It is no kinder than HubSpot: it applies every write it is sent, retries
// included, since HubSpot documents no idempotency key for CRM writes, and
// its rate limit answer is the documented one. Contract lists the facts the
// fake serves, each with its source; Server.Contract checks every request
// and answer against them.
//
// Mapping of the data set: contact id = Person.ID, createdate = CreatedAt,
// lastmodifieddate = UpdatedAt; the first phone is the mobilephone property
// and the second the phone property (a person with one phone has it in
// phone when its index is a multiple of 3, else in mobilephone); jobtitle
// = Profession, company = Company, industry = Industry, lifecyclestage =
// LifecycleStage, city = City, country = CountryName, and hs_lead_status
// is unset until a PATCH sets it. A contact carries only the properties
// asked for (firstname, lastname and email when none are), plus
// createdate, lastmodifieddate and hs_object_id. Person i
// belongs to the list of its group (ListID(i % Groups)), with
// membershipTimestamp = CreatedAt.
package hubspotfake

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/contract"
)

// Defaults of Config.
const (
	DefaultAccessToken   = "sandbox-hubspot-access-token"
	DefaultWebhookSecret = "sandbox-hubspot-client-secret"
)

// Limits the fake enforces as HubSpot does.
const (
	// SearchResultCap is how many results one search can page through:
	// an after of SearchResultCap or more is refused with a 400.
	SearchResultCap = 10000
	// MaxSearchLimit is the largest page of a contact search.
	MaxSearchLimit = 200
	// MaxBatchRead is the most objects (contacts, calls) one batch read
	// takes.
	MaxBatchRead = 100
	// MaxMembershipLimit is the largest page of list memberships.
	MaxMembershipLimit = 250
	// MaxListSearchCount is the largest page of a list search.
	MaxListSearchCount = 500
	// MaxAssociationLimit is the largest (and the default) page of a v4
	// association listing.
	MaxAssociationLimit = 500
)

// HubSpot's identifiers the fake checks.
const (
	// ContactObjectTypeID is the object type of contact lists.
	ContactObjectTypeID = "0-1"
	// CallToContactAssociation is the HUBSPOT_DEFINED association type of
	// a call to a contact.
	CallToContactAssociation = 194
	// ContactToCallAssociation is the same association seen from the
	// contact.
	ContactToCallAssociation = 193
	// PortalID is the account ID of the fake.
	PortalID = 62515
)

// LeadStatuses are the options of the hs_lead_status property.
var LeadStatuses = []string{"NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED", "ATTEMPTED_TO_CONTACT", "CONNECTED", "BAD_TIMING"}

// callStatuses are the options of the hs_call_status property.
var callStatuses = []string{"BUSY", "CALLING_CRM_USER", "CANCELED", "COMPLETED", "CONNECTING", "FAILED", "IN_PROGRESS", "MISSED", "NO_ANSWER", "QUEUED", "RINGING"}

// Config configures a fake.
type Config struct {
	// Dataset provides the contacts.
	Dataset sandbox.Dataset
	// AccessToken is the bearer token accepted; "" means DefaultAccessToken.
	AccessToken string
	// WebhookSecret is the app's client secret that signs webhooks; ""
	// means DefaultWebhookSecret.
	WebhookSecret string
	// Now is the clock of created objects; nil means time.Now.
	Now func() time.Time
	// FaultSeed seeds the fault injector.
	FaultSeed uint64
	// Limits, if set, are enforced on every request as HubSpot does
	// (FreeAccount are a Free account's); see Server.LimitStats.
	Limits *Limits
}

// Call is a call engagement logged on the fake.
type Call struct {
	ID         string
	ContactIDs []string
	Properties map[string]string
	CreatedAt  time.Time
}

// Server is a fake HubSpot account.
type Server struct {
	// Faults injects failures before requests are handled.
	Faults *sandbox.Faults
	// Writes logs every write; it de-duplicates nothing.
	Writes *sandbox.WriteLog
	// Contract checks every request and answer against Contract.
	Contract *contract.Checker

	data   sandbox.Dataset
	groups int
	token  string
	secret string
	now    func() time.Time

	mu           sync.Mutex
	leadStatus   map[string]string // contact ID -> hs_lead_status
	calls        []Call            // in creation order; ID = firstCallID + index
	contactCalls map[string][]int  // contact ID -> indexes in calls, in creation order
	archivedAt   map[int]time.Time // person index -> when it was archived (see Archive)
	archivedIdx  []int             // the keys of archivedAt, ascending
	limits       *limiter          // nil: no limits enforced; see SetLimits
}

// New returns a fake serving cfg.Dataset.
func New(cfg Config) *Server {
	s := &Server{
		Faults:       sandbox.NewFaults(cfg.FaultSeed),
		Writes:       sandbox.NewWriteLog(),
		Contract:     contract.New(Contract),
		data:         cfg.Dataset,
		groups:       cfg.Dataset.Groups,
		token:        cmp.Or(cfg.AccessToken, DefaultAccessToken),
		secret:       cmp.Or(cfg.WebhookSecret, DefaultWebhookSecret),
		now:          cfg.Now,
		leadStatus:   map[string]string{},
		contactCalls: map[string][]int{},
		archivedAt:   map[int]time.Time{},
	}
	// HubSpot documents its limits in X-HubSpot-RateLimit-* headers and no
	// Retry-After: an injected 429 says when the ten-second window ends in
	// those terms only.
	s.Faults.SetRateLimitHeaders(func(h http.Header, _ time.Duration) {
		h.Set("X-HubSpot-RateLimit-Max", "100")
		h.Set("X-HubSpot-RateLimit-Remaining", "0")
		h.Set("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
	})
	if s.groups <= 0 {
		s.groups = 5 // the data set's default
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.SetLimits(cfg.Limits)
	return s
}

// Credentials returns the credentials that connect the HubSpot connector
// to this fake served at baseURL.
func (s *Server) Credentials(baseURL string) connector.Credentials {
	return connector.Credentials{"baseURL": baseURL, "accessToken": s.token, "webhookSecret": s.secret}
}

// LeadStatus returns the contact's current hs_lead_status ("" when unset).
func (s *Server) LeadStatus(contactID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leadStatus[contactID]
}

// Calls returns the calls logged so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Handler serves the fake's API. It works mounted under a path prefix
// (http.StripPrefix): it never emits absolute URLs.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /crm/v3/objects/contacts", s.listContacts)
	mux.HandleFunc("GET /crm/v3/objects/contacts/{id}", s.getContact)
	mux.HandleFunc("PATCH /crm/v3/objects/contacts/{id}", s.updateContact)
	mux.HandleFunc("POST /crm/v3/objects/contacts/search", s.searchContacts)
	mux.HandleFunc("POST /crm/v3/objects/contacts/batch/read", s.batchReadContacts)
	mux.HandleFunc("POST /crm/v3/lists/search", s.searchLists)
	mux.HandleFunc("GET /crm/v3/lists/{listId}/memberships", s.listMemberships)
	mux.HandleFunc("POST /crm/v3/objects/calls", s.createCall)
	mux.HandleFunc("GET /crm/v3/objects/calls/{callId}", s.getCall)
	mux.HandleFunc("POST /crm/v3/objects/calls/batch/read", s.batchReadCalls)
	mux.HandleFunc("GET /crm/v4/objects/contacts/{contactId}/associations/calls", s.listContactCalls)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s in the sandbox", r.Method, r.URL.Path))
	})
	// The checker is outermost, so that it sees the injected faults too.
	return s.Contract.Wrap(bufferBody(s.enforce(s.Faults.Middleware(s.authorize(mux), writeError))))
}

// bufferBody reads each request body before anything else, so that the
// server notices a client that hangs up during an injected stall (it
// watches the connection only once the body is read).
func bufferBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			writeError(w, http.StatusBadRequest, "Could not read the request body: "+err.Error())
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// authorize refuses requests without the account's bearer token.
func (s *Server) authorize(next http.Handler) http.Handler {
	want := []byte("Bearer " + s.token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("Authorization")
		switch {
		case got == "":
			writeError(w, http.StatusUnauthorized, "Authentication credentials not found. This API supports OAuth 2.0 authentication and private app access tokens.")
		case subtle.ConstantTimeCompare([]byte(got), want) != 1:
			writeError(w, http.StatusUnauthorized, "The access token is invalid or has expired.")
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// apiError is HubSpot's error body.
type apiError struct {
	Status        string              `json:"status"`
	Message       string              `json:"message"`
	Category      string              `json:"category,omitempty"`
	CorrelationID string              `json:"correlationId"`
	Context       map[string][]string `json:"context,omitempty"`
}

func newError(status int, msg string) apiError {
	return apiError{Status: "error", Message: msg, Category: category(status), CorrelationID: correlationID()}
}

func category(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "VALIDATION_ERROR"
	case http.StatusUnauthorized:
		return "INVALID_AUTHENTICATION"
	case http.StatusForbidden:
		return "MISSING_SCOPES"
	case http.StatusNotFound:
		return "OBJECT_NOT_FOUND"
	}
	return "INTERNAL_ERROR"
}

// rateLimitError is HubSpot's answer to too many requests, which differs
// from its other errors: errorType and policyName instead of category.
// Source: developers.hubspot.com/docs/api/usage-details ("Error
// responses"). HubSpot documents X-HubSpot-RateLimit-* headers with it,
// not Retry-After.
type rateLimitError struct {
	Status        string `json:"status"`
	Message       string `json:"message"`
	ErrorType     string `json:"errorType"`
	CorrelationID string `json:"correlationId"`
	PolicyName    string `json:"policyName"`
	RequestID     string `json:"requestId"`
}

// writeError answers with HubSpot's error shape for status.
func writeError(w http.ResponseWriter, status int, msg string) {
	if status == http.StatusTooManyRequests {
		sandbox.WriteJSON(w, status, rateLimitError{
			Status: "error", Message: msg, ErrorType: "RATE_LIMIT", CorrelationID: correlationID(),
			PolicyName: "TEN_SECONDLY_ROLLING", RequestID: correlationID(),
		})
		return
	}
	sandbox.WriteJSON(w, status, newError(status, msg))
}

func correlationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// maxBody bounds a request body.
const maxBody = 1 << 20

// readBody reads a request body that bufferBody read already.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Could not read the request body: "+err.Error())
		return nil, false
	}
	return body, true
}

// decodeBody decodes a JSON request body, answering 400 itself when it
// cannot.
func decodeBody(w http.ResponseWriter, body []byte, v any) bool {
	if err := json.Unmarshal(body, v); err != nil {
		writeError(w, http.StatusBadRequest, "Invalid input JSON: "+err.Error())
		return false
	}
	return true
}

// timeFormat is how HubSpot writes datetimes: UTC with milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
