package hubspot

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
)

// Fetch pages through the contacts of a search.
//
// Without references it runs the contact search, filtered on the search
// type's date (createdate >= Since, or lastmodifieddate >= now - N days)
// and sorted by it. HubSpot pages through at most 10,000 results of one
// search, so before the next page would cross that cap Fetch searches
// again with the filter moved to the last date seen, skipping the contacts
// already yielded at exactly that date.
//
// With references it reads each list's memberships, one page at a time,
// and the members' contacts in one batch read per page, keeping those that
// meet the search type's date condition; their ReferenceIDs name the list.
// Contacts of lists have no known total (Page.Total is -1); a contact in
// two selected lists is yielded once per list.
//
// Then it lists the contacts archived (deleted in HubSpot) since the date
// the search type starts from (Since for new applications, the days'
// lastmodifieddate for the talent pool; every archived contact on a first
// sync), as records with Gone set: Intake erases them. HubSpot's listing
// of archived contacts has no date filter, so every page of it is read.
//
// A cursor carries the date filter it started with, so a resumed fetch
// keeps it whatever Since or the clock say by then.
func (c *conn) Fetch(ctx context.Context, req connector.FetchRequest) iter.Seq2[*connector.Page, error] {
	return func(yield func(*connector.Page, error) bool) {
		f, err := c.plan(req)
		if err != nil {
			yield(nil, err)
			return
		}
		cur, ok := f.cur, true
		switch {
		case cur.Archive:
		case f.lists != nil:
			cur, ok = c.fetchLists(ctx, f, yield)
		default:
			cur, ok = c.fetchSearch(ctx, f, yield)
		}
		if !ok {
			return
		}
		if !cur.Archive {
			cur.Archive, cur.After = true, ""
		}
		c.fetchArchived(ctx, cur, yield)
	}
}

// fetch is one Fetch's plan and where it stands.
type fetch struct {
	prop  string   // the date the search type filters on: createdate or lastmodifieddate
	lists []string // the selected lists; nil searches every contact
	cur   cursor
}

// cursor is where a fetch stands after a page; it is sent to callers as
// base64url JSON.
type cursor struct {
	V      int    `json:"v"`
	Search string `json:"s"`           // the search type
	Lists  bool   `json:"m,omitempty"` // reading lists rather than searching
	Filter int64  `json:"f"`           // the date filter: prop >= Filter (ms since the epoch)
	After  string `json:"a,omitempty"` // HubSpot's token of the next page of the current search or list
	Done   bool   `json:"d,omitempty"`

	// Searching: the current search began at date Filter, skipping the
	// contacts at that date yielded before (Skip, dropped once a later date
	// is seen), and has returned Seen results. LastTS is the latest date
	// yielded and LastIDs the contacts yielded at it, from which the next
	// search begins. N counts the records yielded, Base those yielded
	// before the current search less Skip.
	Skip    []string `json:"k,omitempty"`
	Seen    int      `json:"c,omitempty"`
	LastTS  int64    `json:"t,omitempty"`
	LastIDs []string `json:"i,omitempty"`
	N       int      `json:"n,omitempty"`
	Base    int      `json:"b,omitempty"`

	// Reading lists: the position and ID of the current list.
	List   int    `json:"l,omitempty"`
	ListID string `json:"li,omitempty"`

	// Archive: the search or lists are done and After is the token of the
	// listing of archived contacts, of which those archived at or after
	// ArchivedSince (ms since the epoch) are yielded; ArchiveDone once the
	// listing's last page is.
	Archive       bool  `json:"z,omitempty"`
	ArchivedSince int64 `json:"as,omitempty"`
	ArchiveDone   bool  `json:"zd,omitempty"`
}

const cursorVersion = 1

func (c *cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.V != cursorVersion {
		return cursor{}, errors.New("hubspot: invalid fetch cursor")
	}
	return c, nil
}

// see records that a contact with date ts was yielded.
func (c *cursor) see(ts int64, id string) {
	switch {
	case ts > c.LastTS:
		c.LastTS, c.LastIDs = ts, []string{id}
	case ts == c.LastTS:
		c.LastIDs = append(c.LastIDs, id)
	}
	if ts > c.Filter {
		c.Skip = nil // the search is past the date where skipping applies
	}
}

// restart begins a new search at the latest date yielded.
func (c *cursor) restart() {
	c.Filter, c.After, c.Seen = c.LastTS, "", 0
	c.Skip = slices.Clone(c.LastIDs)
	c.Base = c.N - len(c.Skip)
}

// plan validates a request and finds where the fetch starts.
func (c *conn) plan(req connector.FetchRequest) (*fetch, error) {
	d := provider{}.Descriptor()
	st, ok := d.SearchType(cmp.Or(req.SearchType, d.DefaultSearchType().Key))
	if !ok {
		return nil, fmt.Errorf("hubspot: unknown search type %q", req.SearchType)
	}
	params, err := connector.ValidateParams(st, req.Params)
	if err != nil {
		return nil, err
	}
	lists, err := listIDs(req.References)
	if err != nil {
		return nil, err
	}
	f := &fetch{lists: lists, cur: cursor{V: cursorVersion, Search: st.Key, Lists: lists != nil}}
	switch st.Key {
	case connector.SearchNewApplications:
		f.prop = "createdate"
		if !req.Since.IsZero() {
			f.cur.Filter = req.Since.UnixMilli()
		}
	case connector.SearchTalentPool:
		f.prop = "lastmodifieddate"
		days, _ := connector.IntParam(params, "daysSinceLastChange")
		f.cur.Filter = c.now().Add(-time.Duration(days) * 24 * time.Hour).UnixMilli()
	}
	f.cur.LastTS, f.cur.ArchivedSince = f.cur.Filter, f.cur.Filter
	if lists != nil {
		f.cur.ListID = lists[0]
	}
	if req.Cursor == "" {
		return f, nil
	}
	cur, err := decodeCursor(req.Cursor)
	if err != nil {
		return nil, err
	}
	if cur.Search != st.Key || cur.Lists != (lists != nil) ||
		lists != nil && !cur.Done && !cur.Archive && (cur.List < 0 || cur.List >= len(lists) || lists[cur.List] != cur.ListID) {
		return nil, errors.New("hubspot: the fetch cursor belongs to another search type or other lists")
	}
	f.cur = cur
	return f, nil
}

// listIDs returns the distinct list IDs of the references, nil for none.
func listIDs(refs []connector.Reference) ([]string, error) {
	var ids []string
	for _, r := range refs {
		if r.Kind != schematype.ReferenceList && r.Kind != schematype.ReferenceSegment {
			return nil, fmt.Errorf("hubspot: reference %q is a %s; HubSpot references are lists", r.ExternalID, r.Kind)
		}
		if !isObjectID(r.ExternalID) {
			return nil, fmt.Errorf("hubspot: %q is not a HubSpot list ID", r.ExternalID)
		}
		if !slices.Contains(ids, r.ExternalID) {
			ids = append(ids, r.ExternalID)
		}
	}
	return ids, nil
}

type searchRequest struct {
	FilterGroups []filterGroup `json:"filterGroups"`
	Sorts        []sortSpec    `json:"sorts"`
	Properties   []string      `json:"properties"`
	Limit        int           `json:"limit"`
	After        string        `json:"after,omitempty"`
}

type filterGroup struct {
	Filters []filter `json:"filters"`
}

type filter struct {
	PropertyName string `json:"propertyName"`
	Operator     string `json:"operator"`
	Value        string `json:"value"`
}

type sortSpec struct {
	PropertyName string `json:"propertyName"`
	Direction    string `json:"direction"`
}

type pagingJSON struct {
	Next *struct {
		After flexString `json:"after"`
	} `json:"next"`
}

// after is the token of the next page, "" on the last page.
func (p pagingJSON) after() string {
	if p.Next == nil {
		return ""
	}
	return string(p.Next.After)
}

type searchResponse struct {
	Total   int               `json:"total"`
	Results []json.RawMessage `json:"results"`
	Paging  pagingJSON        `json:"paging"`
}

// fetchSearch yields the search's pages; it returns the cursor after the
// last and whether the search ended (rather than failed or was stopped).
func (c *conn) fetchSearch(ctx context.Context, f *fetch, yield func(*connector.Page, error) bool) (cursor, bool) {
	cur := f.cur
	for !cur.Done {
		if err := ctx.Err(); err != nil {
			yield(nil, fmt.Errorf("searching contacts: %w", err))
			return cur, false
		}
		if cur.Seen > 0 && cur.Seen+searchLimit > searchCap {
			if cur.LastTS <= cur.Filter {
				yield(nil, fmt.Errorf("hubspot: more than %d contacts have the same %s %s: HubSpot's search cannot page past them",
					searchCap, f.prop, time.UnixMilli(cur.LastTS).UTC().Format(time.RFC3339Nano)))
				return cur, false
			}
			cur.restart()
		}
		var resp searchResponse
		err := c.client.Do(ctx, connector.Request{
			Method: http.MethodPost,
			Path:   "/crm/v3/objects/contacts/search",
			Search: true,
			Body: searchRequest{
				FilterGroups: []filterGroup{{Filters: []filter{{PropertyName: f.prop, Operator: "GTE", Value: strconv.FormatInt(cur.Filter, 10)}}}},
				Sorts:        []sortSpec{{PropertyName: f.prop, Direction: "ASCENDING"}},
				Properties:   contactProperties,
				Limit:        searchLimit,
				After:        cur.After,
			},
			Retry: true,
		}, &resp)
		if err != nil {
			yield(nil, fmt.Errorf("searching contacts: %w", err))
			return cur, false
		}
		page := &connector.Page{Total: -1}
		if resp.Total >= 0 {
			page.Total = cur.Base + resp.Total
		}
		skip := make(map[string]bool, len(cur.Skip))
		for _, id := range cur.Skip {
			skip[id] = true
		}
		for _, raw := range resp.Results {
			ct := decodeContact(raw, f.prop)
			if skip[ct.rec.ExternalID] {
				continue
			}
			page.Records = append(page.Records, ct.rec)
			if ct.ok {
				cur.see(ct.ts, ct.rec.ExternalID)
			}
		}
		cur.Seen += len(resp.Results)
		cur.N += len(page.Records)
		next := resp.Paging.after()
		if next != "" && next == cur.After {
			yield(nil, errors.New("hubspot: the contact search returned the same page again"))
			return cur, false
		}
		cur.After, cur.Done = next, next == ""
		if len(page.Records) == 0 {
			continue
		}
		page.Cursor = cur.encode()
		if !yield(page, nil) {
			return cur, false
		}
	}
	return cur, true
}

type membershipPage struct {
	Results []struct {
		RecordID flexString `json:"recordId"`
	} `json:"results"`
	Paging pagingJSON `json:"paging"`
}

// fetchLists yields the lists' pages; it returns the cursor after the last
// and whether the lists ended (rather than failed or were stopped).
func (c *conn) fetchLists(ctx context.Context, f *fetch, yield func(*connector.Page, error) bool) (cursor, bool) {
	cur := f.cur
	for !cur.Done {
		if err := ctx.Err(); err != nil {
			yield(nil, fmt.Errorf("reading lists: %w", err))
			return cur, false
		}
		listID := f.lists[cur.List]
		q := url.Values{"limit": {strconv.Itoa(membershipLimit)}}
		if cur.After != "" {
			q.Set("after", cur.After)
		}
		var members membershipPage
		err := c.client.Do(ctx, connector.Request{
			Method: http.MethodGet,
			Path:   "/crm/v3/lists/" + listID + "/memberships",
			Query:  q,
			Retry:  true,
		}, &members)
		if err != nil {
			yield(nil, fmt.Errorf("reading the members of list %s: %w", listID, err))
			return cur, false
		}
		var ids []string
		for _, m := range members.Results {
			if id := string(m.RecordID); id != "" && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		contacts, err := c.readContacts(ctx, ids, f.prop)
		if err != nil {
			yield(nil, fmt.Errorf("reading the members of list %s: %w", listID, err))
			return cur, false
		}
		page := &connector.Page{Total: -1}
		for _, ct := range contacts {
			if ct.ok && ct.ts < cur.Filter {
				continue // outside the search type's dates
			}
			ct.rec.ReferenceIDs = []string{listID}
			page.Records = append(page.Records, ct.rec)
		}
		switch next := members.Paging.after(); {
		case next == "":
			cur.List, cur.After = cur.List+1, ""
			cur.Done = cur.List == len(f.lists)
			cur.ListID = ""
			if !cur.Done {
				cur.ListID = f.lists[cur.List]
			}
		case next == cur.After:
			yield(nil, fmt.Errorf("hubspot: the members of list %s returned the same page again", listID))
			return cur, false
		default:
			cur.After = next
		}
		if len(page.Records) == 0 {
			continue
		}
		page.Cursor = cur.encode()
		if !yield(page, nil) {
			return cur, false
		}
	}
	return cur, true
}

// archivedLimit is the page size of the listing of archived contacts
// (HubSpot's maximum for GET /crm/v3/objects/contacts).
const archivedLimit = 100

// archivedContact is a contact of the listing of archived contacts.
type archivedContact struct {
	ID         flexString `json:"id"`
	ArchivedAt string     `json:"archivedAt"`
}

// fetchArchived yields, from cur on, the contacts archived at or after
// cur.ArchivedSince as records with Gone set. A contact whose archivedAt
// cannot be read is yielded too: erasing it wrongly costs a re-import at
// worst, keeping it wrongly keeps a deleted person callable.
func (c *conn) fetchArchived(ctx context.Context, cur cursor, yield func(*connector.Page, error) bool) {
	for !cur.ArchiveDone {
		if err := ctx.Err(); err != nil {
			yield(nil, fmt.Errorf("listing archived contacts: %w", err))
			return
		}
		q := url.Values{"archived": {"true"}, "limit": {strconv.Itoa(archivedLimit)}, "properties": {"hs_object_id"}}
		if cur.After != "" {
			q.Set("after", cur.After)
		}
		var resp struct {
			Results []archivedContact `json:"results"`
			Paging  pagingJSON        `json:"paging"`
		}
		err := c.client.Do(ctx, connector.Request{
			Method: http.MethodGet,
			Path:   "/crm/v3/objects/contacts",
			Query:  q,
			Retry:  true,
		}, &resp)
		if err != nil {
			yield(nil, fmt.Errorf("listing archived contacts: %w", err))
			return
		}
		page := &connector.Page{Total: -1}
		for _, a := range resp.Results {
			at, err := time.Parse(time.RFC3339Nano, a.ArchivedAt)
			if err == nil && at.UnixMilli() < cur.ArchivedSince {
				continue
			}
			rec := connector.Record{ExternalID: string(a.ID), Gone: "archived (deleted) in HubSpot"}
			if rec.ExternalID == "" {
				rec = connector.Record{Problem: "an archived contact without an id"}
			}
			page.Records = append(page.Records, rec)
		}
		next := resp.Paging.after()
		if next != "" && next == cur.After {
			yield(nil, errors.New("hubspot: the listing of archived contacts returned the same page again"))
			return
		}
		cur.After, cur.ArchiveDone = next, next == ""
		if len(page.Records) > 0 {
			page.Cursor = cur.encode()
			if !yield(page, nil) {
				return
			}
		}
	}
}

type batchReadRequest struct {
	Inputs     []batchInput `json:"inputs"`
	Properties []string     `json:"properties"`
}

type batchInput struct {
	ID string `json:"id"`
}

// readContacts reads contacts by ID, in the order of ids. Contacts HubSpot
// does not find (deleted since they joined the list) are left out;
// contacts it returns without an ID come last.
func (c *conn) readContacts(ctx context.Context, ids []string, prop string) ([]contact, error) {
	var out []contact
	for chunk := range slices.Chunk(ids, membershipLimit) {
		req := batchReadRequest{Properties: contactProperties}
		for _, id := range chunk {
			req.Inputs = append(req.Inputs, batchInput{ID: id})
		}
		var resp struct {
			Results []json.RawMessage `json:"results"`
		}
		err := c.client.Do(ctx, connector.Request{
			Method: http.MethodPost,
			Path:   "/crm/v3/objects/contacts/batch/read",
			Body:   req,
			Retry:  true,
		}, &resp)
		if err != nil {
			return nil, err
		}
		byID := make(map[string]contact, len(resp.Results))
		var anonymous []contact
		for _, raw := range resp.Results {
			ct := decodeContact(raw, prop)
			if ct.rec.ExternalID == "" {
				anonymous = append(anonymous, ct)
			} else {
				byID[ct.rec.ExternalID] = ct
			}
		}
		for _, id := range chunk {
			if ct, ok := byID[id]; ok {
				out = append(out, ct)
			}
		}
		out = append(out, anonymous...)
	}
	return out, nil
}

// contact is a decoded contact and, when ok, its date ts (ms) on the
// property the search filters on.
type contact struct {
	rec connector.Record
	ts  int64
	ok  bool
}

type contactJSON struct {
	ID         flexString         `json:"id"`
	Properties map[string]*string `json:"properties"`
	CreatedAt  string             `json:"createdAt"`
	UpdatedAt  string             `json:"updatedAt"`
}

// decodeContact reads a contact; what cannot be read is the record's
// Problem.
func decodeContact(raw json.RawMessage, prop string) contact {
	var c contactJSON
	if err := json.Unmarshal(raw, &c); err != nil {
		var id struct {
			ID flexString `json:"id"`
		}
		_ = json.Unmarshal(raw, &id)
		return contact{rec: connector.Record{ExternalID: string(id.ID), Problem: "undecodable contact: " + err.Error()}}
	}
	p := func(name string) string {
		if v := c.Properties[name]; v != nil {
			return *v
		}
		return ""
	}
	rec := connector.Record{ExternalID: string(c.ID), FirstName: p("firstname"), LastName: p("lastname"), Email: p("email")}
	for _, name := range []string{"mobilephone", "phone"} {
		if v := p(name); strings.TrimSpace(v) != "" {
			rec.Phones = append(rec.Phones, v)
		}
	}
	rec.Attributes = fitAttributes(p)
	var problems []string
	if rec.ExternalID == "" {
		problems = append(problems, "contact has no id")
	}
	var err error
	for _, d := range []struct {
		name     string
		dst      *time.Time
		fallback string
	}{{"createdate", &rec.CreatedAt, c.CreatedAt}, {"lastmodifieddate", &rec.UpdatedAt, c.UpdatedAt}} {
		if *d.dst, err = parseDate(cmp.Or(p(d.name), d.fallback)); err != nil && (d.name == prop || !errors.Is(err, errNoDate)) {
			problems = append(problems, d.name+" "+err.Error())
		}
	}
	rec.Problem = strings.Join(problems, "; ")
	ts := rec.CreatedAt
	if prop == "lastmodifieddate" {
		ts = rec.UpdatedAt
	}
	return contact{rec: rec, ts: ts.UnixMilli(), ok: rec.Problem == ""}
}

// fitAttributes are the fit attributes of a contact whose property values
// p returns ("" when unset); nil when it has none. The location is "city,
// country", either alone when the other is empty.
func fitAttributes(p func(string) string) map[string]any {
	var attrs map[string]any
	set := func(key, v string) {
		if v = strings.TrimSpace(v); v != "" {
			if attrs == nil {
				attrs = map[string]any{}
			}
			attrs[key] = v
		}
	}
	for _, f := range fitProperties {
		set(f.attr, p(f.property))
	}
	var loc []string
	for _, name := range []string{"city", "country"} {
		if v := strings.TrimSpace(p(name)); v != "" {
			loc = append(loc, v)
		}
	}
	set(connector.AttrLocation, strings.Join(loc, ", "))
	return attrs
}

var (
	errNoDate  = errors.New("is missing")
	errBadDate = errors.New("is not a datetime")
)

// parseDate reads a HubSpot datetime: ISO 8601 or milliseconds since the
// epoch.
func parseDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errNoDate
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errBadDate
	}
	return t, nil
}
