package ats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
)

// Fetch cursors: "next:<server cursor>" resumes at that server page;
// endCursor is the cursor of the last page, after which nothing is left.
const (
	nextPrefix = "next:"
	endCursor  = "end"
)

type application struct {
	ID              string    `json:"id"`
	CandidateID     string    `json:"candidate_id"`
	JobID           string    `json:"job_id"`
	CurrentStageID  text      `json:"current_stage_id"`
	Source          text      `json:"source"`
	RemoteCreatedAt time.Time `json:"remote_created_at"`
}

type candidate struct {
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	// Title is the current job title; Locations and Tags are lists of
	// strings (ASSUMED, as the whole shape is).
	Title        text  `json:"title"`
	Locations    texts `json:"locations"`
	Tags         texts `json:"tags"`
	PhoneNumbers []struct {
		PhoneNumber string `json:"phone_number"`
		Type        string `json:"type"`
	} `json:"phone_numbers"`
	EmailAddresses []struct {
		EmailAddress string `json:"email_address"`
	} `json:"email_addresses"`
	ChangedAt       time.Time `json:"changed_at"`
	RemoteCreatedAt time.Time `json:"remote_created_at"`
}

// text is a string that only describes the person (a fit attribute): a
// value of another type reads as empty rather than making the whole
// application or candidate unreadable.
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) != nil {
		s = ""
	}
	*t = text(s)
	return nil
}

// texts is a list of strings that only describe the person: elements of
// another type are skipped, and a value that is no list reads as empty.
type texts []string

func (t *texts) UnmarshalJSON(b []byte) error {
	var raws []json.RawMessage
	*t = nil
	if json.Unmarshal(b, &raws) != nil {
		return nil
	}
	for _, r := range raws {
		var s string
		if json.Unmarshal(r, &s) == nil {
			*t = append(*t, s)
		}
	}
	return nil
}

// Fetch lists the applications created at or after req.Since for the
// selected jobs and yields one page of candidate records per page of
// applications.
func (c *conn) Fetch(ctx context.Context, req connector.FetchRequest) iter.Seq2[*connector.Page, error] {
	return func(yield func(*connector.Page, error) bool) {
		query, err := c.fetchQuery(req)
		if err != nil {
			yield(nil, err)
			return
		}
		after, done, err := c.decodeCursor(req.Cursor)
		if err != nil {
			yield(nil, err)
			return
		}
		jobs := map[string]*job{} // the jobs read by this fetch; nil for an unknown one
		for !done {
			if after != "" {
				query.Set("cursor", after)
			}
			data, err := get[list[json.RawMessage]](ctx, c, "/applications", query)
			if err != nil {
				yield(nil, err)
				return
			}
			next := data.next()
			if next != "" && next == after {
				yield(nil, c.stuckCursor("GET /applications"))
				return
			}
			records, err := c.records(ctx, data.Results, jobs)
			if err != nil {
				yield(nil, err)
				return
			}
			after, done = next, next == ""
			page := &connector.Page{Records: records, Cursor: nextPrefix + after, Total: -1}
			if done {
				page.Cursor = endCursor
			}
			if !yield(page, nil) {
				return
			}
		}
	}
}

// fetchQuery validates req and returns the query of its application list.
func (c *conn) fetchQuery(req connector.FetchRequest) (url.Values, error) {
	st, ok := descriptor(c.cfg).SearchType(req.SearchType)
	if !ok {
		return nil, fmt.Errorf("%s: fetching applications: unknown search type %q", c.cfg.Key, req.SearchType)
	}
	if _, err := connector.ValidateParams(st, req.Params); err != nil {
		return nil, err
	}
	query := url.Values{"page_size": {strconv.Itoa(fetchPageSize)}}
	if !req.Since.IsZero() {
		query.Set("created_after", req.Since.UTC().Format(time.RFC3339Nano))
	}
	for _, ref := range req.References {
		if ref.Kind != schematype.ReferenceJob && ref.Kind != "" {
			return nil, fmt.Errorf("%s: fetching applications: reference kind %s is not supported, only %s", c.cfg.Key, ref.Kind, schematype.ReferenceJob)
		}
		if ref.ExternalID == "" {
			return nil, fmt.Errorf("%s: fetching applications: a job reference has no external ID", c.cfg.Key)
		}
		query.Add("job_id", ref.ExternalID)
	}
	return query, nil
}

func (c *conn) decodeCursor(cursor string) (after string, done bool, err error) {
	switch {
	case cursor == "":
		return "", false, nil
	case cursor == endCursor:
		return "", true, nil
	}
	after, ok := strings.CutPrefix(cursor, nextPrefix)
	if !ok || after == "" {
		return "", false, fmt.Errorf("%s: fetching applications: malformed cursor", c.cfg.Key)
	}
	return after, false, nil
}

// records turns a page of applications into records, reading the
// candidates concurrently (at most detailConcurrency at a time) into their
// application's position. The jobs of the applications that jobs does not
// hold yet are read along (GET /jobs/{id}, once per job and fetch) for the
// names of the position and the stage.
func (c *conn) records(ctx context.Context, raws []json.RawMessage, jobs map[string]*job) ([]connector.Record, error) {
	records := make([]connector.Record, len(raws))
	apps := make([]*application, len(raws))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(detailConcurrency)
	var (
		mu      sync.Mutex
		missing = map[string]bool{}
	)
	for i, raw := range raws {
		rec := &records[i]
		var app application
		if err := json.Unmarshal(raw, &app); err != nil {
			rec.Problem = "undecodable application: " + err.Error()
			continue
		}
		apps[i] = &app
		*rec = app.record()
		mu.Lock()
		_, known := jobs[app.JobID]
		mu.Unlock()
		if app.JobID != "" && !known && !missing[app.JobID] {
			missing[app.JobID] = true
			g.Go(func() error {
				j, err := c.readJob(gctx, app.JobID)
				mu.Lock()
				jobs[app.JobID] = j
				mu.Unlock()
				return err
			})
		}
		switch {
		case app.ID == "":
			rec.Problem = "application without id"
		case app.CandidateID == "":
			rec.Problem = fmt.Sprintf("application %s has no candidate_id", app.ID)
		default:
			g.Go(func() error { return c.readCandidate(gctx, rec) })
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, app := range apps {
		if app != nil {
			app.setJobAttributes(&records[i], jobs[app.JobID])
		}
	}
	return records, nil
}

// readJob reads a job with its stages; nil for a job the API does not
// know or whose data cannot be decoded: the names it would give are then
// left out of the records, which are complete without them.
func (c *conn) readJob(ctx context.Context, id string) (*job, error) {
	raw, err := get[json.RawMessage](ctx, c, "/jobs/"+pathSegment(id), nil)
	var e *connector.Error
	if errors.As(err, &e) && e.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading job %s: %w", id, err)
	}
	var j *job
	if json.Unmarshal(raw, &j) != nil {
		return nil, nil
	}
	return j, nil
}

// record is what the application itself tells about its candidate.
func (a application) record() connector.Record {
	rec := connector.Record{ExternalID: a.CandidateID, CreatedAt: a.RemoteCreatedAt, Attributes: map[string]any{}}
	if a.ID != "" {
		rec.Attributes[AttrApplicationID] = a.ID
	}
	if a.JobID != "" {
		rec.Attributes[AttrJobID] = a.JobID
		rec.ReferenceIDs = []string{a.JobID}
	}
	setString(rec.Attributes, connector.AttrSource, string(a.Source))
	return rec
}

// setJobAttributes adds the name of the application's job (the position)
// and of its current stage (the status), as job j names them.
func (a application) setJobAttributes(rec *connector.Record, j *job) {
	if j == nil {
		return
	}
	setString(rec.Attributes, connector.AttrPosition, j.Name)
	if a.CurrentStageID == "" {
		return
	}
	for _, s := range j.Stages {
		if s.ID == string(a.CurrentStageID) {
			setString(rec.Attributes, connector.AttrStatus, s.Name)
			return
		}
	}
}

// setString sets attrs[key] to v unless v is blank.
func setString(attrs map[string]any, key, v string) {
	if v = strings.TrimSpace(v); v != "" {
		attrs[key] = v
	}
}

// readCandidate completes rec with its candidate's details. A candidate
// that is gone or cannot be decoded sets rec.Problem; other failures end
// the fetch.
func (c *conn) readCandidate(ctx context.Context, rec *connector.Record) error {
	raw, err := get[json.RawMessage](ctx, c, "/candidates/"+pathSegment(rec.ExternalID), nil)
	var e *connector.Error
	if errors.As(err, &e) && e.StatusCode == http.StatusNotFound {
		rec.Problem = fmt.Sprintf("candidate %s not found", rec.ExternalID)
		return nil
	}
	if err != nil {
		return err
	}
	var cand *candidate
	if err := json.Unmarshal(raw, &cand); err != nil {
		rec.Problem = fmt.Sprintf("undecodable candidate %s: %v", rec.ExternalID, err)
		return nil
	}
	if cand == nil {
		rec.Problem = fmt.Sprintf("candidate %s has no data", rec.ExternalID)
		return nil
	}
	rec.FirstName, rec.LastName = cand.FirstName, cand.LastName
	for _, e := range cand.EmailAddresses {
		if strings.TrimSpace(e.EmailAddress) != "" {
			rec.Email = e.EmailAddress
			break
		}
	}
	// Mobile numbers first, each group in the order the API lists them.
	for _, mobile := range []bool{true, false} {
		for _, p := range cand.PhoneNumbers {
			if strings.EqualFold(p.Type, "mobile") == mobile && strings.TrimSpace(p.PhoneNumber) != "" {
				rec.Phones = append(rec.Phones, p.PhoneNumber)
			}
		}
	}
	setString(rec.Attributes, connector.AttrProfession, string(cand.Title))
	var locations []string
	for _, l := range cand.Locations {
		if l = strings.TrimSpace(l); l != "" {
			locations = append(locations, l)
		}
	}
	setString(rec.Attributes, connector.AttrLocation, strings.Join(locations, "; "))
	var tags []string
	for _, t := range cand.Tags {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	if len(tags) > 0 {
		rec.Attributes[connector.AttrTags] = tags
	}
	if !cand.RemoteCreatedAt.IsZero() {
		rec.CreatedAt = cand.RemoteCreatedAt
	}
	rec.UpdatedAt = cand.ChangedAt
	return nil
}
