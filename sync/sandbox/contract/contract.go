// Package contract checks HTTP traffic against the documented facts of an
// external API: which endpoints exist, the names, types, bounds and
// presence of their parameters, and the fields of their answers. Each
// provider writes its facts down once, each with the public document it
// comes from (or ASSUMED where none exists), in its fake's package; the
// fake's handler is wrapped by a Checker, so every request a connector
// sends in a test and every answer the fake gives is checked against the
// same facts. A Checker records violations and never changes an answer:
// what the real system does with a bad request is the fake's business.
package contract

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Type is the type of a parameter or field.
type Type string

const (
	String   Type = "string"
	Integer  Type = "integer"
	Number   Type = "number"
	Boolean  Type = "boolean"
	Date     Type = "date"      // 2006-01-02 (query only)
	DateTime Type = "date-time" // RFC 3339, offset optional (query only)
	Array    Type = "array"     // JSON bodies only
	Object   Type = "object"    // JSON bodies only
)

// Param is a query parameter or a top-level field of a JSON request body.
type Param struct {
	Name     string
	Type     Type
	Required bool
	// Repeated allows a query parameter to appear more than once (an array
	// sent as Name=1&Name=2).
	Repeated bool
	// Min and Max bound an integer, inclusive.
	Min, Max *int64
	// Enum lists the allowed values of a string or boolean.
	Enum []string
}

// Endpoint is one documented operation.
type Endpoint struct {
	Method string
	// Path is a net/http pattern path, such as /crm/v3/objects/calls/{id}.
	Path string
	// Query lists every query parameter the endpoint takes.
	Query []Param
	// Body lists the top-level fields of a JSON object body; JSONBody
	// says the endpoint takes one (a request without it is a violation).
	JSONBody bool
	Body     []Param
	// Response lists the fields a 2xx JSON answer has. "a.b" is field b of
	// object a; "a[].b" is field b of every element of array a; "[]" alone
	// is an answer that is a JSON array, "[].id" a field of its elements.
	Response []string
	// ErrorFields, when set, replace Spec.ErrorFields for this endpoint
	// (an OAuth2 token endpoint answers errors in the OAuth2 shape).
	ErrorFields []string
	// Source is the public document (and section) the facts come from, or
	// "ASSUMED: why" where the vendor publishes none.
	Source string
}

// Spec is what a provider documents.
type Spec struct {
	Provider  string
	Endpoints []Endpoint
	// ErrorFields are the fields of every non-2xx JSON answer.
	ErrorFields []string
	ErrorSource string
}

// Int returns a pointer to n, for Param bounds.
func Int(n int64) *int64 { return &n }

// Checker checks traffic against a Spec and keeps what it found.
type Checker struct {
	spec Spec
	mux  *http.ServeMux // pattern -> endpoint index, for matching only

	mu         sync.Mutex
	violations []string
	checked    int
}

// New returns a Checker for spec. It panics on a spec whose paths net/http
// cannot parse, or that names one operation twice.
func New(spec Spec) *Checker {
	c := &Checker{spec: spec, mux: http.NewServeMux()}
	for _, e := range spec.Endpoints {
		c.mux.Handle(e.Method+" "+e.Path, http.NotFoundHandler())
	}
	return c
}

// Spec returns the facts the Checker checks.
func (c *Checker) Spec() Spec { return c.spec }

// Violations returns what was found so far, in order.
func (c *Checker) Violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.violations)
}

// TB is the part of testing.TB that Verify uses.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
}

// Verify fails t with every violation found, and when no request was
// checked at all (a test that checked nothing proves nothing).
func (c *Checker) Verify(t TB) {
	t.Helper()
	for _, v := range c.Violations() {
		t.Errorf("contract: %s", v)
	}
	if c.Checked() == 0 {
		t.Errorf("contract: %s: no request was checked", c.spec.Provider)
	}
}

// Checked returns how many requests were checked.
func (c *Checker) Checked() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checked
}

func (c *Checker) addf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.violations) < 1000 {
		c.violations = append(c.violations, fmt.Sprintf(format, args...))
	}
}

// endpoint finds the documented operation r is for.
func (c *Checker) endpoint(r *http.Request) (Endpoint, bool) {
	_, pattern := c.mux.Handler(r)
	for _, e := range c.spec.Endpoints {
		if e.Method+" "+e.Path == pattern {
			return e, true
		}
	}
	return Endpoint{}, false
}

// Wrap returns next with every request and answer checked.
func (c *Checker) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.checked++
		c.mu.Unlock()
		e, ok := c.endpoint(r)
		if !ok {
			c.addf("%s: %s %s is not a documented endpoint", c.spec.Provider, r.Method, r.URL.Path)
			next.ServeHTTP(w, r)
			return
		}
		op := c.spec.Provider + ": " + e.Method + " " + e.Path
		c.checkQuery(op, e, r.URL.Query())
		if e.JSONBody {
			body, err := readBody(r)
			if err != nil {
				c.addf("%s: reading the body: %v", op, err)
			} else {
				c.checkBody(op, e, body)
			}
		}
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 { // nothing was answered (a lost answer)
			return
		}
		c.checkAnswer(op, e, rec)
	})
}

func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	var buf bytes.Buffer
	_, err := buf.ReadFrom(http.MaxBytesReader(nil, r.Body, 32<<20))
	r.Body.Close()
	r.Body = readCloser{bytes.NewReader(buf.Bytes())}
	return buf.Bytes(), err
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

func (c *Checker) checkQuery(op string, e Endpoint, q url.Values) {
	for name, vs := range q {
		i := slices.IndexFunc(e.Query, func(p Param) bool { return p.Name == name })
		if i < 0 {
			c.addf("%s: query parameter %q is not documented", op, name)
			continue
		}
		p := e.Query[i]
		if len(vs) > 1 && !p.Repeated {
			c.addf("%s: query parameter %s appears %d times", op, name, len(vs))
		}
		for _, v := range vs {
			if msg := p.checkText(v); msg != "" {
				c.addf("%s: query parameter %s=%q: %s", op, name, v, msg)
			}
		}
	}
	for _, p := range e.Query {
		if p.Required && len(q[p.Name]) == 0 {
			c.addf("%s: required query parameter %s is missing", op, p.Name)
		}
	}
}

// checkText checks a value sent as text (a query parameter).
func (p Param) checkText(v string) string {
	switch p.Type {
	case Integer:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "not an integer"
		}
		return p.checkBounds(n)
	case Number:
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return "not a number"
		}
	case Boolean:
		if v != "true" && v != "false" {
			return "not a boolean"
		}
	case Date:
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			return "not a date (YYYY-MM-DD)"
		}
	case DateTime:
		_, err1 := time.Parse(time.RFC3339Nano, v)
		_, err2 := time.Parse("2006-01-02T15:04:05.999999999", v)
		if err1 != nil && err2 != nil {
			return "not a date-time"
		}
	}
	if len(p.Enum) > 0 && !slices.Contains(p.Enum, v) {
		return fmt.Sprintf("not one of %v", p.Enum)
	}
	return ""
}

func (p Param) checkBounds(n int64) string {
	switch {
	case p.Min != nil && n < *p.Min:
		return fmt.Sprintf("below the minimum %d", *p.Min)
	case p.Max != nil && n > *p.Max:
		return fmt.Sprintf("above the documented maximum %d", *p.Max)
	}
	return ""
}

func (c *Checker) checkBody(op string, e Endpoint, body []byte) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		c.addf("%s: the body is not a JSON object: %v", op, err)
		return
	}
	for name, raw := range obj {
		i := slices.IndexFunc(e.Body, func(p Param) bool { return p.Name == name })
		if i < 0 {
			c.addf("%s: body field %q is not documented", op, name)
			continue
		}
		if msg := e.Body[i].checkJSON(raw); msg != "" {
			c.addf("%s: body field %s: %s", op, name, msg)
		}
	}
	for _, p := range e.Body {
		if _, ok := obj[p.Name]; p.Required && !ok {
			c.addf("%s: required body field %s is missing", op, p.Name)
		}
	}
}

// checkJSON checks a value sent in a JSON body.
func (p Param) checkJSON(raw json.RawMessage) string {
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return err.Error()
	}
	ok := false
	switch x := v.(type) {
	case string:
		ok = p.Type == String
		if ok && len(p.Enum) > 0 && !slices.Contains(p.Enum, x) {
			return fmt.Sprintf("%q is not one of %v", x, p.Enum)
		}
	case json.Number:
		ok = p.Type == Number
		if n, err := x.Int64(); err == nil && p.Type == Integer {
			if msg := p.checkBounds(n); msg != "" {
				return msg
			}
			ok = true
		}
	case bool:
		ok = p.Type == Boolean
	case []any:
		ok = p.Type == Array
	case map[string]any:
		ok = p.Type == Object
	case nil:
		ok = !p.Required
	}
	if !ok {
		return fmt.Sprintf("%s is not of type %s", raw, p.Type)
	}
	return ""
}

func (c *Checker) checkAnswer(op string, e Endpoint, rec *recorder) {
	if rec.overflow {
		return
	}
	body := rec.body.Bytes()
	errorFields := e.ErrorFields
	if errorFields == nil {
		errorFields = c.spec.ErrorFields
	}
	isJSON := strings.Contains(rec.Header().Get("Content-Type"), "json")
	switch {
	case rec.status >= 200 && rec.status < 300:
		if len(e.Response) == 0 || rec.status == http.StatusNoContent {
			return
		}
		if !isJSON {
			c.addf("%s: a %d answer is not JSON (Content-Type %q)", op, rec.status, rec.Header().Get("Content-Type"))
			return
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return // a garbled body is a fault the fake injects on purpose
		}
		for _, f := range e.Response {
			if msg := has(v, f); msg != "" {
				c.addf("%s: the %d answer lacks %s: %s", op, rec.status, f, msg)
			}
		}
	case len(errorFields) > 0 && isJSON:
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			c.addf("%s: a %d answer is not valid JSON", op, rec.status)
			return
		}
		for _, f := range errorFields {
			if msg := has(v, f); msg != "" {
				c.addf("%s: the %d error answer lacks %s: %s", op, rec.status, f, msg)
			}
		}
	case len(errorFields) > 0 && rec.status != http.StatusNotFound:
		c.addf("%s: a %d error answer is not JSON", op, rec.status)
	}
}

// has reports what is missing of the field path f in v ("" when present).
func has(v any, f string) string {
	if f == "" {
		return ""
	}
	head, rest, _ := strings.Cut(f, ".")
	name, isArray := strings.CutSuffix(head, "[]")
	if name != "" {
		obj, ok := v.(map[string]any)
		if !ok {
			return "not an object"
		}
		if v, ok = obj[name]; !ok {
			return "no field " + name
		}
	}
	if !isArray {
		return has(v, rest)
	}
	arr, ok := v.([]any)
	if !ok {
		return fmt.Sprintf("%s is not an array", cmp.Or(name, "the answer"))
	}
	for i, el := range arr {
		if msg := has(el, rest); msg != "" {
			return fmt.Sprintf("element %d: %s", i, msg)
		}
	}
	return ""
}

// recorder keeps a copy of an answer while passing it on.
type recorder struct {
	http.ResponseWriter
	status   int
	body     bytes.Buffer
	overflow bool
}

const maxRecorded = 16 << 20

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.body.Len()+len(b) > maxRecorded {
		r.overflow = true
	} else {
		r.body.Write(b)
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (a fake that
// cuts it to lose an answer).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
