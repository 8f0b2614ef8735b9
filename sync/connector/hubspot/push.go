package hubspot

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"strconv"
	"strings"

	"github.com/intake/intake/sync/connector"
)

// HubSpot's default call outcomes (hs_call_disposition).
const (
	dispositionConnected = "f240bbac-87c9-4f6e-bf70-924b57d47db7"
	dispositionNoAnswer  = "73a0d17f-1163-4015-bdd5-ec830791da20"
)

// maxCallBody keeps hs_call_body under HubSpot's 65,536 characters.
const maxCallBody = 65000

type callInput struct {
	Properties   map[string]string `json:"properties"`
	Associations []association     `json:"associations"`
}

type association struct {
	To    associationTo     `json:"to"`
	Types []associationType `json:"types"`
}

type associationTo struct {
	ID string `json:"id"`
}

type associationType struct {
	AssociationCategory string `json:"associationCategory"`
	AssociationTypeID   int    `json:"associationTypeId"`
}

// object is the part of HubSpot's answer to a write that Push reads.
type object struct {
	ID flexString `json:"id"`
}

type contactUpdate struct {
	Properties map[string]string `json:"properties"`
}

// Push logs the call on the contact (Idempotency-Key key+":call") and, with
// a mapped status, sets the contact's hs_lead_status to it (key+":status").
// A status HubSpot refuses is a non-temporary *connector.Error naming it.
func (c *conn) Push(ctx context.Context, p connector.PushRequest) error {
	id := p.Contact.ExternalID
	if !isObjectID(id) {
		return fmt.Errorf("hubspot: push: %q is not a HubSpot contact ID", id)
	}
	if p.Key == "" {
		return errors.New("hubspot: push: an idempotency key is required")
	}
	calledAt := p.CalledAt
	if calledAt.IsZero() {
		calledAt = c.now()
	}
	call := callInput{
		Properties: map[string]string{
			"hs_timestamp":        calledAt.UTC().Format("2006-01-02T15:04:05.000Z"),
			"hs_call_title":       "AI call: " + outcomeLabel(p.Outcome),
			"hs_call_body":        callBody(p),
			"hs_call_status":      "COMPLETED",
			"hs_call_duration":    strconv.FormatInt(p.Duration.Milliseconds(), 10),
			"hs_call_disposition": disposition(p.Outcome),
		},
		Associations: []association{{
			To:    associationTo{ID: id},
			Types: []associationType{{AssociationCategory: "HUBSPOT_DEFINED", AssociationTypeID: callToContact}},
		}},
	}
	// Answers are decoded so that a garbled one is retried (with the same
	// key) rather than taken for success.
	var created object
	err := c.client.Do(ctx, connector.Request{
		Method: http.MethodPost,
		Path:   "/crm/v3/objects/calls",
		Body:   call,
		Header: http.Header{"Idempotency-Key": {p.Key + ":call"}},
		Retry:  true,
	}, &created)
	if err != nil {
		return fmt.Errorf("logging the call: %w", err)
	}
	if p.MappedStatus == "" {
		return nil
	}
	var updated object
	err = c.client.Do(ctx, connector.Request{
		Method: http.MethodPatch,
		Path:   "/crm/v3/objects/contacts/" + id,
		Body:   contactUpdate{Properties: map[string]string{"hs_lead_status": p.MappedStatus}},
		Header: http.Header{"Idempotency-Key": {p.Key + ":status"}},
		Retry:  true,
	}, &updated)
	var e *connector.Error
	if errors.As(err, &e) && e.StatusCode == http.StatusBadRequest {
		return &connector.Error{
			Provider:   connector.HubSpot,
			Op:         e.Op,
			StatusCode: e.StatusCode,
			Message:    fmt.Sprintf("lead status %q was refused: %s", p.MappedStatus, e.Message),
			Err:        err,
		}
	}
	if err != nil {
		return fmt.Errorf("setting the lead status: %w", err)
	}
	return nil
}

func outcomeLabel(o connector.Outcome) string {
	switch o {
	case connector.OutcomeSuccess:
		return "Successful"
	case connector.OutcomePartial:
		return "Partially successful"
	case connector.OutcomeFailure:
		return "Unsuccessful"
	case connector.OutcomeNotAnswered:
		return "Not answered"
	}
	return string(o)
}

func disposition(o connector.Outcome) string {
	if o == connector.OutcomeNotAnswered {
		return dispositionNoAnswer
	}
	return dispositionConnected
}

// callBody is the call's notes in HubSpot's rich text: the outcome, the
// question results and the transcript, which is cut to keep the body
// within HubSpot's limit.
func callBody(p connector.PushRequest) string {
	var b strings.Builder
	b.WriteString("<p><strong>Outcome:</strong> " + html.EscapeString(outcomeLabel(p.Outcome)) + "</p>")
	if len(p.QuestionResults) > 0 {
		b.WriteString("<p><strong>Questions</strong></p><ul>")
		for _, q := range p.QuestionResults {
			b.WriteString("<li>" + html.EscapeString(q.Question) + ": " + html.EscapeString(q.Answer) + "</li>")
		}
		b.WriteString("</ul>")
	}
	transcript := strings.TrimSpace(strings.ReplaceAll(p.Transcript, "\r\n", "\n"))
	if transcript == "" {
		return b.String()
	}
	const tail, cut = "</p>", "…"
	b.WriteString("<p><strong>Transcript</strong></p><p>")
	for _, r := range transcript {
		s := html.EscapeString(string(r))
		if r == '\n' {
			s = "<br>"
		}
		if b.Len()+len(s)+len(cut)+len(tail) > maxCallBody {
			b.WriteString(cut)
			break
		}
		b.WriteString(s)
	}
	b.WriteString(tail)
	return b.String()
}
