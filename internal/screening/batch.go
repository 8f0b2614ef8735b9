package screening

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/intake/intake/sync/connector"
)

// maxAnswerBytes bounds how much of an answer is read.
const maxAnswerBytes = 4 << 20

// maxErrorMessage is the length a provider's error message is cut to.
const maxErrorMessage = 200

// batch is one slice of a Judge call's records.
type batch struct {
	c           *Client
	description string
	ids         []string
	lines       []string
	out         []Verdict
	addUsage    func(Usage)
}

// attemptError is a failed attempt; hasRetryAfter when the server said
// how long to wait.
type attemptError struct {
	err           error
	retryAfter    time.Duration
	hasRetryAfter bool
}

func (e *attemptError) Error() string { return e.err.Error() }
func (e *attemptError) Unwrap() error { return e.err }

// errMalformed marks an answer that does not follow the protocol.
var errMalformed = errors.New("malformed answer")

// run judges the batch, re-asking for records left without a valid
// decision, and returns how many remain unjudged with the last failure.
func (b *batch) run(ctx context.Context) (int, error) {
	pending := make([]int, len(b.ids))
	for i := range pending {
		pending[i] = i
	}
	var lastErr error
	for attempt := 1; attempt <= b.c.maxAttempts; attempt++ {
		decided, err := b.ask(ctx, pending)
		if ctx.Err() != nil {
			return len(pending), ctx.Err()
		}
		if err != nil {
			lastErr = err
			var ae *APIError
			if errors.As(err, &ae) && isPermanent(ae.StatusCode) {
				return len(pending), err
			}
			if attempt == b.c.maxAttempts {
				break
			}
			wait := b.c.backoff(attempt)
			var te *attemptError
			if errors.As(err, &te) && te.hasRetryAfter {
				wait = te.retryAfter
			}
			if !sleep(ctx, wait) {
				return len(pending), ctx.Err()
			}
			continue
		}
		rest := pending[:0:0]
		for _, i := range pending {
			if v, ok := decided[b.ids[i]]; ok {
				b.out[i] = v
			} else {
				rest = append(rest, i)
			}
		}
		if len(rest) == 0 {
			return 0, nil
		}
		// An incomplete answer: keep what is valid and ask again, at
		// once, for the rest only.
		lastErr = fmt.Errorf("%w: %d of %d record(s) without a valid decision", errMalformed, len(rest), len(pending))
		pending = rest
	}
	return len(pending), lastErr
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// chatRequest is the Chat Completions request body.
type chatRequest struct {
	Model          string         `json:"model"`
	Temperature    float64        `json:"temperature"`
	Messages       []chatMessage  `json:"messages"`
	ResponseFormat responseFormat `json:"response_format"`
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type responseFormat struct {
	Type       string     `json:"type"`
	JSONSchema jsonSchema `json:"json_schema"`
}

type jsonSchema struct {
	Name   string          `json:"name"`
	Strict bool            `json:"strict"`
	Schema json.RawMessage `json:"schema"`
}

// chatResponse is the part of a Chat Completions answer that is used.
type chatResponse struct {
	Choices []struct {
		Message struct {
			Content *string `json:"content"`
			Refusal *string `json:"refusal"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
}

// answer is the model's structured output.
type answer struct {
	Decisions *[]struct {
		ID       string `json:"id"`
		Decision string `json:"decision"`
		Reason   string `json:"reason"`
	} `json:"decisions"`
}

// requestBody builds the deterministic request body for the records at
// the given indexes.
func (b *batch) requestBody(pending []int) ([]byte, error) {
	lines := make([]string, len(pending))
	for k, i := range pending {
		lines[k] = b.lines[i]
	}
	return json.Marshal(chatRequest{
		Model:       b.c.model,
		Temperature: 0,
		Messages: []chatMessage{
			{Role: "system", Content: systemPrompt},
			{Role: "user", Content: userMessage(b.description, lines)},
		},
		ResponseFormat: responseFormat{
			Type:       "json_schema",
			JSONSchema: jsonSchema{Name: schemaName, Strict: true, Schema: answerSchema},
		},
	})
}

// ask makes one request for the records at the given indexes and returns
// the valid decisions by record ID.
func (b *batch) ask(ctx context.Context, pending []int) (map[string]Verdict, error) {
	body, err := b.requestBody(pending)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, b.c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, b.c.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, errors.New("cannot build the request")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if b.c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+b.c.apiKey)
	}
	b.addUsage(Usage{Requests: 1})
	resp, err := b.c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if rctx.Err() != nil {
			return nil, fmt.Errorf("request timed out after %v", b.c.timeout)
		}
		return nil, b.c.scrub(fmt.Errorf("request failed: %w", err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if rctx.Err() != nil {
			return nil, fmt.Errorf("reading the answer timed out after %v", b.c.timeout)
		}
		return nil, b.c.scrub(fmt.Errorf("reading the answer: %w", err))
	}
	if resp.StatusCode != http.StatusOK {
		ae := b.c.apiError(resp.StatusCode, raw)
		h := resp.Header.Get("Retry-After")
		ra := min(connector.ParseRetryAfter(h, time.Now()), MaxRetryAfter)
		return nil, &attemptError{err: ae, retryAfter: ra, hasRetryAfter: strings.TrimSpace(h) != ""}
	}
	if len(raw) > maxAnswerBytes {
		return nil, fmt.Errorf("%w: the answer exceeds %d bytes", errMalformed, maxAnswerBytes)
	}
	var cr chatResponse
	if err := json.Unmarshal(raw, &cr); err != nil {
		return nil, fmt.Errorf("%w: the body is not a chat completion", errMalformed)
	}
	if cr.Usage != nil {
		b.addUsage(Usage{PromptTokens: cr.Usage.PromptTokens, CompletionTokens: cr.Usage.CompletionTokens})
	}
	if len(cr.Choices) == 0 {
		return nil, fmt.Errorf("%w: no choices", errMalformed)
	}
	ch := cr.Choices[0]
	switch {
	case ch.Message.Refusal != nil && strings.TrimSpace(*ch.Message.Refusal) != "":
		return nil, fmt.Errorf("%w: the model refused", errMalformed)
	case ch.FinishReason == "length":
		return nil, fmt.Errorf("%w: the answer was cut off (finish_reason length)", errMalformed)
	case ch.FinishReason != "" && ch.FinishReason != "stop":
		return nil, fmt.Errorf("%w: finish_reason %q", errMalformed, truncate(ch.FinishReason, 40))
	case ch.Message.Content == nil || strings.TrimSpace(*ch.Message.Content) == "":
		return nil, fmt.Errorf("%w: no content", errMalformed)
	}
	return b.parseAnswer(*ch.Message.Content, pending)
}

// parseAnswer validates the model's content. An answer with an id that
// was not asked for, or with an id twice, is rejected as a whole; a
// decision with an invalid value or an empty reason is dropped, leaving
// its record to be asked again.
func (b *batch) parseAnswer(content string, pending []int) (map[string]Verdict, error) {
	dec := json.NewDecoder(strings.NewReader(content))
	dec.DisallowUnknownFields()
	var a answer
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("%w: the content is not the JSON of the schema", errMalformed)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON content", errMalformed)
	}
	if a.Decisions == nil {
		return nil, fmt.Errorf("%w: no decisions", errMalformed)
	}
	asked := make(map[string]bool, len(pending))
	for _, i := range pending {
		asked[b.ids[i]] = true
	}
	seen := make(map[string]bool, len(*a.Decisions))
	out := make(map[string]Verdict, len(*a.Decisions))
	for _, d := range *a.Decisions {
		if !asked[d.ID] {
			return nil, fmt.Errorf("%w: a decision for a record that was not asked for", errMalformed)
		}
		if seen[d.ID] {
			return nil, fmt.Errorf("%w: two decisions for one record", errMalformed)
		}
		seen[d.ID] = true
		var decision Decision
		switch d.Decision {
		case "match":
			decision = Match
		case "no_match":
			decision = NoMatch
		case "unsure":
			decision = Unsure
		default:
			continue
		}
		reason := strings.TrimSpace(d.Reason)
		if reason == "" {
			continue
		}
		out[d.ID] = Verdict{ID: d.ID, Decision: decision, Reason: truncate(reason, MaxReasonLen)}
	}
	return out, nil
}

// apiError reads the OpenAI error shape from an error answer.
func (c *Client) apiError(status int, raw []byte) *APIError {
	ae := &APIError{StatusCode: status}
	var body struct {
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    any    `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &body) == nil {
		ae.Message = body.Error.Message
		ae.Type = body.Error.Type
		switch code := body.Error.Code.(type) {
		case string:
			ae.Code = code
		case float64:
			ae.Code = strconv.FormatFloat(code, 'f', -1, 64)
		}
	}
	if c.apiKey != "" {
		ae.Message = strings.ReplaceAll(ae.Message, c.apiKey, "[api key]")
		ae.Type = strings.ReplaceAll(ae.Type, c.apiKey, "[api key]")
		ae.Code = strings.ReplaceAll(ae.Code, c.apiKey, "[api key]")
	}
	ae.Message = truncate(strings.TrimSpace(ae.Message), maxErrorMessage)
	ae.Type = truncate(ae.Type, 60)
	ae.Code = truncate(ae.Code, 60)
	return ae
}

// truncate cuts s to n characters, marking the cut with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
