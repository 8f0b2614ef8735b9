// Package zvoove connects Intake to zvoove through its temp-staffing REST
// API (https://api.zvoove.cloud, paths /temp-staffing-de/...).
//
// Offices (departments) are the references. The "new applications" search
// lists the candidates created since the last sync in the selected offices
// (every active office when none is selected); "talent pool research" walks
// the candidate change log over the last daysSinceLastChange days. Both
// fetch each candidate's detail, the only place with phone numbers, with a
// bounded number of requests in flight. zvoove offers no pushback and no
// webhooks: Push and ParseWebhook return connector.ErrUnsupported.
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
	"time"

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
		Key:  connector.Zvoove,
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
					Type:        connector.FieldInt,
					Required:    true,
					Min:         connector.Ptr(1),
					Max:         connector.Ptr(3650),
				}},
			},
		},
		ReferenceKinds: []connector.ReferenceKind{connector.KindOffice},
		CredentialKeys: slices.Clone(credentialKeys),
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
	api, err := connector.NewClient(connector.Zvoove, creds["baseURL"], opts)
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
	if err := c.do(ctx, departmentsRequest(1, 1), &out); err != nil {
		return fmt.Errorf("checking zvoove credentials: %w", err)
	}
	return nil
}

func departmentsRequest(page, size int) connector.Request {
	return connector.Request{
		Method: http.MethodGet, Path: pathDepartments, Retry: true,
		Query: url.Values{"Active": {"true"}, "PageNumber": {strconv.Itoa(page)}, "PageSize": {strconv.Itoa(size)}},
	}
}

// departments reads one page of active offices. The page is the last when
// it is shorter than asked, longer (an API that ignores PageSize), or
// starts like the page before (an API that ignores PageNumber); prevFirst
// carries the first ID from page to page.
func (c *conn) departments(ctx context.Context, page, size int, prevFirst *string) (ds []department, last bool, err error) {
	var raw []json.RawMessage
	if err := c.do(ctx, departmentsRequest(page, size), &raw); err != nil {
		return nil, false, fmt.Errorf("listing zvoove offices: %w", err)
	}
	if len(raw) > 0 && repeats(prevFirst, string(raw[0])) {
		return nil, true, nil
	}
	for _, r := range raw {
		var d department
		if err := json.Unmarshal(r, &d); err != nil {
			req := departmentsRequest(page, size)
			return nil, false, &connector.Error{Provider: connector.Zvoove, Op: req.Op(), StatusCode: http.StatusOK, Message: "unreadable office: " + err.Error(), Err: err}
		}
		if d.ID != "" && (d.Active == nil || *d.Active) {
			ds = append(ds, d)
		}
	}
	return ds, len(raw) != size, nil
}

// repeats reports whether a page starts with the same entry as the page
// before, and remembers first for the next page.
func repeats(prevFirst *string, first string) bool {
	r := *prevFirst != "" && *prevFirst == first
	*prevFirst = first
	return r
}

// References lists the active offices whose name contains q.Search. The
// API cannot search, so pages are filtered here; a page without a match
// is skipped rather than returned empty. The cursor is the next page number.
func (c *conn) References(ctx context.Context, q connector.ReferenceQuery) (connector.ReferencePage, error) {
	size := q.Limit
	if size <= 0 {
		size = defaultReferenceLimit
	}
	size = min(size, maxReferenceLimit)
	page := 1
	if q.Cursor != "" {
		n, err := strconv.Atoi(q.Cursor)
		if err != nil || n < 1 {
			return connector.ReferencePage{}, fmt.Errorf("zvoove: reference cursor %q: %w", q.Cursor, connector.ErrBadCursor)
		}
		page = n
	}
	needle := strings.ToLower(q.Search)
	var out connector.ReferencePage
	prevFirst := ""
	for ; ; page++ {
		ds, last, err := c.departments(ctx, page, size, &prevFirst)
		if err != nil {
			return connector.ReferencePage{}, err
		}
		for _, d := range ds {
			if name := d.name(); strings.Contains(strings.ToLower(name), needle) {
				out.Items = append(out.Items, connector.Reference{ExternalID: string(d.ID), Kind: connector.KindOffice, Name: name})
			}
		}
		if last {
			return out, nil
		}
		if len(out.Items) > 0 {
			out.NextCursor = strconv.Itoa(page + 1)
			return out, nil
		}
	}
}

// activeOffices lists the IDs of every active office.
func (c *conn) activeOffices(ctx context.Context) ([]string, error) {
	var ids []string
	prevFirst := ""
	for page := 1; ; page++ {
		ds, last, err := c.departments(ctx, page, officePageSize, &prevFirst)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			if !slices.Contains(ids, string(d.ID)) {
				ids = append(ids, string(d.ID))
			}
		}
		if last {
			return ids, nil
		}
	}
}

// Push is not offered by zvoove.
func (c *conn) Push(context.Context, connector.PushRequest) error {
	return fmt.Errorf("zvoove: push: %w", connector.ErrUnsupported)
}

// ParseWebhook is not offered by zvoove: changes are polled from the change log.
func (c *conn) ParseWebhook(connector.WebhookRequest) ([]connector.WebhookEvent, error) {
	return nil, fmt.Errorf("zvoove: webhooks: %w", connector.ErrUnsupported)
}
