// Package hubspot connects Intake to the HubSpot CRM (API v3).
//
// Contacts are pulled with the contact search, or, when lists are selected,
// from the lists' memberships read in batches; call results are pushed back
// as logged calls, with the mapped status set as the contact's
// hs_lead_status; webhooks are verified with HubSpot's signature v3.
//
// HubSpot de-duplicates no write, so each logged call carries its
// delivery's marker, and a call is created again only after a look through
// the contact's calls has not found it (see calls.go).
//
// Every list, static or dynamic, is a reference of kind LIST; the kind
// SEGMENT is accepted in a FetchRequest too, since HubSpot now calls lists
// segments. The list search endpoint (POST /crm/v3/lists/search with
// query, offset and count) is ASSUMED.
package hubspot

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
)

// DefaultBaseURL is HubSpot's API when the credentials name none.
const DefaultBaseURL = "https://api.hubapi.com"

// Credential keys.
const (
	keyAccessToken   = "accessToken"
	keyBaseURL       = "baseURL"
	keyWebhookSecret = "webhookSecret"
)

// HubSpot limits and identifiers.
const (
	// searchLimit is the page size of a contact search (HubSpot's maximum).
	searchLimit = 200
	// searchCap is how many results one search can page through.
	searchCap = 10000
	// membershipLimit is the page size of list memberships; it is also the
	// most contacts one batch read takes, so one page is one batch read.
	membershipLimit = 100
	// referenceLimit and maxReferenceLimit bound a page of lists.
	referenceLimit    = 100
	maxReferenceLimit = 500
	// contactObjectType is the object type ID of contact lists.
	contactObjectType = "0-1"
	// callToContact is the HUBSPOT_DEFINED association type of a call to a
	// contact.
	callToContact = 194
)

// contactProperties are the properties read for each contact: contact
// details, dates, and those that become fit attributes (fitProperties).
// HubSpot returns only the properties asked for.
var contactProperties = []string{"firstname", "lastname", "email", "phone", "mobilephone", "createdate", "lastmodifieddate",
	"jobtitle", "company", "industry", "lifecyclestage", "hs_lead_status", "city", "country"}

// fitProperties map contact properties to the fit attributes they are;
// city and country together make the location.
var fitProperties = []struct{ property, attr string }{
	{"jobtitle", connector.AttrJobTitle},
	{"company", connector.AttrCompany},
	{"industry", connector.AttrIndustry},
	{"lifecyclestage", connector.AttrLifecycleStage},
	{"hs_lead_status", connector.AttrLeadStatus},
}

// New returns the HubSpot provider.
func New() connector.Provider { return provider{} }

type provider struct{}

// Descriptor describes HubSpot; each call returns a fresh copy.
func (provider) Descriptor() connector.Descriptor {
	return connector.Descriptor{
		Key:                   schematype.ProviderHubSpot,
		Name:                  "HubSpot",
		SupportsPushback:      true,
		SupportsStatusMapping: true,
		SupportsWebhooks:      true,
		SearchTypes: []connector.SearchType{
			{
				Key:         connector.SearchNewApplications,
				Name:        "Default - New Applications",
				Description: "Contacts created since the last sync.",
				IsDefault:   true,
			},
			{
				Key:         connector.SearchTalentPool,
				Name:        "Talent Pool Research",
				Description: "Contacts last modified within the given number of days.",
				Fields: []connector.SearchField{{
					Key:         "daysSinceLastChange",
					Label:       "Days since last change",
					Description: "Only contacts modified within this many days are synced.",
					Type:        schematype.FieldInt,
					Required:    true,
					Min:         connector.Ptr(1),
					Max:         connector.Ptr(3650),
				}},
			},
		},
		ReferenceKinds: []schematype.ReferenceKind{schematype.ReferenceList},
		CredentialKeys: []string{keyAccessToken, keyBaseURL, keyWebhookSecret},
		// A private app's token names the app and the portal.
		AccountKeys: []string{keyAccessToken},
		// Free and Starter accounts: 100 requests per rolling 10 s, the
		// CRM search endpoints 4 a second, 250,000 a day. Professional and
		// Enterprise accounts allow more, which their answers' headers say.
		RateLimits: connector.RateLimits{Requests: 100, Interval: 10 * time.Second, SearchesPerSecond: 4, Daily: 250000},
	}
}

// Open validates the credentials without any request.
func (p provider) Open(creds connector.Credentials, opts connector.Options) (connector.Connector, error) {
	if err := connector.CheckCredentialKeys(creds, p.Descriptor().CredentialKeys, []string{keyAccessToken}); err != nil {
		return nil, err
	}
	token := creds[keyAccessToken]
	if strings.IndexFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return nil, &connector.CredentialError{Key: keyAccessToken, Message: "must not contain spaces or control characters"}
	}
	client, err := connector.NewClient(schematype.ProviderHubSpot, cmp.Or(creds[keyBaseURL], DefaultBaseURL), opts)
	if err != nil {
		return nil, err
	}
	client.Authorize = func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
	client.ErrorMessage = errorMessage
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &conn{client: client, secret: creds[keyWebhookSecret], now: now}, nil
}

// conn is a Connector bound to one HubSpot account. It holds no mutable
// state, so it is safe for concurrent use.
type conn struct {
	client *connector.Client
	secret string
	now    func() time.Time
}

// errorMessage extracts HubSpot's message and what kind of error it is from
// an error body: the category of most errors, or the errorType and
// policyName of a rate limit (a 429 has no category).
func errorMessage(body []byte) string {
	var e struct {
		Message    string `json:"message"`
		Category   string `json:"category"`
		ErrorType  string `json:"errorType"`
		PolicyName string `json:"policyName"`
	}
	if json.Unmarshal(body, &e) != nil || e.Message == "" {
		return ""
	}
	var kind []string
	for _, k := range []string{e.Category, e.ErrorType, e.PolicyName} {
		if k != "" {
			kind = append(kind, k)
		}
	}
	if len(kind) > 0 {
		return e.Message + " (" + strings.Join(kind, ", ") + ")"
	}
	return e.Message
}

// Check reads one contact.
func (c *conn) Check(ctx context.Context) error {
	var out struct {
		Results []json.RawMessage `json:"results"`
	}
	return c.client.Do(ctx, connector.Request{
		Method: http.MethodGet,
		Path:   "/crm/v3/objects/contacts",
		Query:  url.Values{"limit": {"1"}, "archived": {"false"}},
		Retry:  true,
	}, &out)
}

type listSearchRequest struct {
	Query  string `json:"query,omitempty"`
	Offset int    `json:"offset"`
	Count  int    `json:"count"`
}

type listSearchResponse struct {
	Lists []struct {
		ListID       flexString `json:"listId"`
		Name         string     `json:"name"`
		ObjectTypeID string     `json:"objectTypeId"`
	} `json:"lists"`
	Offset  int  `json:"offset"`
	HasMore bool `json:"hasMore"`
}

// References searches the account's contact lists by name. The cursor is
// the offset of the next page.
func (c *conn) References(ctx context.Context, q connector.ReferenceQuery) (connector.ReferencePage, error) {
	offset := 0
	if q.Cursor != "" {
		n, err := strconv.Atoi(q.Cursor)
		if err != nil || n < 0 {
			return connector.ReferencePage{}, fmt.Errorf("hubspot: reference cursor: %w", connector.ErrBadCursor)
		}
		offset = n
	}
	count := q.Limit
	if count <= 0 {
		count = referenceLimit
	}
	count = min(count, maxReferenceLimit)
	var resp listSearchResponse
	err := c.client.Do(ctx, connector.Request{
		Method: http.MethodPost,
		Path:   "/crm/v3/lists/search",
		Body:   listSearchRequest{Query: q.Search, Offset: offset, Count: count},
		Retry:  true,
	}, &resp)
	if err != nil {
		return connector.ReferencePage{}, fmt.Errorf("searching lists: %w", err)
	}
	page := connector.ReferencePage{Items: []connector.Reference{}}
	for _, l := range resp.Lists {
		if l.ListID == "" || l.ObjectTypeID != "" && l.ObjectTypeID != contactObjectType {
			continue // not a contact list
		}
		page.Items = append(page.Items, connector.Reference{ExternalID: string(l.ListID), Kind: schematype.ReferenceList, Name: l.Name})
	}
	if resp.HasMore {
		next := resp.Offset
		if next <= offset {
			next = offset + len(resp.Lists)
		}
		if next > offset {
			page.NextCursor = strconv.Itoa(next)
		}
	}
	return page, nil
}

// flexString is an ID HubSpot writes as a string or a number.
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*s = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("an ID must be a string or a number: %w", err)
	}
	*s = flexString(n.String())
	return nil
}

// isObjectID reports whether s looks like a HubSpot object or list ID, so
// it is safe to put in a path.
func isObjectID(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
