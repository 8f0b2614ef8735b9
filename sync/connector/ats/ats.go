// Package ats implements the "unified ATS" API shape that Talention and
// Compleet are modelled on (see docs/providers.md; the shape is ASSUMED,
// as neither vendor publishes an API description). The talention and
// compleet packages configure it; this package holds the behaviour:
//
//   - References are jobs: GET /jobs, filtered by the server through
//     name_contains and paged by its cursor.
//   - Fetch lists applications (GET /applications, filtered by created_after
//     and job_id) and reads each application's candidate (GET
//     /candidates/{id}) concurrently, at most detailConcurrency at a time,
//     keeping the order of the application list. The jobs of the
//     applications are read once per Fetch (GET /jobs/{id}) for the fit
//     attributes position (the job's name) and status (its current
//     stage's name); the candidate gives profession (title), location
//     (locations) and tags, the application source.
//   - Push writes the call result as a note on the candidate and, when the
//     provider supports status mapping, moves the application to the stage
//     whose name equals the mapped status. Creates are not assumed to be
//     de-duplicated: the note carries the delivery's marker, looked for in
//     the candidate's notes (GET /candidates/{id}/notes) before the note
//     is written again.
//   - ParseWebhook verifies Standard Webhooks signatures (webhook-id,
//     webhook-timestamp, webhook-signature).
//
// Every response is the envelope {status:"success", data:...}; errors are
// {status:"error", message:"..."}.
package ats

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
)

// Record attribute keys: Fetch sets them and Push reads them back.
const (
	AttrApplicationID = "applicationId"
	AttrJobID         = "jobId"
)

const (
	referencePageSize = 50
	fetchPageSize     = 50
	// maxPageSize is the largest page_size the API is assumed to accept
	// (ASSUMED, like the rest of the shape); notes are listed in pages
	// of it.
	maxPageSize = 100
	// detailConcurrency bounds the candidate requests in flight per Fetch.
	detailConcurrency = 8
)

var (
	credentialKeys = []string{"baseURL", "apiKey", "webhookSecret"}
	requiredKeys   = []string{"baseURL", "apiKey"}
)

// Config is what differs between the providers built on this shape.
type Config struct {
	Key  schematype.ProviderKey
	Name string
	// StatusMapping makes Push move the application to the stage named by
	// PushRequest.MappedStatus.
	StatusMapping bool
	// Webhooks makes ParseWebhook verify and decode application events.
	Webhooks bool
}

// New returns a provider speaking the unified ATS shape.
func New(cfg Config) connector.Provider { return &provider{cfg: cfg} }

type provider struct{ cfg Config }

func (p *provider) Descriptor() connector.Descriptor { return descriptor(p.cfg) }

func descriptor(cfg Config) connector.Descriptor {
	return connector.Descriptor{
		Key:                   cfg.Key,
		Name:                  cfg.Name,
		SupportsPushback:      true,
		SupportsStatusMapping: cfg.StatusMapping,
		SupportsWebhooks:      cfg.Webhooks,
		SearchTypes: []connector.SearchType{{
			Key:         connector.SearchNewApplications,
			Name:        "Default - New Applications",
			Description: "Applications created since the last sync, for the selected jobs (all jobs when none is selected).",
			IsDefault:   true,
		}},
		ReferenceKinds: []schematype.ReferenceKind{schematype.ReferenceJob},
		CredentialKeys: append([]string(nil), credentialKeys...),
		AccountKeys:    []string{"apiKey"},
		// ASSUMED: no limits are documented; a rate a small ATS serves.
		RateLimits: connector.RateLimits{Requests: 100, Interval: 10 * time.Second},
	}
}

func (p *provider) Open(creds connector.Credentials, opts connector.Options) (connector.Connector, error) {
	if err := connector.CheckCredentialKeys(creds, credentialKeys, requiredKeys); err != nil {
		return nil, err
	}
	apiKey := creds["apiKey"]
	if strings.ContainsFunc(apiKey, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return nil, &connector.CredentialError{Key: "apiKey", Message: "must not contain spaces or control characters"}
	}
	client, err := connector.NewClient(p.cfg.Key, creds["baseURL"], opts)
	if err != nil {
		return nil, err
	}
	client.Authorize = func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+apiKey)
		return nil
	}
	client.ErrorMessage = errorMessage
	c := &conn{cfg: p.cfg, http: client, now: opts.Now}
	if c.now == nil {
		c.now = time.Now
	}
	if s := creds["webhookSecret"]; s != "" {
		if c.webhookKey, err = webhookKey(s); err != nil {
			return nil, &connector.CredentialError{Key: "webhookSecret", Message: err.Error()}
		}
	}
	return c, nil
}

// conn is a Connector bound to one integration's credentials.
type conn struct {
	cfg        Config
	http       *connector.Client
	webhookKey []byte // nil when no webhookSecret is configured
	now        func() time.Time
}

// envelope is the body of every successful response.
type envelope[T any] struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	Data    T      `json:"data"`
}

// list is the data of a list endpoint.
type list[T any] struct {
	Next    *string `json:"next"`
	Results []T     `json:"results"`
}

// next returns the cursor of the following page, "" on the last one.
func (l list[T]) next() string {
	if l.Next == nil {
		return ""
	}
	return *l.Next
}

type job struct {
	ID     string  `json:"id"`
	Name   string  `json:"name"`
	Stages []stage `json:"stages"`
}

type stage struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// errorMessage extracts the message of an error envelope.
func errorMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Message
}

// get sends a read and returns the data of its success envelope.
func get[T any](ctx context.Context, c *conn, path string, query url.Values) (T, error) {
	req := connector.Request{Method: http.MethodGet, Path: path, Query: query, Retry: true}
	var env envelope[T]
	if err := c.http.Do(ctx, req, &env); err != nil {
		return env.Data, err
	}
	if env.Status != "success" {
		return env.Data, &connector.Error{Provider: c.cfg.Key, Op: req.Op(),
			Message: fmt.Sprintf("unexpected response status %.20q: %s", env.Status, connector.CleanMessage(env.Message))}
	}
	return env.Data, nil
}

// pathSegment escapes an ID for use as one path segment.
func pathSegment(id string) string {
	if id == "." || id == ".." {
		return strings.ReplaceAll(id, ".", "%2E")
	}
	return url.PathEscape(id)
}

func (c *conn) Check(ctx context.Context) error {
	_, err := get[list[job]](ctx, c, "/jobs", url.Values{"page_size": {"1"}})
	return err
}

// References lists jobs; the server filters them by name (name_contains).
func (c *conn) References(ctx context.Context, q connector.ReferenceQuery) (connector.ReferencePage, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = referencePageSize
	}
	limit = min(limit, maxPageSize)
	query := url.Values{"page_size": {strconv.Itoa(limit)}}
	if q.Search != "" {
		query.Set("name_contains", q.Search)
	}
	if q.Cursor != "" {
		query.Set("cursor", q.Cursor)
	}
	data, err := get[list[job]](ctx, c, "/jobs", query)
	if err != nil {
		return connector.ReferencePage{}, err
	}
	next := data.next()
	if next != "" && next == q.Cursor {
		return connector.ReferencePage{}, c.stuckCursor("GET /jobs")
	}
	page := connector.ReferencePage{NextCursor: next}
	for _, j := range data.Results {
		if j.ID != "" {
			page.Items = append(page.Items, connector.Reference{ExternalID: j.ID, Kind: schematype.ReferenceJob, Name: j.Name})
		}
	}
	return page, nil
}

func (c *conn) stuckCursor(op string) error {
	return &connector.Error{Provider: c.cfg.Key, Op: op, Message: "the next-page cursor did not advance"}
}
