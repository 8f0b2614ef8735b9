package ats

import (
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

// Push writes the call result as a note on the candidate and, with a
// mapped status, moves the application to the stage of that name. The
// stage is looked up before anything is written, so an unknown status
// writes nothing.
//
// The API is not assumed to de-duplicate creates, so a note could be
// written twice when an answer is lost. Every note therefore ends with the
// delivery's marker, and the connector looks for it in the candidate's
// notes before creating the note again: before the first create of a
// redelivery, and before each retry of a create that may have taken
// effect. The stage move sets a value and is simply repeated.
func (c *conn) Push(ctx context.Context, p connector.PushRequest) error {
	candidateID := p.Contact.ExternalID
	if candidateID == "" {
		return fmt.Errorf("%s: pushing a call result: the contact has no external ID", c.cfg.Key)
	}
	if p.Key == "" {
		// Without a key the note cannot be marked, and a retry could not
		// tell whether an earlier attempt wrote it.
		return fmt.Errorf("%s: pushing a call result for candidate %s: the delivery has no key", c.cfg.Key, candidateID)
	}
	status := strings.TrimSpace(p.MappedStatus)
	var applicationID, stageID string
	if status != "" {
		if !c.cfg.StatusMapping {
			return fmt.Errorf("%s: pushing a call result for candidate %s: status mapping is not supported, yet status %q was given", c.cfg.Key, candidateID, status)
		}
		applicationID = stringAttr(p.Contact.Attributes, AttrApplicationID)
		jobID := stringAttr(p.Contact.Attributes, AttrJobID)
		if applicationID == "" || jobID == "" {
			return fmt.Errorf("%s: pushing status %q for candidate %s: the contact lacks the %s and %s attributes that locate its application", c.cfg.Key, status, candidateID, AttrApplicationID, AttrJobID)
		}
		var err error
		if stageID, err = c.stageID(ctx, jobID, applicationID, status); err != nil {
			return err
		}
	}

	if err := c.writeNote(ctx, candidateID, p); err != nil {
		return err
	}
	if stageID == "" {
		return nil
	}
	return c.write(ctx, connector.Request{
		Method: http.MethodPut,
		Path:   "/applications/" + pathSegment(applicationID) + "/stage",
		Body:   map[string]string{"stage_id": stageID},
		Retry:  true, // setting the stage again changes nothing
	})
}

// writeNote creates the delivery's note on the candidate unless it is
// there already.
func (c *conn) writeNote(ctx context.Context, candidateID string, p connector.PushRequest) error {
	marker := connector.Marker(p.Key)
	written := func(ctx context.Context) (bool, error) { return c.hasNote(ctx, candidateID, marker) }
	if p.Redelivery {
		found, err := written(ctx)
		if err != nil || found {
			return err
		}
	}
	return c.write(ctx, connector.Request{
		Method:  http.MethodPost,
		Path:    notesPath(candidateID),
		Body:    map[string]string{"content": noteContent(p) + "\n\n" + marker},
		Retry:   true,
		Recheck: written,
	})
}

func notesPath(candidateID string) string {
	return "/candidates/" + pathSegment(candidateID) + "/notes"
}

// note is the part of a listed note that Push reads.
type note struct {
	Content string `json:"content"`
}

// hasNote reports whether one of the candidate's notes carries marker. It
// reads every page: the order of the notes is not assumed, so the marker
// may be on any of them.
func (c *conn) hasNote(ctx context.Context, candidateID, marker string) (bool, error) {
	path := notesPath(candidateID)
	query := url.Values{"page_size": {strconv.Itoa(maxPageSize)}}
	seen := map[string]bool{}
	for {
		data, err := get[list[note]](ctx, c, path, query)
		if err != nil {
			return false, err
		}
		for _, n := range data.Results {
			if carries(n.Content, marker) {
				return true, nil
			}
		}
		next := data.next()
		if next == "" {
			return false, nil
		}
		// A cursor handed out twice would make the listing go round
		// forever.
		if seen[next] {
			return false, c.stuckCursor("GET " + path)
		}
		seen[next] = true
		query.Set("cursor", next)
	}
}

// carries reports whether content has marker as one of its lines. The
// marker is written as the last line, but any line is accepted in case the
// system appends to a note; a whole line is compared so that the marker of
// key "d1" is not found in a note marked "d10".
func carries(content, marker string) bool {
	for line := range strings.Lines(content) {
		if strings.TrimSpace(line) == marker {
			return true
		}
	}
	return false
}

// stageID finds the stage of the job whose name equals status, ignoring
// case and surrounding spaces.
func (c *conn) stageID(ctx context.Context, jobID, applicationID, status string) (string, error) {
	j, err := get[job](ctx, c, "/jobs/"+pathSegment(jobID), nil)
	if err != nil {
		return "", err
	}
	names := make([]string, 0, len(j.Stages))
	for _, s := range j.Stages {
		if strings.EqualFold(strings.TrimSpace(s.Name), status) && s.ID != "" {
			return s.ID, nil
		}
		names = append(names, fmt.Sprintf("%q", s.Name))
	}
	return "", &connector.Error{
		Provider: c.cfg.Key,
		Op:       "PUT /applications/" + pathSegment(applicationID) + "/stage",
		Message: fmt.Sprintf("status %q is not a stage of job %q (%s); its stages are %s",
			status, j.Name, jobID, strings.Join(names, ", ")),
	}
}

// write sends a write. Its answer is decoded, not ignored: a garbled one
// then counts as a failure that may have taken effect, to be rechecked or
// retried, rather than as a success.
func (c *conn) write(ctx context.Context, req connector.Request) error {
	var answer json.RawMessage
	return c.http.Do(ctx, req, &answer)
}

func stringAttr(attrs map[string]any, key string) string {
	s, _ := attrs[key].(string)
	return s
}

// noteContent is the call result as a recruiter reads it.
func noteContent(p connector.PushRequest) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Call result: %s\n", outcomeLabel(p.Outcome))
	if !p.CalledAt.IsZero() {
		fmt.Fprintf(&b, "Called at: %s\n", p.CalledAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	if p.Duration > 0 {
		fmt.Fprintf(&b, "Duration: %s\n", p.Duration.Round(time.Second))
	}
	if s := strings.TrimSpace(p.MappedStatus); s != "" {
		fmt.Fprintf(&b, "Status: %s\n", s)
	}
	if len(p.QuestionResults) > 0 {
		b.WriteString("\nQuestions:\n")
		for _, q := range p.QuestionResults {
			fmt.Fprintf(&b, "- %s\n  Answer: %s\n", q.Question, q.Answer)
		}
	}
	if t := strings.TrimSpace(p.Transcript); t != "" {
		fmt.Fprintf(&b, "\nTranscript:\n%s\n", t)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func outcomeLabel(o schematype.CallOutcome) string {
	switch o {
	case schematype.OutcomeSuccess:
		return "Success"
	case schematype.OutcomePartial:
		return "Partial"
	case schematype.OutcomeFailure:
		return "Failure"
	case schematype.OutcomeNotAnswered:
		return "Not answered"
	}
	return string(o)
}
