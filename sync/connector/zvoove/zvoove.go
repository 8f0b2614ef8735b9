// Package zvoove connects Intake to zvoove through its temp-staffing REST
// API (https://api.zvoove.cloud, paths /temp-staffing-de/...).
//
// Offices (departments) are the references. The "new applications" search
// lists the candidates created since the last sync in the selected offices
// (every active office when none is selected); "talent pool research" walks
// the candidate change log (v2) over the last daysSinceLastChange days. Both
// fetch each candidate's detail, the only place with phone numbers, with a
// bounded number of requests in flight. zvoove offers no pushback and no
// webhooks: Push and ParseWebhook return connector.ErrUnsupported.
//
// Paging is learned, never guessed: the spec does not say whether
// PageNumber counts from 0 or 1. The plain array lists (departments, v1
// candidates) are read by walkList, which treats them as unpaged unless a
// probe proves otherwise, and learns the base from it; offices are read in
// full and paged here. The change log is walked by keyset (LastId above the
// highest ID read), so changes made during the walk neither hide nor repeat
// others; a log out of ID order is read by numbered pages instead, in the
// base its metadata.pageNumber reports. Its page size is 20 until the
// tenant refuses it (on-premises tenants take 10).
//
// Requests carry the tenant header X-MANDANT-ID and either the bearer
// reference key (apiKey) or an OAuth2 client-credentials token, which is
// shared by concurrent requests, cached until shortly before it expires
// and fetched anew once when the API answers 401.
package zvoove

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
)

// DefaultTokenURL is zvoove's OAuth2 token endpoint.
const DefaultTokenURL = "https://sso.zvoove.cloud/connect/token"

// FieldDaysSinceLastChange is the parameter of the talent pool research.
const FieldDaysSinceLastChange = "daysSinceLastChange"

// API paths.
const (
	pathDepartments = "/temp-staffing-de/v1/departments"
	pathCandidates  = "/temp-staffing-de/v1/candidates"
	pathChangelog   = "/temp-staffing-de/v2/candidates/changelog"
	pathCandidate   = "/temp-staffing-de/v2/candidates/" // + candidate ID
)

// Page sizes.
const (
	defaultReferenceLimit = 50
	maxReferenceLimit     = 100
	officePageSize        = 100
)

var credentialKeys = []string{"baseURL", "mandantID", "apiKey", "clientID", "clientSecret", "tokenURL"}

// New returns the zvoove provider.
func New() connector.Provider { return provider{} }

type provider struct{}

// Descriptor describes zvoove.
func (provider) Descriptor() connector.Descriptor { return descriptor() }

func descriptor() connector.Descriptor {
	return connector.Descriptor{
		Key:  schematype.ProviderZvoove,
		Name: "zvoove",
		SearchTypes: []connector.SearchType{
			{
				Key:         connector.SearchNewApplications,
				Name:        "Default - New Applications",
				Description: "Candidates created since the last sync in the selected offices (every active office when none is selected).",
				IsDefault:   true,
			},
			{
				Key:         connector.SearchTalentPool,
				Name:        "Talent Pool Research",
				Description: "Candidates of the selected offices whose profile changed recently.",
				Fields: []connector.SearchField{{
					Key:         FieldDaysSinceLastChange,
					Label:       "Days since last change",
					Description: "Include candidates whose profile was changed within this many days.",
					Type:        schematype.FieldInt,
					Required:    true,
					Min:         connector.Ptr(1),
					Max:         connector.Ptr(3650),
				}},
			},
		},
		ReferenceKinds: []schematype.ReferenceKind{schematype.ReferenceOffice},
		CredentialKeys: slices.Clone(credentialKeys),
		// The tenant is the base URL's host; the mandant its own key.
		AccountKeys: []string{"mandantID"},
		// zvoove documents a 429 with Retry-After but no figures: a
		// conservative 10 requests a second.
		RateLimits: connector.RateLimits{Requests: 100, Interval: 10 * time.Second},
	}
}

// Open validates creds without any network request.
func (provider) Open(creds connector.Credentials, opts connector.Options) (connector.Connector, error) {
	if err := connector.CheckCredentialKeys(creds, credentialKeys, []string{"baseURL", "mandantID"}); err != nil {
		return nil, err
	}
	apiKey, clientID, clientSecret, tokenURL := creds["apiKey"], creds["clientID"], creds["clientSecret"], creds["tokenURL"]
	switch {
	case apiKey != "" && clientID != "":
		return nil, &connector.CredentialError{Key: "clientID", Message: "must not be set together with apiKey"}
	case apiKey != "" && clientSecret != "":
		return nil, &connector.CredentialError{Key: "clientSecret", Message: "must not be set together with apiKey"}
	case apiKey != "" && tokenURL != "":
		return nil, &connector.CredentialError{Key: "tokenURL", Message: "is only used with clientID and clientSecret"}
	case apiKey == "" && clientID == "" && clientSecret == "":
		return nil, &connector.CredentialError{Key: "apiKey", Message: "is required unless clientID and clientSecret are set"}
	case apiKey == "" && clientID == "":
		return nil, &connector.CredentialError{Key: "clientID", Message: "is required with clientSecret"}
	case apiKey == "" && clientSecret == "":
		return nil, &connector.CredentialError{Key: "clientSecret", Message: "is required with clientID"}
	}
	api, err := connector.NewClient(schematype.ProviderZvoove, creds["baseURL"], opts)
	if err != nil {
		return nil, err
	}
	c := &conn{api: api, mandantID: creds["mandantID"], apiKey: apiKey, now: opts.Now}
	if c.now == nil {
		c.now = time.Now
	}
	if apiKey == "" {
		if tokenURL == "" {
			tokenURL = DefaultTokenURL
		}
		if c.tokens, err = newTokenSource(tokenURL, clientID, clientSecret, api, opts, c.now); err != nil {
			return nil, err
		}
	}
	api.Authorize = c.authorize
	api.ErrorMessage = errorMessage
	return c, nil
}

// conn is a Connector bound to one zvoove tenant.
type conn struct {
	api       *connector.Client
	mandantID string
	apiKey    string
	tokens    *tokenSource // nil with a reference key
	now       func() time.Time
	// logSize is the change log's page size once the tenant showed it
	// takes less than changelogPageSize (on-premises: 10); 0 until then.
	logSize atomic.Int32
}

func (c *conn) authorize(ctx context.Context, r *http.Request) error {
	r.Header.Set("X-MANDANT-ID", c.mandantID)
	token := c.apiKey
	if c.tokens != nil {
		var err error
		if token, err = c.tokens.token(ctx); err != nil {
			return err
		}
	}
	r.Header.Set("Authorization", "Bearer "+token)
	return nil
}

// do sends req; with OAuth2, a 401 discards the token and the request is
// sent once more with a fresh one.
func (c *conn) do(ctx context.Context, req connector.Request, out any) error {
	if c.tokens == nil {
		return c.api.Do(ctx, req, out)
	}
	gen := c.tokens.generation()
	err := c.api.Do(ctx, req, out)
	var e *connector.Error
	if !errors.As(err, &e) || e.StatusCode != http.StatusUnauthorized || e.Op == c.tokens.op {
		return err
	}
	c.tokens.invalidate(gen)
	return c.api.Do(ctx, req, out)
}

// Check lists one office.
func (c *conn) Check(ctx context.Context) error {
	var out []json.RawMessage
	if err := c.do(ctx, departmentsRequest(-1, 1), &out); err != nil {
		return fmt.Errorf("checking zvoove credentials: %w", err)
	}
	return nil
}

// departmentsRequest asks for a page of active offices; page < 0 leaves
// PageNumber out, which asks for the first page whatever the base.
func departmentsRequest(page, size int) connector.Request {
	q := url.Values{"Active": {"true"}, "PageSize": {strconv.Itoa(size)}}
	if page >= 0 {
		q.Set("PageNumber", strconv.Itoa(page))
	}
	return connector.Request{Method: http.MethodGet, Path: pathDepartments, Retry: true, Query: q}
}

// offices reads every active office, each once, in the API's order.
// Offices are few, so the whole list is read and the callers page it.
func (c *conn) offices(ctx context.Context) ([]department, error) {
	var out []department
	seen := map[id]bool{}
	_, err := c.walkList(ctx, func(page int) connector.Request { return departmentsRequest(page, officePageSize) }, officePageSize, startList,
		func(raw []json.RawMessage, _ listPos) error {
			for _, r := range raw {
				var d department
				if err := json.Unmarshal(r, &d); err != nil {
					return &connector.Error{Provider: schematype.ProviderZvoove, Op: departmentsRequest(-1, officePageSize).Op(), StatusCode: http.StatusOK,
						Message: "unreadable office: " + err.Error(), Err: err}
				}
				if d.ID != "" && (d.Active == nil || *d.Active) && !seen[d.ID] {
					seen[d.ID] = true
					out = append(out, d)
				}
			}
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("listing zvoove offices: %w", err)
	}
	return out, nil
}

// References lists the active offices whose name contains q.Search. The
// API can neither search nor be trusted to page the same way twice, so
// every office is read and the matches are paged here: the cursor is an
// offset into them.
func (c *conn) References(ctx context.Context, q connector.ReferenceQuery) (connector.ReferencePage, error) {
	size := q.Limit
	if size <= 0 {
		size = defaultReferenceLimit
	}
	size = min(size, maxReferenceLimit)
	offset := 0
	if q.Cursor != "" {
		n, err := strconv.Atoi(q.Cursor)
		if err != nil || n < 1 {
			return connector.ReferencePage{}, fmt.Errorf("zvoove: reference cursor %q: %w", q.Cursor, connector.ErrBadCursor)
		}
		offset = n
	}
	ds, err := c.offices(ctx)
	if err != nil {
		return connector.ReferencePage{}, err
	}
	needle := strings.ToLower(q.Search)
	var matches []connector.Reference
	for _, d := range ds {
		if name := d.name(); strings.Contains(strings.ToLower(name), needle) {
			matches = append(matches, connector.Reference{ExternalID: string(d.ID), Kind: schematype.ReferenceOffice, Name: name})
		}
	}
	var out connector.ReferencePage
	if offset < len(matches) {
		end := min(offset+size, len(matches))
		out.Items = matches[offset:end]
		if end < len(matches) {
			out.NextCursor = strconv.Itoa(end)
		}
	}
	return out, nil
}

// activeOffices lists the IDs of every active office.
func (c *conn) activeOffices(ctx context.Context) ([]string, error) {
	ds, err := c.offices(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = string(d.ID)
	}
	return ids, nil
}

// Push is not offered by zvoove.
func (c *conn) Push(context.Context, connector.PushRequest) error {
	return fmt.Errorf("zvoove: push: %w", connector.ErrUnsupported)
}

// ParseWebhook is not offered by zvoove: changes are polled from the change log.
func (c *conn) ParseWebhook(connector.WebhookRequest) ([]connector.WebhookEvent, error) {
	return nil, fmt.Errorf("zvoove: webhooks: %w", connector.ErrUnsupported)
}
