package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"github.com/intake/intake/internal/logging"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"calling +4917612345678 now", "calling ***78 now"},
		{"Property phone=+49 171 1234567 is invalid", "Property phone=***67 is invalid"},
		{"national 0171/1234567, intl 0049 171 1234567", "national ***67, intl ***67"},
		{"us (555) 123-4567", "us ***67"},
		{"bare 4917612345678", "bare ***78"},
		{"tel:+4917612345678", "tel:***78"},
		{"key ik_AbCdEfGh012345678-_xyz leaked", "key ik_[REDACTED] leaked"},
		// Not phone numbers: left alone.
		{"run ru_01JDX4Y8K3T8M9Q0W2E5R7T9Y1 at 2026-11-25 04:44:00", "run ru_01JDX4Y8K3T8M9Q0W2E5R7T9Y1 at 2026-11-25 04:44:00"},
		{"listening on 127.0.0.1:8080, 42 rows, took 1.5s", "listening on 127.0.0.1:8080, 42 rows, took 1.5s"},
		{"short +49 123", "short +49 123"},
		{"request 0a1b2c3d4e5f60718293a4b5c6d7e8f9", "request 0a1b2c3d4e5f60718293a4b5c6d7e8f9"},
	}
	for _, c := range cases {
		if got := logging.Redact(c.in); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestHandler(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(logging.NewHandler(logging.NewHandler(slog.NewJSONHandler(&buf, nil))))
	ctx := logging.WithRequestID(context.Background(), "req-1")
	log.With("number", "+4917612345678").InfoContext(ctx, "pushback dead +4917612345678",
		slog.Any("err", errors.New("refused: +4917612345678")),
		slog.Group("g", slog.String("key", "ik_AbCdEfGh012345678")),
		slog.Int("count", 12345678901))
	log.Info("no request")

	dec := json.NewDecoder(&buf)
	var first, second map[string]any
	if err := dec.Decode(&first); err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(&second); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"msg": "pushback dead ***78", "number": "***78", "err": "refused: ***78",
		"g": map[string]any{"key": "ik_[REDACTED]"}, "count": float64(12345678901), "request_id": "req-1",
	}
	for k, v := range want {
		if got, _ := json.Marshal(first[k]); string(got) != mustJSON(v) {
			t.Errorf("%s = %s, want %s (record %v)", k, got, mustJSON(v), first)
		}
	}
	if _, ok := second["request_id"]; ok {
		t.Errorf("a record without a request in its context has request_id: %v", second)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
