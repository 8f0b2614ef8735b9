// Package logging is the slog.Handler every Intake log record passes
// through. It adds the request ID of the record's context, so the lines of
// one request (access log, resolvers, services, errors) can be found
// together, and it redacts what must never reach a log in full: API keys
// and phone numbers. Log sites are written not to log either; the
// redaction is the safety net for text they do not control, such as an
// external system's error message that echoes a contact's number.
package logging

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
)

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request ID id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request ID of ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Handler wraps another slog.Handler; see the package documentation.
type Handler struct{ next slog.Handler }

// NewHandler wraps next. Wrapping a Handler again returns it unchanged, so
// layers that each make sure their logger redacts do not stack.
func NewHandler(next slog.Handler) slog.Handler {
	if h, ok := next.(*Handler); ok {
		return h
	}
	return &Handler{next: next}
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	if id := RequestID(ctx); id != "" {
		out.AddAttrs(slog.String("request_id", id))
	}
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = redactAttr(a)
	}
	return &Handler{next: h.next.WithAttrs(red)}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name)}
}

// redactAttr redacts string values, errors and anything else printed as
// text; numbers, booleans, times and durations pass unchanged.
func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, Redact(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]any, len(g))
		for i, ga := range g {
			red[i] = redactAttr(ga)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, Redact(x.Error()))
		case interface{ String() string }:
			return slog.String(a.Key, Redact(x.String()))
		case []byte:
			return slog.String(a.Key, Redact(string(x)))
		}
		// Other values are encoded by the next handler (as JSON or with
		// %+v); redact their text form so nothing escapes through them.
		return slog.String(a.Key, Redact(v.String()))
	}
	return slog.Attr{Key: a.Key, Value: v}
}

var (
	// apiKeyPattern matches Intake API keys (internal/service: "ik_" and
	// base64url).
	apiKeyPattern = regexp.MustCompile(`ik_[A-Za-z0-9_-]{8,}`)
	// phoneCandidate matches digit runs with the separators phone numbers
	// are written with; redactPhone decides which are phone numbers.
	phoneCandidate = regexp.MustCompile(`\+?\(?[0-9][0-9 ()./-]*[0-9]`)
)

// Redact returns s with API keys and phone numbers masked: a key keeps its
// "ik_" marker, a number its last two digits ("+4917612345678" becomes
// "***78").
func Redact(s string) string {
	if !strings.ContainsAny(s, "0123456789") {
		return s
	}
	s = apiKeyPattern.ReplaceAllString(s, "ik_[REDACTED]")
	locs := phoneCandidate.FindAllStringIndex(s, -1)
	if locs == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, l := range locs {
		start, end := l[0], l[1]
		if !isPhone(s, start, end) {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString("***")
		b.WriteString(lastDigits(s[start:end], 2))
		last = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// isPhone reports whether s[start:end], a phoneCandidate match, is a phone
// number rather than part of an ID, a date or an amount: it stands on its
// own (no letter, digit or underscore touching its digits) and either is written as phone
// numbers are (a leading +, 0 or parenthesis, and 7 digits or more; E.164,
// national and international formats) or is a bare run of 10 digits or
// more. Dates ("2026-11-25") and years begin with 1 or 2 and so pass.
func isPhone(s string, start, end int) bool {
	m := s[start:end]
	if isDigit(m[0]) && start > 0 && isWordByte(s[start-1]) || end < len(s) && isWordByte(s[end]) {
		return false
	}
	digits, run, longest := 0, 0, 0
	for i := 0; i < len(m); i++ {
		if isDigit(m[i]) {
			digits++
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	switch m[0] {
	case '+', '0', '(':
		return digits >= 7
	}
	return longest >= 10
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isWordByte(c byte) bool {
	return c == '_' || isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// lastDigits returns the last n digits of s.
func lastDigits(s string, n int) string {
	var out []byte
	for i := len(s) - 1; i >= 0 && len(out) < n; i-- {
		if isDigit(s[i]) {
			out = append([]byte{s[i]}, out...)
		}
	}
	return string(out)
}
