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

	"github.com/intake/intake/sync/connector"
)

const (
	// listPageSize is the page size asked of the candidates list.
	listPageSize = 50
	// changelogPageSize is the change log's maximum page size.
	changelogPageSize = 20
	// minPageRecords: API pages are gathered into one yielded page until
	// it holds at least this many records (or the search ends).
	minPageRecords = 20
	// maxInFlight bounds the concurrent detail requests of one fetch.
	maxInFlight = 8
)

// errStopped ends a fetch whose consumer stopped reading.
var errStopped = errors.New("consumer stopped")

// cursor is where a fetch resumes: the next API page of the same query.
// It is encoded as base64url JSON.
type cursor struct {
	Search string `json:"s"`
	Page   int    `json:"p"`
	// new_applications: the offices and the CreatedAfter day of the query.
	Offices      []string `json:"o,omitempty"`
	CreatedAfter string   `json:"c,omitempty"`
	// talent_pool_research: the change-log window.
	From string `json:"f,omitempty"`
	To   string `json:"t,omitempty"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s, search string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.Search != search || c.Page < 1 {
		return cursor{}, fmt.Errorf("zvoove: invalid cursor for search type %q", search)
	}
	if search == connector.SearchNewApplications && len(c.Offices) == 0 {
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
		if r.Kind != "" && r.Kind != connector.KindOffice {
			return nil, fmt.Errorf("zvoove: reference %q is a %s, want an %s", r.ExternalID, r.Kind, connector.KindOffice)
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
}

// fetchNewApplications pages through the candidates created since
// req.Since. CreatedAfter is a day: the day before Since's is asked for,
// whatever the API's time zone and bound, and entryDate decides exactly.
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
		cur = cursor{Search: connector.SearchNewApplications, Page: 1, Offices: offices}
		if !req.Since.IsZero() {
			cur.CreatedAfter = req.Since.UTC().AddDate(0, 0, -1).Format(time.DateOnly)
		}
	}
	var batch []connector.Record
	prevFirst := ""
	for {
		q := url.Values{"OfficeIds": cur.Offices, "PageNumber": {strconv.Itoa(cur.Page)}, "PageSize": {strconv.Itoa(listPageSize)}}
		if cur.CreatedAfter != "" {
			q.Set("CreatedAfter", cur.CreatedAfter)
		}
		var raw []json.RawMessage
		if err := c.do(ctx, connector.Request{Method: http.MethodGet, Path: pathCandidates, Query: q, Retry: true}, &raw); err != nil {
			return fmt.Errorf("listing new zvoove candidates: %w", err)
		}
		if len(raw) > 0 && repeats(&prevFirst, string(raw[0])) {
			raw = nil // the API ignores PageNumber: the previous page had everything
		}
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
		cur.Page++
		last := len(raw) != listPageSize
		if len(batch) > 0 && (last || len(batch) >= minPageRecords) {
			if err := emit(&connector.Page{Records: batch, Cursor: cur.encode(), Total: -1}); err != nil {
				return err
			}
			batch = nil
		}
		if last {
			return nil
		}
	}
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

// fetchTalentPool pages through the change log of the last days days,
// skipping removed candidates and, when offices are given, candidates of
// other offices. Page.Total is the change log's count of changes in the
// window, an upper bound of the records yielded.
func (c *conn) fetchTalentPool(ctx context.Context, req connector.FetchRequest, days int, offices []string, emit func(*connector.Page) error) error {
	var cur cursor
	if req.Cursor != "" {
		var err error
		if cur, err = decodeCursor(req.Cursor, connector.SearchTalentPool); err != nil {
			return err
		}
	} else {
		now := c.now().UTC().Truncate(time.Second)
		cur = cursor{
			Search: connector.SearchTalentPool, Page: 1,
			From: now.AddDate(0, 0, -days).Format(time.RFC3339), To: now.Format(time.RFC3339),
		}
	}
	var batch []connector.Record
	prevFirst := ""
	for {
		q := url.Values{
			"From": {cur.From}, "To": {cur.To}, "OnlyLatestPerCandidate": {"true"},
			"PageSize": {strconv.Itoa(changelogPageSize)}, "PageNumber": {strconv.Itoa(cur.Page)},
		}
		var page changelogPage
		if err := c.do(ctx, connector.Request{Method: http.MethodGet, Path: pathChangelog, Query: q, Retry: true}, &page); err != nil {
			return fmt.Errorf("reading the zvoove candidate change log: %w", err)
		}
		if len(page.Data) > 0 && repeats(&prevFirst, string(page.Data[0])) {
			page.Data = nil // the API ignores PageNumber
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
			if len(offices) == 0 || r.Problem != "" || len(r.ReferenceIDs) > 0 && slices.Contains(offices, r.ReferenceIDs[0]) {
				batch = append(batch, r)
			}
		}
		cur.Page++
		last := len(page.Data) == 0 || cur.Page > page.Metadata.TotalPages
		if len(batch) > 0 && (last || len(batch) >= minPageRecords) {
			total := -1
			if page.Metadata.TotalRecords > 0 {
				total = page.Metadata.TotalRecords
			}
			if err := emit(&connector.Page{Records: batch, Cursor: cur.encode(), Total: total}); err != nil {
				return err
			}
			batch = nil
		}
		if last {
			return nil
		}
	}
}

// changeItem reads one change-log entry; ok is false for a candidate who
// was deleted, anonymised or removed.
func changeItem(raw json.RawMessage) (it item, ok bool) {
	var e changeEntry
	if err := json.Unmarshal(raw, &e); err != nil {
		return item{problem: "unreadable change-log entry: " + err.Error()}, true
	}
	if removed(e.Status) {
		return item{}, false
	}
	it = item{id: string(e.CandidateID)}
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
	if d.CandidateGUID != "" || it.status != "" {
		rec.Attributes = map[string]any{}
		if d.CandidateGUID != "" {
			rec.Attributes["candidateGuid"] = d.CandidateGUID
		}
		if it.status != "" {
			rec.Attributes["status"] = it.status
		}
	}
	return rec, nil
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
