package sandbox

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// Write is one write request a fake received.
type Write struct {
	Method         string
	Path           string
	IdempotencyKey string // the Idempotency-Key header, if any
	Body           json.RawMessage
	At             time.Time
	// Replay is true when the key was seen before: the fake answered with
	// the first response and applied no second effect.
	Replay bool
}

// WriteLog records every write a fake received and de-duplicates by
// idempotency key the way real APIs that support the header do.
type WriteLog struct {
	mu      sync.Mutex
	writes  []Write
	effects map[string]int // idempotency key -> effects applied (0 or 1)
	answers map[string]Answer
}

// Answer is the response a fake gave to a write, replayed for its key.
type Answer struct {
	Status int
	Body   any
}

// NewWriteLog returns an empty log.
func NewWriteLog() *WriteLog {
	return &WriteLog{effects: map[string]int{}, answers: map[string]Answer{}}
}

// Apply records a write and, unless its idempotency key was answered
// before, runs apply and keeps its answer for later replays. Writes to one
// log are serialised, so two concurrent requests with one key take effect
// once.
func (l *WriteLog) Apply(r *http.Request, body []byte, apply func() Answer) (a Answer, replay bool) {
	key := r.Header.Get("Idempotency-Key")
	l.mu.Lock()
	defer l.mu.Unlock()
	if key != "" {
		a, replay = l.answers[key]
	}
	l.writes = append(l.writes, Write{
		Method: r.Method, Path: r.URL.Path, IdempotencyKey: key,
		Body: append(json.RawMessage(nil), body...), At: time.Now(), Replay: replay,
	})
	if replay {
		return a, true
	}
	a = apply()
	if key != "" && a.Status >= 200 && a.Status < 300 {
		l.effects[key]++
		l.answers[key] = a
	}
	return a, false
}

// Writes returns a copy of every write received, in order.
func (l *WriteLog) Writes() []Write {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Write(nil), l.writes...)
}

// Effects returns, per idempotency key, how many times a write with it took
// effect. With de-duplication working, every value is 1.
func (l *WriteLog) Effects() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.effects))
	for k, v := range l.effects {
		out[k] = v
	}
	return out
}

// WriteJSON writes a JSON response; fakes use it for every answer.
func WriteJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if body != nil {
		_ = json.NewEncoder(w).Encode(body)
	}
}
