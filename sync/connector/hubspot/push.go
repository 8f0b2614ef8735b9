package hubspot

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"strconv"
	"strings"

	"github.com/intake/intake/schema/schematype"
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

// maxKeyLen bounds a delivery key, which each call body carries.
const maxKeyLen = 256

// Push logs the call on the contact and, with a mapped status, sets the
// contact's hs_lead_status to it. A status HubSpot refuses is a
// non-temporary *connector.Error naming it.
//
// HubSpot documents no idempotency key for creates, so the call is logged
// exactly once in effect another way: its body ends with the delivery's
// marker, and before the create is sent again, Push looks for a call of the
// contact that carries it (see hasMarkedCall): before the first attempt of
// a redelivery, and before each retry of an attempt that may have taken
// effect. Setting the status is idempotent by nature and is simply retried.
func (c *conn) Push(ctx context.Context, p connector.PushRequest) error {
	id := p.Contact.ExternalID
	if !isObjectID(id) {
		return fmt.Errorf("hubspot: push: %q is not a HubSpot contact ID", id)
	}
	if p.Key == "" || len(p.Key) > maxKeyLen {
		return fmt.Errorf("hubspot: push: a delivery key of 1 to %d bytes is required", maxKeyLen)
	}
	if err := c.logCall(ctx, p); err != nil {
		return fmt.Errorf("logging the call: %w", err)
	}
	if p.MappedStatus == "" {
		return nil
	}
	var updated object
	err := c.client.Do(ctx, connector.Request{
		Method: http.MethodPatch,
		Path:   "/crm/v3/objects/contacts/" + id,
		Body:   contactUpdate{Properties: map[string]string{"hs_lead_status": p.MappedStatus}},
		Retry:  true,
	}, &updated)
	var e *connector.Error
	if errors.As(err, &e) && e.StatusCode == http.StatusBadRequest {
		return &connector.Error{
			Provider:   schematype.ProviderHubSpot,
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

// logCall creates the marked call unless an earlier attempt did.
func (c *conn) logCall(ctx context.Context, p connector.PushRequest) error {
	id, marker := p.Contact.ExternalID, connector.Marker(p.Key)
	look := func(ctx context.Context) (bool, error) { return c.hasMarkedCall(ctx, id, marker) }
	if p.Redelivery {
		found, err := look(ctx)
		if err != nil {
			return fmt.Errorf("looking for the call of an earlier attempt: %w", err)
		}
		if found {
			return nil
		}
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
	// The answer is decoded so that a garbled one counts as an attempt
	// that may have taken effect (looked for, then retried) rather than
	// as success.
	var created object
	return c.client.Do(ctx, connector.Request{
		Method:  http.MethodPost,
		Path:    "/crm/v3/objects/calls",
		Body:    call,
		Retry:   true,
		Recheck: look,
	}, &created)
}

func outcomeLabel(o schematype.CallOutcome) string {
	switch o {
	case schematype.OutcomeSuccess:
		return "Successful"
	case schematype.OutcomePartial:
		return "Partially successful"
	case schematype.OutcomeFailure:
		return "Unsuccessful"
	case schematype.OutcomeNotAnswered:
		return "Not answered"
	}
	return string(o)
}

func disposition(o schematype.CallOutcome) string {
	if o == schematype.OutcomeNotAnswered {
		return dispositionNoAnswer
	}
	return dispositionConnected
}

// callBody is the call's notes in HubSpot's rich text: the outcome, the
// question results, the transcript and, as the final paragraph, the
// delivery's marker. Room for the marker is kept first, so cutting the
// questions or the transcript to stay within HubSpot's limit never cuts it.
func callBody(p connector.PushRequest) string {
	const cut = "…"
	marker := markerParagraph(connector.Marker(p.Key))
	room := maxCallBody - len(marker)
	var b strings.Builder
	b.WriteString("<p><strong>Outcome:</strong> " + html.EscapeString(outcomeLabel(p.Outcome)) + "</p>")
	if len(p.QuestionResults) > 0 {
		const head, tail, cutItem = "<p><strong>Questions</strong></p><ul>", "</ul>", "<li>" + cut + "</li>"
		b.WriteString(head)
		for _, q := range p.QuestionResults {
			li := "<li>" + html.EscapeString(q.Question) + ": " + html.EscapeString(q.Answer) + "</li>"
			if b.Len()+len(li)+len(cutItem)+len(tail) > room {
				b.WriteString(cutItem)
				break
			}
			b.WriteString(li)
		}
		b.WriteString(tail)
	}
	transcript := strings.TrimSpace(strings.ReplaceAll(p.Transcript, "\r\n", "\n"))
	const head, tail = "<p><strong>Transcript</strong></p><p>", "</p>"
	if transcript != "" && b.Len()+len(head)+len(cut)+len(tail) <= room {
		b.WriteString(head)
		for _, r := range transcript {
			s := html.EscapeString(string(r))
			if r == '\n' {
				s = "<br>"
			}
			if b.Len()+len(s)+len(cut)+len(tail) > room {
				b.WriteString(cut)
				break
			}
			b.WriteString(s)
		}
		b.WriteString(tail)
	}
	b.WriteString(marker)
	return b.String()
}
