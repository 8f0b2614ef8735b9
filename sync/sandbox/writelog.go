package sandbox

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// Write is one write request a fake received.
type Write struct {
	Method string
	Path   string
	// IdempotencyKey is the Idempotency-Key header, if the client sent one.
	// No fake honours it: none of the vendors documents it.
	IdempotencyKey string
	Body           json.RawMessage
	At             time.Time
	// Status is the answer's status; a 2xx write took effect, even when the
	// client never received the answer.
	Status int
}

// WriteLog records every write a fake received. It de-duplicates nothing:
// like the real systems, a fake applies every write it is sent, retries
// included.
type WriteLog struct {
	mu     sync.Mutex
	writes []Write
}

// Answer is the response a fake gives to a write.
type Answer struct {
	Status int
	Body   any
}

// NewWriteLog returns an empty log.
func NewWriteLog() *WriteLog { return &WriteLog{} }

// Apply runs apply and records the write with its answer. Writes to one log
// are serialised.
func (l *WriteLog) Apply(r *http.Request, body []byte, apply func() Answer) Answer {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := apply()
	l.writes = append(l.writes, Write{
		Method: r.Method, Path: r.URL.Path, IdempotencyKey: r.Header.Get("Idempotency-Key"),
		Body: append(json.RawMessage(nil), body...), At: time.Now(), Status: a.Status,
	})
	return a
}

// Writes returns a copy of every write received, in order.
func (l *WriteLog) Writes() []Write {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Write(nil), l.writes...)
}

// Applied returns the writes that took effect (a 2xx answer), in order.
func (l *WriteLog) Applied() []Write {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Write
	for _, w := range l.writes {
		if w.Status >= 200 && w.Status < 300 {
			out = append(out, w)
		}
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
