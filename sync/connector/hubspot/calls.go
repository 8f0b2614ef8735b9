package hubspot

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/intake/intake/sync/connector"
)

// HubSpot documents no idempotency key for CRM writes: a create whose answer
// is lost may have taken effect, and sending it again logs the call twice.
// So each call carries its delivery's marker, and before a create is sent
// again, hasMarkedCall looks for the marker among the contact's calls. It
// reads them through the associations API, which is strongly consistent,
// and not through search, whose index lags behind writes.

const (
	// associationLimit is the page size of a v4 association listing
	// (HubSpot's maximum).
	associationLimit = 500
	// batchReadLimit is the most objects one batch read takes.
	batchReadLimit = 100
)

type associationPage struct {
	Results []struct {
		ToObjectID flexString `json:"toObjectId"`
	} `json:"results"`
	Paging pagingJSON `json:"paging"`
}

type callBatchRead struct {
	Properties []string     `json:"properties"`
	Inputs     []batchInput `json:"inputs"`
}

type callBatch struct {
	Results []struct {
		ID         flexString         `json:"id"`
		Properties map[string]*string `json:"properties"`
	} `json:"results"`
}

// hasMarkedCall reports whether one of the contact's calls carries marker
// in its body.
func (c *conn) hasMarkedCall(ctx context.Context, contactID, marker string) (bool, error) {
	ids, err := c.contactCallIDs(ctx, contactID)
	if err != nil {
		return false, err
	}
	// The call looked for is most often the newest: HubSpot lists
	// associations by ID, which grow with time, so read from the end.
	for end := len(ids); end > 0; end -= batchReadLimit {
		found, err := c.readMarkedCall(ctx, ids[max(end-batchReadLimit, 0):end], marker)
		if found || err != nil {
			return found, err
		}
	}
	return false, nil
}

// contactCallIDs lists the IDs of every call associated with the contact.
func (c *conn) contactCallIDs(ctx context.Context, contactID string) ([]string, error) {
	var ids []string
	seen := map[string]bool{}
	q := url.Values{"limit": {strconv.Itoa(associationLimit)}}
	for {
		var page associationPage
		err := c.client.Do(ctx, connector.Request{
			Method: http.MethodGet,
			Path:   "/crm/v4/objects/contacts/" + contactID + "/associations/calls",
			Query:  q,
			Retry:  true,
		}, &page)
		if err != nil {
			return nil, fmt.Errorf("listing the contact's calls: %w", err)
		}
		for _, r := range page.Results {
			// A call is associated once per association type; an ID
			// that is not one cannot be read back.
			if id := string(r.ToObjectID); isObjectID(id) && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		next := page.Paging.after()
		if next == "" {
			return ids, nil
		}
		if next == q.Get("after") {
			return nil, fmt.Errorf("hubspot: listing the contact's calls: the page after %q is the same page", next)
		}
		q.Set("after", next)
	}
}

// readMarkedCall batch-reads the bodies of the calls ids (at most
// batchReadLimit) and reports whether one carries marker.
func (c *conn) readMarkedCall(ctx context.Context, ids []string, marker string) (bool, error) {
	req := callBatchRead{Properties: []string{"hs_call_body"}}
	for _, id := range ids {
		req.Inputs = append(req.Inputs, batchInput{ID: id})
	}
	var batch callBatch
	err := c.client.Do(ctx, connector.Request{
		Method: http.MethodPost,
		Path:   "/crm/v3/objects/calls/batch/read",
		Body:   req,
		Retry:  true,
	}, &batch)
	if err != nil {
		return false, fmt.Errorf("reading the contact's calls: %w", err)
	}
	for _, r := range batch.Results {
		if body := r.Properties["hs_call_body"]; body != nil && hasMarker(*body, marker) {
			return true, nil
		}
	}
	return false, nil
}

// markerParagraph is marker as the final paragraph of a call body. All
// other text of the body is escaped, so only the marker paragraph can be
// a <p> element whose whole text is a marker.
func markerParagraph(marker string) string {
	return "<p>" + html.EscapeString(marker) + "</p>"
}

// hasMarker reports whether the rich text body holds a paragraph whose text
// is exactly marker. It compares unescaped text, so that HubSpot may
// re-encode entities ("&#39;" as "&#x27;") without hiding the marker, and a
// whole paragraph, so that the marker of key "k1" is not found in the one
// of "k10".
func hasMarker(body, marker string) bool {
	for rest := body; ; {
		_, after, ok := strings.Cut(rest, "<p>")
		if !ok {
			return false
		}
		text, tail, ok := strings.Cut(after, "</p>")
		if !ok {
			return false
		}
		if !strings.Contains(text, "<") && strings.TrimSpace(html.UnescapeString(text)) == marker {
			return true
		}
		rest = tail
	}
}
