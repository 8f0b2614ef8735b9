package ats

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/intake/intake/sync/connector"
)

// Push writes the call result as a note on the candidate and, with a
// mapped status, moves the application to the stage of that name. The
// stage is looked up before anything is written, so an unknown status
// writes nothing.
func (c *conn) Push(ctx context.Context, p connector.PushRequest) error {
	candidateID := p.Contact.ExternalID
	if candidateID == "" {
		return fmt.Errorf("%s: pushing a call result: the contact has no external ID", c.cfg.Key)
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

	note := map[string]string{"content": noteContent(p)}
	if err := c.write(ctx, http.MethodPost, "/candidates/"+pathSegment(candidateID)+"/notes", note, idempotencyKey(p, "note")); err != nil {
		return err
	}
	if stageID == "" {
		return nil
	}
	move := map[string]string{"stage_id": stageID}
	return c.write(ctx, http.MethodPut, "/applications/"+pathSegment(applicationID)+"/stage", move, idempotencyKey(p, "stage"))
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

// write sends one write; with an idempotency key it may be retried.
func (c *conn) write(ctx context.Context, method, path string, body any, key string) error {
	req := connector.Request{Method: method, Path: path, Body: body, Retry: key != ""}
	if key != "" {
		req.Header = http.Header{"Idempotency-Key": {key}}
	}
	return c.http.Do(ctx, req, nil)
}

// idempotencyKey derives the key of one of a delivery's requests; "" when
// the delivery has none.
func idempotencyKey(p connector.PushRequest, request string) string {
	if p.Key == "" {
		return ""
	}
	return p.Key + ":" + request
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

func outcomeLabel(o connector.Outcome) string {
	switch o {
	case connector.OutcomeSuccess:
		return "Success"
	case connector.OutcomePartial:
		return "Partial"
	case connector.OutcomeFailure:
		return "Failure"
	case connector.OutcomeNotAnswered:
		return "Not answered"
	}
	return string(o)
}
