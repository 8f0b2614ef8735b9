// Package llmfake is a loopback FAKE of the OpenAI Chat Completions API,
// for tests and the demo mode of contact screening (package
// internal/screening). It is not a language model and must never be
// presented as one.
//
// Like the other fakes under sync/sandbox, it implements what OpenAI
// documents and nothing kinder: bearer-key authentication, request
// validation with the OpenAI error shape, model lookup, and answers in the
// documented chat.completion shape with token usage. Its decisions follow
// fixed keyword rules (see Keywords and Judge), so tests can predict them.
// Faults (rate limits, server errors, slow, malformed, incomplete and
// truncated answers) can be queued or given rates; the fake records what
// it received, so tests can check that no contact data arrived and that a
// cache saved a request.
package llmfake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/intake/intake/sync/sandbox"
)

// DefaultModel is the model the fake serves when Options.Models is empty.
const DefaultModel = "fake-screening-1"

// Path is the endpoint the fake serves; a client's base URL is the
// server's URL plus "/v1".
const Path = "/v1/chat/completions"

// maxBody bounds the request body the fake reads.
const maxBody = 8 << 20

// Options configures a Server.
type Options struct {
	// APIKey, when set, is required as "Authorization: Bearer <APIKey>".
	APIKey string
	// Models are the model names served (default [DefaultModel]).
	Models []string
	// Delay makes each answer wait this long (or until the client gives
	// up).
	Delay time.Duration
	// Seed seeds fault rates and answer ids.
	Seed uint64
	// Unsure are words (lower case) that make a record "unsure" when one
	// of its string values contains one, before the keyword rules apply:
	// a model that cannot tell from such data.
	Unsure []string
}

// Server is the fake. Use it as an http.Handler or Start it on a loopback
// address. Safe for concurrent use.
type Server struct {
	// Faults injects failures; configure it at any time.
	Faults *sandbox.Faults

	apiKey string
	models []string
	seed   uint64
	unsure []string

	mu          sync.Mutex
	delay       time.Duration
	requests    int
	inFlight    int
	maxInFlight int
	received    []Record

	srv *http.Server
	ln  net.Listener
}

// New returns a fake configured by opts.
func New(opts Options) *Server {
	models := slices.Clone(opts.Models)
	if len(models) == 0 {
		models = []string{DefaultModel}
	}
	return &Server{
		Faults: sandbox.NewFaults(opts.Seed),
		apiKey: opts.APIKey,
		models: models,
		seed:   opts.Seed,
		delay:  opts.Delay,
		unsure: slices.Clone(opts.Unsure),
	}
}

// Start serves the fake on addr, which must be a loopback address
// ("127.0.0.1:0" when empty).
func (s *Server) Start(addr string) error {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("llmfake: address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("llmfake: address %q is not a loopback address", addr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("llmfake: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("llmfake: %w", err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return nil
}

// URL returns the base URL of a started fake, including "/v1" (empty
// before Start).
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String() + "/v1"
}

// Close stops a started fake and ends the requests it is serving.
func (s *Server) Close() {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// SetDelay changes how long each answer waits.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Requests returns the number of requests received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// MaxInFlight returns the largest number of requests served at once.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInFlight
}

// Received returns the records read from valid requests, in the order
// they arrived, faulted requests included.
func (s *Server) Received() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.received)
}

// ResetStats forgets the requests and records seen so far.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests, s.maxInFlight = 0, s.inFlight
	s.received = nil
}

// apiError is the OpenAI error shape.
type apiError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func strp(s string) *string { return &s }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, e apiError) {
	writeJSON(w, status, map[string]apiError{"error": e})
}

// invalid answers 400 invalid_request_error.
func invalid(w http.ResponseWriter, msg string, param, code *string) {
	writeError(w, http.StatusBadRequest, apiError{Message: msg, Type: "invalid_request_error", Param: param, Code: code})
}

// ServeHTTP serves POST /v1/chat/completions.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	n := s.requests
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	delay := s.delay
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()

	if r.URL.Path != Path {
		writeError(w, http.StatusNotFound, apiError{Message: fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path), Type: "invalid_request_error"})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, apiError{Message: fmt.Sprintf("Invalid method for URL (%s %s)", r.Method, r.URL.Path), Type: "invalid_request_error"})
		return
	}
	if s.apiKey != "" && r.Header.Get("Authorization") != "Bearer "+s.apiKey {
		writeError(w, http.StatusUnauthorized, apiError{Message: "Incorrect API key provided.", Type: "invalid_request_error", Code: strp("invalid_api_key")})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return // the client went away
	}
	if len(body) > maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, apiError{Message: "The request body is too large.", Type: "invalid_request_error"})
		return
	}
	req, ok := s.validate(w, body)
	if !ok {
		return
	}
	desc, recs := parseUserMessage(req.user)
	s.mu.Lock()
	for _, rec := range recs {
		rec.Request = n
		s.received = append(s.received, rec)
	}
	s.mu.Unlock()

	if !wait(r.Context(), delay) {
		return
	}
	fault, retryAfter, slow := s.Faults.Draw(r)
	switch fault {
	case sandbox.RateLimit:
		secs := int(retryAfter / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeError(w, http.StatusTooManyRequests, apiError{
			Message: fmt.Sprintf("Rate limit reached for %s on requests per min (RPM): Limit 60, Used 60, Requested 1. Please try again in %ds.", req.model, secs),
			Type:    "requests",
			Code:    strp("rate_limit_exceeded"),
		})
		return
	case sandbox.ServerError:
		writeError(w, http.StatusInternalServerError, apiError{Message: "The server had an error while processing your request.", Type: "server_error"})
		return
	case sandbox.LostAnswer:
		// The connection drops before the answer, as a timeout does.
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
			return
		}
		panic(http.ErrAbortHandler)
	case sandbox.Slow:
		if !wait(r.Context(), slow) {
			return
		}
	}

	keywords := Keywords(desc)
	ds := make([]decision, 0, len(recs))
	for _, rec := range recs {
		d, reason := Judge(keywords, rec.Attributes)
		if w, ok := mentions(s.unsure, rec.Attributes); ok {
			d, reason = "unsure", fmt.Sprintf("Mentions %q, which does not tell whether the record fits.", w)
		}
		ds = append(ds, decision{ID: rec.ID, Decision: d, Reason: reason})
	}
	finish := "stop"
	var content string
	switch fault {
	case sandbox.Malformed:
		content = "Sure! Here are the decisions you asked for: the first record is a match, the others are not."
	case sandbox.Incomplete:
		if len(ds) > 0 {
			ds = ds[:len(ds)-1]
		}
		content = answerContent(ds)
	case sandbox.Truncated:
		full := []rune(answerContent(ds))
		content = string(full[:len(full)/2])
		finish = "length"
	default:
		content = answerContent(ds)
	}
	promptTokens := tokens(req.promptChars)
	completionTokens := tokens(utf8.RuneCountInString(content))
	writeJSON(w, http.StatusOK, map[string]any{
		"id":      fmt.Sprintf("chatcmpl-fake%x%06d", s.seed, n),
		"object":  "chat.completion",
		"created": time.Now().Unix(),
		"model":   req.model,
		"choices": []any{map[string]any{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": content, "refusal": nil},
			"logprobs":      nil,
			"finish_reason": finish,
		}},
		"usage": map[string]int{
			"prompt_tokens":     promptTokens,
			"completion_tokens": completionTokens,
			"total_tokens":      promptTokens + completionTokens,
		},
	})
}

// tokens estimates a token count as ceil(chars/4).
func tokens(chars int) int { return (chars + 3) / 4 }

// wait sleeps d or until ctx ends; it reports whether d passed.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
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

// validRequest is what a valid request carries.
type validRequest struct {
	model       string
	user        string // the last user message's text
	promptChars int
}

// roles are the message roles the API accepts.
var roles = []string{"system", "assistant", "user", "function", "tool", "developer"}

// validate checks a request body as the API does, answering the error
// itself when the body is invalid.
func (s *Server) validate(w http.ResponseWriter, body []byte) (validRequest, bool) {
	var vr validRequest
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		invalid(w, "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)", nil, nil)
		return vr, false
	}
	raw, ok := fields["model"]
	if !ok || isNull(raw) {
		invalid(w, "You must provide a model parameter.", strp("model"), nil)
		return vr, false
	}
	if json.Unmarshal(raw, &vr.model) != nil {
		invalid(w, "Invalid type for 'model': expected a string.", strp("model"), strp("invalid_type"))
		return vr, false
	}
	if !slices.Contains(s.models, vr.model) {
		writeError(w, http.StatusNotFound, apiError{
			Message: fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", vr.model),
			Type:    "invalid_request_error",
			Code:    strp("model_not_found"),
		})
		return vr, false
	}
	raw, ok = fields["messages"]
	if !ok || isNull(raw) {
		invalid(w, "Missing required parameter: 'messages'.", strp("messages"), strp("missing_required_parameter"))
		return vr, false
	}
	var msgs []map[string]json.RawMessage
	if json.Unmarshal(raw, &msgs) != nil {
		invalid(w, "Invalid type for 'messages': expected an array of objects.", strp("messages"), strp("invalid_type"))
		return vr, false
	}
	if len(msgs) == 0 {
		invalid(w, "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", strp("messages"), strp("empty_array"))
		return vr, false
	}
	for i, m := range msgs {
		param := fmt.Sprintf("messages[%d].role", i)
		rawRole, ok := m["role"]
		if !ok || isNull(rawRole) {
			invalid(w, fmt.Sprintf("Missing required parameter: '%s'.", param), &param, strp("missing_required_parameter"))
			return vr, false
		}
		var role string
		if json.Unmarshal(rawRole, &role) != nil || !slices.Contains(roles, role) {
			invalid(w, fmt.Sprintf("Invalid value: %s. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.", rawRole), &param, strp("invalid_value"))
			return vr, false
		}
		cparam := fmt.Sprintf("messages[%d].content", i)
		text, ok := contentText(m["content"])
		if !ok || (role != "assistant" && isNull(m["content"])) {
			invalid(w, fmt.Sprintf("Invalid type for '%s': expected one of a string or an array of objects.", cparam), &cparam, strp("invalid_type"))
			return vr, false
		}
		vr.promptChars += utf8.RuneCountInString(text)
		if role == "user" {
			vr.user = text
		}
	}
	if raw, ok := fields["response_format"]; ok && !isNull(raw) {
		if !s.validFormat(w, raw) {
			return vr, false
		}
	}
	return vr, true
}

// validFormat checks a response_format: the fake answers only with a
// json_schema carrying a name and a schema.
func (s *Server) validFormat(w http.ResponseWriter, raw json.RawMessage) bool {
	var rf struct {
		Type       *string                    `json:"type"`
		JSONSchema map[string]json.RawMessage `json:"json_schema"`
	}
	if json.Unmarshal(raw, &rf) != nil {
		invalid(w, "Invalid type for 'response_format': expected an object.", strp("response_format"), strp("invalid_type"))
		return false
	}
	if rf.Type == nil {
		invalid(w, "Missing required parameter: 'response_format.type'.", strp("response_format.type"), strp("missing_required_parameter"))
		return false
	}
	if *rf.Type != "json_schema" {
		invalid(w, fmt.Sprintf("Invalid value: '%s'. This fake answers only with response_format type 'json_schema'.", *rf.Type), strp("response_format.type"), strp("invalid_value"))
		return false
	}
	if rf.JSONSchema == nil {
		invalid(w, "Missing required parameter: 'response_format.json_schema'.", strp("response_format.json_schema"), strp("missing_required_parameter"))
		return false
	}
	var name string
	if json.Unmarshal(rf.JSONSchema["name"], &name) != nil || name == "" {
		invalid(w, "Missing required parameter: 'response_format.json_schema.name'.", strp("response_format.json_schema.name"), strp("missing_required_parameter"))
		return false
	}
	var schema map[string]any
	if json.Unmarshal(rf.JSONSchema["schema"], &schema) != nil || schema == nil {
		invalid(w, "Missing required parameter: 'response_format.json_schema.schema'.", strp("response_format.json_schema.schema"), strp("missing_required_parameter"))
		return false
	}
	return true
}

// isNull reports whether raw is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	return len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// contentText reads a message content: a string, an array of text parts,
// or null.
func contentText(raw json.RawMessage) (string, bool) {
	if isNull(raw) {
		return "", true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return "", false
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String(), true
}
