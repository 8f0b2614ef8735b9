package zvoove

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
	"sync"
	"sync/atomic"
	"time"

	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
)

const (
	// listPageSize is the page size asked of the candidates list.
	listPageSize = 50
	// changelogPageSize is the change log's maximum page size on SaaS
	// tenants, onPremChangelogPageSize on on-premises ones.
	changelogPageSize       = 20
	onPremChangelogPageSize = 10
	// minPageRecords: API pages are gathered into one yielded page until
	// it holds at least this many records (or the search ends).
	minPageRecords = 20
	// maxInFlight bounds the concurrent detail requests of one fetch.
	maxInFlight = 8
)

// errStopped ends a fetch whose consumer stopped reading.
var errStopped = errors.New("consumer stopped")

// cursor is where a fetch resumes. It is encoded as base64url JSON.
type cursor struct {
	Search string `json:"s"`
	// new_applications: the offices and the CreatedAfter day of the query,
	// and the position in its list.
	Offices      []string `json:"o,omitempty"`
	CreatedAfter string   `json:"c,omitempty"`
	List         *listPos `json:"l,omitempty"`
	// talent_pool_research: the position in the change log.
	Log *logPos `json:"g,omitempty"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s, search string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	ok := err == nil && json.Unmarshal(b, &c) == nil && c.Search == search
	switch search {
	case connector.SearchNewApplications:
		ok = ok && len(c.Offices) > 0 && c.List != nil && c.List.valid()
	case connector.SearchTalentPool:
		ok = ok && c.Log != nil && c.Log.valid()
	}
	if !ok {
		return cursor{}, fmt.Errorf("zvoove: invalid cursor for search type %q", search)
	}
	return c, nil
}

// Fetch streams the records of a search; see the package doc.
func (c *conn) Fetch(ctx context.Context, req connector.FetchRequest) iter.Seq2[*connector.Page, error] {
	return func(yield func(*connector.Page, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		emit := func(p *connector.Page) error {
			if !yield(p, nil) {
				return errStopped
			}
			return nil
		}
		if err := c.fetch(ctx, req, emit); err != nil && !errors.Is(err, errStopped) {
			yield(nil, err)
		}
	}
}

func (c *conn) fetch(ctx context.Context, req connector.FetchRequest, emit func(*connector.Page) error) error {
	d := descriptor()
	key := req.SearchType
	if key == "" {
		key = d.DefaultSearchType().Key
	}
	st, ok := d.SearchType(key)
	if !ok {
		return fmt.Errorf("zvoove: unknown search type %q", key)
	}
	params, err := connector.ValidateParams(st, req.Params)
	if err != nil {
		return fmt.Errorf("zvoove: %w", err)
	}
	offices, err := officeIDs(req.References)
	if err != nil {
		return err
	}
	if key == connector.SearchTalentPool {
		days, _ := connector.IntParam(params, FieldDaysSinceLastChange)
		return c.fetchTalentPool(ctx, req, days, offices, emit)
	}
	return c.fetchNewApplications(ctx, req, offices, emit)
}

// officeIDs validates the selected references: offices with integer IDs.
func officeIDs(refs []connector.Reference) ([]string, error) {
	var ids []string
	for _, r := range refs {
		if r.Kind != "" && r.Kind != schematype.ReferenceOffice {
			return nil, fmt.Errorf("zvoove: reference %q is a %s, want an %s", r.ExternalID, r.Kind, schematype.ReferenceOffice)
		}
		n, err := strconv.ParseInt(r.ExternalID, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("zvoove: reference %q is not an office ID", r.ExternalID)
		}
		if s := strconv.FormatInt(n, 10); !slices.Contains(ids, s) {
			ids = append(ids, s)
		}
	}
	return ids, nil
}

// item is a candidate to read the detail of, with what the list said.
type item struct {
	id       string
	name     string // "First Last", for a record whose detail is unreadable
	officeID string
	status   string
	created  time.Time
	updated  time.Time
	problem  string // set when the list entry itself is unreadable
	gone     string // the change-log status of a candidate deleted, anonymised or removed
}

// fetchNewApplications reads the candidates created since req.Since.
// CreatedAfter is a day: the day before Since's is asked for, whatever the
// API's time zone and bound, and entryDate decides exactly. The list is
// walked by walkList, which learns how (and whether) the API pages it.
func (c *conn) fetchNewApplications(ctx context.Context, req connector.FetchRequest, offices []string, emit func(*connector.Page) error) error {
	var cur cursor
	if req.Cursor != "" {
		var err error
		if cur, err = decodeCursor(req.Cursor, connector.SearchNewApplications); err != nil {
			return err
		}
	} else {
		if len(offices) == 0 {
			var err error
			if offices, err = c.activeOffices(ctx); err != nil {
				return err
			}
			if len(offices) == 0 {
				return nil
			}
		}
		start := startList
		cur = cursor{Search: connector.SearchNewApplications, Offices: offices, List: &start}
		if !req.Since.IsZero() {
			cur.CreatedAfter = req.Since.UTC().AddDate(0, 0, -1).Format(time.DateOnly)
		}
	}
	request := func(page int) connector.Request {
		q := url.Values{"OfficeIds": cur.Offices, "PageSize": {strconv.Itoa(listPageSize)}}
		if page >= 0 {
			q.Set("PageNumber", strconv.Itoa(page))
		}
		if cur.CreatedAfter != "" {
			q.Set("CreatedAfter", cur.CreatedAfter)
		}
		return connector.Request{Method: http.MethodGet, Path: pathCandidates, Query: q, Retry: true}
	}
	var batch []connector.Record
	flush := func(pos listPos) error {
		next := cur
		next.List = &pos
		err := emit(&connector.Page{Records: batch, Cursor: next.encode(), Total: -1})
		batch = nil
		return err
	}
	end, err := c.walkList(ctx, request, listPageSize, *cur.List, func(raw []json.RawMessage, next listPos) error {
		items := make([]item, 0, len(raw))
		for _, r := range raw {
			if it, ok := listItem(r, req.Since); ok {
				items = append(items, it)
			}
		}
		recs, err := c.records(ctx, items)
		if err != nil {
			return err
		}
		batch = append(batch, recs...)
		if len(batch) >= minPageRecords {
			return flush(next)
		}
		return nil
	})
	var e *connector.Error
	switch {
	case errors.As(err, &e):
		return fmt.Errorf("listing new zvoove candidates: %w", err)
	case err != nil:
		return err
	case len(batch) > 0:
		return flush(end)
	}
	return nil
}

// listItem reads one entry of the candidates list; ok is false for a
// candidate created before since.
func listItem(raw json.RawMessage, since time.Time) (it item, ok bool) {
	var e listEntry
	if err := json.Unmarshal(raw, &e); err != nil {
		return item{problem: "unreadable candidate list entry: " + err.Error()}, true
	}
	it = item{id: string(e.CandidateID), name: e.Name, officeID: string(e.OfficeID), status: e.Status}
	if it.id == "" {
		it.problem = "candidate list entry without candidateId"
		return it, true
	}
	if t, dateOnly, parsed := parseTime(e.EntryDate); parsed {
		it.created = t
		if !since.IsZero() {
			if dateOnly && t.Before(since.UTC().Truncate(24*time.Hour)) || !dateOnly && t.Before(since) {
				return item{}, false
			}
		}
	}
	return it, true
}

// logPos is where a walk of the change log stands.
//
// The walk is by keyset: LastID is the highest change ID read, 0 before
// the first request, which asks for the window From..To instead (the API
// takes either, not both). Changes made while the walk runs get higher
// IDs, so none is skipped, unlike with numbered pages, which shift when
// OnlyLatestPerCandidate drops a candidate's older entry.
//
// When the log does not come in ascending ID order the keyset cannot be
// trusted, and Paged is set: the query that came out of order (the window,
// or LastID) is then read by numbered pages of Size, in the Base the API
// reported, Page being the PageNumber to ask next.
type logPos struct {
	From   string `json:"f,omitempty"`
	To     string `json:"t,omitempty"`
	LastID int64  `json:"i,omitempty"`
	// Seen counts the entries read before the next request (keyset), or
	// before the paged query (Paged), for Page.Total.
	Seen  int    `json:"n,omitempty"`
	Paged bool   `json:"pg,omitempty"`
	Base  int    `json:"b,omitempty"`
	Page  int    `json:"p,omitempty"`
	Size  int    `json:"z,omitempty"`
	Prev  string `json:"h,omitempty"` // entryKey of the first entry of the page before
}

func (p logPos) valid() bool {
	return p.LastID >= 0 && p.Seen >= 0 && (p.LastID > 0 || p.From != "" && p.To != "") &&
		(!p.Paged || p.Base >= 0 && p.Page >= p.Base && p.Size > 0 && p.Size <= changelogPageSize)
}

// query is the change-log query of the next request, without PageSize.
func (p logPos) query() url.Values {
	q := url.Values{"OnlyLatestPerCandidate": {"true"}}
	if p.LastID > 0 {
		q.Set("LastId", strconv.FormatInt(p.LastID, 10))
	} else {
		q.Set("From", p.From)
		q.Set("To", p.To)
	}
	if p.Paged {
		q.Set("PageNumber", strconv.Itoa(p.Page))
	}
	return q
}

// logPageSize is the page size to ask of the change log: the SaaS maximum
// until the tenant refused it or answered with smaller pages.
func (c *conn) logPageSize() int {
	if n := c.logSize.Load(); n > 0 {
		return int(n)
	}
	return changelogPageSize
}

// shrinkLogPageSize lowers the page size asked of the change log to n for
// the rest of the connector's life; it never raises it.
func (c *conn) shrinkLogPageSize(n int) {
	for {
		cur := c.logSize.Load()
		if cur > 0 && int(cur) <= n || c.logSize.CompareAndSwap(cur, int32(n)) {
			return
		}
	}
}

// readChangelog asks for one page of the change log. Unless size is
// fixed (a paged query must keep its page size), a 400 about PageSize
// means an on-premises tenant, whose maximum is smaller: the request is
// sent again with that, and the connector keeps to it.
func (c *conn) readChangelog(ctx context.Context, q url.Values, fixedSize int) (changelogPage, int, error) {
	for {
		size := cmp.Or(fixedSize, c.logPageSize())
		q.Set("PageSize", strconv.Itoa(size))
		var page changelogPage
		err := c.do(ctx, connector.Request{Method: http.MethodGet, Path: pathChangelog, Query: q, Retry: true}, &page)
		var e *connector.Error
		if fixedSize == 0 && size > onPremChangelogPageSize && errors.As(err, &e) &&
			e.StatusCode == http.StatusBadRequest && strings.Contains(e.Message, "PageSize") {
			c.shrinkLogPageSize(onPremChangelogPageSize)
			continue
		}
		if err != nil {
			return page, size, fmt.Errorf("reading the zvoove candidate change log: %w", err)
		}
		if n := page.Metadata.PageSize; n != nil && *n > 0 && *n < size {
			if fixedSize == 0 {
				c.shrinkLogPageSize(*n)
			}
			size = *n
		}
		return page, size, nil
	}
}

// ascending reports whether the IDs of entries ascend from above lastID,
// and returns the highest. Entries without a readable ID are passed over:
// they are read all the same; the keyset just cannot use them.
func ascending(entries []json.RawMessage, lastID int64) (highest int64, ok bool) {
	highest = lastID
	for _, r := range entries {
		var e struct {
			ID id `json:"id"`
		}
		if json.Unmarshal(r, &e) != nil || e.ID == "" {
			continue
		}
		n, err := strconv.ParseInt(string(e.ID), 10, 64)
		if err != nil || n <= highest {
			return 0, false
		}
		highest = n
	}
	return highest, highest > lastID
}

// fetchTalentPool walks the change log from the last days days (see
// logPos), skipping candidates of other offices when offices are given.
// Candidates the change log reports deleted, anonymised or removed are
// records with Gone set, whatever their office. Page.Total is the change log's count of
// changes, an upper bound of the records yielded.
func (c *conn) fetchTalentPool(ctx context.Context, req connector.FetchRequest, days int, offices []string, emit func(*connector.Page) error) error {
	var pos logPos
	if req.Cursor != "" {
		cur, err := decodeCursor(req.Cursor, connector.SearchTalentPool)
		if err != nil {
			return err
		}
		pos = *cur.Log
	} else {
		now := c.now().UTC().Truncate(time.Second)
		pos = logPos{From: now.AddDate(0, 0, -days).Format(time.RFC3339), To: now.Format(time.RFC3339)}
	}
	var batch []connector.Record
	for {
		fixed := 0
		if pos.Paged {
			fixed = pos.Size
		}
		page, size, err := c.readChangelog(ctx, pos.query(), fixed)
		if err != nil {
			return err
		}
		md := page.Metadata
		next, last := pos, false
		switch {
		case len(page.Data) == 0:
			last = true
		case pos.Paged && entryKey(page.Data[0]) == pos.Prev:
			page.Data, last = nil, true // PageNumber is ignored: this page was read
		case pos.Paged:
			next.Page++
			next.Prev = entryKey(page.Data[0])
			last = len(page.Data) < size || md.TotalPages != nil && next.Page-next.Base >= *md.TotalPages
		default:
			if highest, ok := ascending(page.Data, pos.LastID); ok {
				next.LastID, next.Seen = highest, pos.Seen+len(page.Data)
				last = md.TotalRecords != nil && *md.TotalRecords <= len(page.Data)
				break
			}
			// Out of order: read this query by numbered pages. The
			// answer, asked without PageNumber, is the first, and its
			// number tells the base.
			if md.PageNumber == nil || *md.PageNumber < 0 || *md.PageNumber > 1 {
				return &connector.Error{Provider: schematype.ProviderZvoove, Op: http.MethodGet + " " + pathChangelog, StatusCode: http.StatusOK,
					Message: "change log out of ID order and without a usable metadata.pageNumber: it cannot be paged safely"}
			}
			next.Paged, next.Base, next.Size = true, *md.PageNumber, size
			next.Page, next.Prev = next.Base+1, entryKey(page.Data[0])
			last = len(page.Data) < size || md.TotalPages != nil && *md.TotalPages <= 1
		}
		var items []item
		for _, r := range page.Data {
			if it, ok := changeItem(r); ok {
				items = append(items, it)
			}
		}
		recs, err := c.records(ctx, items)
		if err != nil {
			return err
		}
		for _, r := range recs {
			// A candidate gone is erased whatever their office was.
			if len(offices) == 0 || r.Problem != "" || r.Gone != "" || len(r.ReferenceIDs) > 0 && slices.Contains(offices, r.ReferenceIDs[0]) {
				batch = append(batch, r)
			}
		}
		if len(batch) > 0 && (last || len(batch) >= minPageRecords) {
			total := -1
			if md.TotalRecords != nil && *md.TotalRecords >= 0 {
				total = pos.Seen + *md.TotalRecords
			}
			if err := emit(&connector.Page{Records: batch, Cursor: cursor{Search: connector.SearchTalentPool, Log: &next}.encode(), Total: total}); err != nil {
				return err
			}
			batch = nil
		}
		if last {
			return nil
		}
		pos = next
	}
}

// changeItem reads one change-log entry. A candidate who was deleted,
// anonymised or removed is an item with gone set (their record tells the
// sync to erase them); ok is false for such an entry without a
// candidateId, which names nobody to erase.
func changeItem(raw json.RawMessage) (it item, ok bool) {
	var e changeEntry
	if err := json.Unmarshal(raw, &e); err != nil {
		return item{problem: "unreadable change-log entry: " + err.Error()}, true
	}
	it = item{id: string(e.CandidateID)}
	if removed(e.Status) {
		it.gone = e.Status
		return it, it.id != ""
	}
	if it.id == "" {
		it.problem = "change-log entry without candidateId"
		return it, true
	}
	if t, _, parsed := parseTime(e.LastEditDate); parsed {
		it.updated = t
	}
	return it, true
}

// records reads the details of items, at most maxInFlight at a time, and
// returns the records in the order of items. The first failure that is not
// the candidate's own (see record) cancels the rest and is returned.
func (c *conn) records(ctx context.Context, items []item) ([]connector.Record, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	recs := make([]connector.Record, len(items))
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range min(maxInFlight, len(items)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(items) || ctx.Err() != nil {
					return
				}
				rec, err := c.record(ctx, items[i])
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					return
				}
				recs[i] = rec
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("reading zvoove candidates: %w", err)
	}
	return recs, nil
}

// record reads one candidate's detail. A candidate whose detail is gone or
// unreadable becomes a record with Problem set; failures of the API
// itself (authorisation, rate limit, server errors) are returned.
func (c *conn) record(ctx context.Context, it item) (connector.Record, error) {
	if it.gone != "" {
		return connector.Record{ExternalID: it.id, Gone: it.gone}, nil
	}
	if it.problem != "" {
		return problemRecord(it, it.problem), nil
	}
	var raw json.RawMessage
	err := c.do(ctx, connector.Request{Method: http.MethodGet, Path: pathCandidate + it.id, Retry: true}, &raw)
	var e *connector.Error
	switch {
	case errors.As(err, &e) && !e.Temporary && e.StatusCode >= 400 && e.StatusCode < 500 &&
		e.StatusCode != http.StatusUnauthorized && e.StatusCode != http.StatusForbidden:
		return problemRecord(it, fmt.Sprintf("candidate detail unavailable: HTTP %d: %s", e.StatusCode, e.Message)), nil
	case err != nil:
		return connector.Record{}, fmt.Errorf("reading zvoove candidate %s: %w", it.id, err)
	}
	var d candidateDetail
	if err := json.Unmarshal(raw, &d); err != nil {
		return problemRecord(it, "unreadable candidate detail: "+err.Error()), nil
	}
	rec := connector.Record{
		ExternalID: it.id,
		FirstName:  d.FirstName,
		LastName:   d.LastName,
		Email:      d.Email,
		CreatedAt:  it.created,
		UpdatedAt:  it.updated,
	}
	if d.Address != nil {
		for _, p := range []string{d.Address.Phone1, d.Address.Phone2} {
			if strings.TrimSpace(p) != "" {
				rec.Phones = append(rec.Phones, p)
			}
		}
	}
	if office := cmp.Or(string(d.OfficeID), it.officeID); office != "" {
		rec.ReferenceIDs = []string{office}
	}
	attrs := fitAttributes(it, d)
	if d.CandidateGUID != "" {
		if attrs == nil {
			attrs = map[string]any{}
		}
		attrs["candidateGuid"] = d.CandidateGUID
	}
	rec.Attributes = attrs
	return rec, nil
}

// fitAttributes are the fit attributes of a candidate (nil when there are
// none): the detail's profession, its city and country code as the
// location ("Berlin, DE"), and the candidate's status in the new-applicants
// list ("Applicant"). A change-log entry's status (Inserted, Updated, ...)
// describes the change, not the person, and is not one. Nothing of the
// street address or zip code is kept.
func fitAttributes(it item, d candidateDetail) map[string]any {
	var attrs map[string]any
	set := func(key, v string) {
		if v = strings.TrimSpace(v); v != "" {
			if attrs == nil {
				attrs = map[string]any{}
			}
			attrs[key] = v
		}
	}
	set(connector.AttrProfession, string(d.Profession))
	if d.Address != nil {
		var parts []string
		for _, p := range []string{string(d.Address.CityName), string(d.Address.CountryCode)} {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		set(connector.AttrLocation, strings.Join(parts, ", "))
	}
	set(connector.AttrStatus, it.status)
	return attrs
}

// problemRecord is the record of a candidate that could not be read, with
// what the list told about it.
func problemRecord(it item, problem string) connector.Record {
	first, last, _ := strings.Cut(strings.TrimSpace(it.name), " ")
	rec := connector.Record{ExternalID: it.id, FirstName: first, LastName: last, CreatedAt: it.created, UpdatedAt: it.updated, Problem: problem}
	if it.officeID != "" {
		rec.ReferenceIDs = []string{it.officeID}
	}
	return rec
}
