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
	RemoteCreatedAt time.Time `json:"remote_created_at"`
}

type candidate struct {
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name"`
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
			records, err := c.records(ctx, data.Results)
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
// application's position.
func (c *conn) records(ctx context.Context, raws []json.RawMessage) ([]connector.Record, error) {
	records := make([]connector.Record, len(raws))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(detailConcurrency)
	for i, raw := range raws {
		rec := &records[i]
		var app application
		if err := json.Unmarshal(raw, &app); err != nil {
			rec.Problem = "undecodable application: " + err.Error()
			continue
		}
		*rec = app.record()
		switch {
		case app.ID == "":
			rec.Problem = "application without id"
		case app.CandidateID == "":
			rec.Problem = fmt.Sprintf("application %s has no candidate_id", app.ID)
		default:
			g.Go(func() error { return c.readCandidate(ctx, rec) })
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return records, nil
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
	return rec
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
	if !cand.RemoteCreatedAt.IsZero() {
		rec.CreatedAt = cand.RemoteCreatedAt
	}
	rec.UpdatedAt = cand.ChangedAt
	return nil
}
