package sandbox

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Fault is a failure a fake can inject instead of answering normally.
type Fault int

const (
	NoFault Fault = iota
	// RateLimit answers 429 with the provider's rate-limit headers
	// (Retry-After unless SetRateLimitHeaders says otherwise).
	RateLimit
	// ServerError answers 500 with the provider's error body shape.
	ServerError
	// Slow waits SlowDelay (or until the client gives up), then answers normally.
	Slow
	// Malformed answers 200 with a body that is not valid JSON.
	Malformed
	// LostAnswer serves the request in full, effects included, then cuts
	// the connection before a byte of the answer is sent, as a timeout or
	// a dropped connection after the write does.
	LostAnswer
	// Incomplete answers 200 with part of what was asked for left out (a
	// model's answer missing one record's decision). Only fakes that
	// answer batches inject it, through Draw; Middleware lets it pass.
	Incomplete
	// Truncated answers 200 with the answer cut off at a length limit (a
	// model's finish_reason "length"). Only fakes whose answers can be
	// cut inject it, through Draw; Middleware lets it pass.
	Truncated
)

func (f Fault) String() string {
	switch f {
	case RateLimit:
		return "rate_limit"
	case ServerError:
		return "server_error"
	case Slow:
		return "slow"
	case Malformed:
		return "malformed"
	case LostAnswer:
		return "lost_answer"
	case Incomplete:
		return "incomplete"
	case Truncated:
		return "truncated"
	}
	return "none"
}

// Faults decides, request by request, whether a fake fails. Queued faults
// (Next) come first, in order; then each fault kind strikes with its rate,
// drawn from a seeded generator so a test run is repeatable. Safe for
// concurrent use; configure it at any time.
type Faults struct {
	mu         sync.Mutex
	rng        *rand.Rand
	queue      []Fault
	rates      map[Fault]float64
	retryAfter time.Duration
	limitHdrs  func(h http.Header, retryAfter time.Duration)
	slowDelay  time.Duration
	match      func(*http.Request) bool
	injected   map[Fault]int
}

// NewFaults returns an injector that injects nothing until told to.
func NewFaults(seed uint64) *Faults {
	return &Faults{
		rng:        rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		rates:      map[Fault]float64{},
		retryAfter: time.Second,
		slowDelay:  2 * time.Second,
		injected:   map[Fault]int{},
	}
}

// Next queues faults for the next matching requests, one each.
func (f *Faults) Next(faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = append(f.queue, faults...)
}

// SetRate makes kind strike a fraction p (0..1) of matching requests.
func (f *Faults) SetRate(kind Fault, p float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rates[kind] = p
}

// SetRateLimitHeaders replaces the Retry-After header of injected 429s by
// what set writes: the headers the provider documents for its limits.
func (f *Faults) SetRateLimitHeaders(set func(h http.Header, retryAfter time.Duration)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limitHdrs = set
}

// SetRetryAfter sets the Retry-After of injected 429s (whole seconds; 0 sends "0").
func (f *Faults) SetRetryAfter(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.retryAfter = d
}

// SetSlowDelay sets how long a Slow fault stalls.
func (f *Faults) SetSlowDelay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.slowDelay = d
}

// Only restricts injection to requests for which match is true (nil: all).
func (f *Faults) Only(match func(*http.Request) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.match = match
}

// Reset clears queued faults and rates (counts are kept).
func (f *Faults) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = nil
	clear(f.rates)
}

// Injected returns how many faults of each kind were injected so far.
func (f *Faults) Injected() map[Fault]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[Fault]int, len(f.injected))
	for k, v := range f.injected {
		out[k] = v
	}
	return out
}

// Draw picks the fault for one request, with the current Retry-After and
// slow delay, for a fake that injects faults itself instead of through
// Middleware.
func (f *Faults) Draw(r *http.Request) (fault Fault, retryAfter, slowDelay time.Duration) {
	return f.draw(r)
}

func (f *Faults) draw(r *http.Request) (Fault, time.Duration, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.match != nil && !f.match(r) {
		return NoFault, 0, 0
	}
	fault := NoFault
	if len(f.queue) > 0 {
		fault, f.queue = f.queue[0], f.queue[1:]
	} else {
		for _, k := range []Fault{RateLimit, ServerError, Slow, Malformed, LostAnswer, Incomplete, Truncated} {
			if p := f.rates[k]; p > 0 && f.rng.Float64() < p {
				fault = k
				break
			}
		}
	}
	if fault != NoFault {
		f.injected[fault]++
	}
	return fault, f.retryAfter, f.slowDelay
}

func (f *Faults) rateLimitHeaders() func(http.Header, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.limitHdrs
}

// Middleware wraps a fake's handler. errorBody writes the provider's own
// error shape for a status and message.
func (f *Faults) Middleware(next http.Handler, errorBody func(w http.ResponseWriter, status int, msg string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fault, retryAfter, slow := f.draw(r)
		switch fault {
		case RateLimit:
			if set := f.rateLimitHeaders(); set != nil {
				set(w.Header(), retryAfter)
			} else {
				w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter/time.Second)))
			}
			errorBody(w, http.StatusTooManyRequests, "rate limit exceeded (injected by the sandbox)")
			return
		case ServerError:
			errorBody(w, http.StatusInternalServerError, "internal error (injected by the sandbox)")
			return
		case LostAnswer:
			next.ServeHTTP(discard{header: http.Header{}}, r)
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				_ = conn.Close()
				return
			}
			panic(http.ErrAbortHandler) // HTTP/2: abort the stream
		case Malformed:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"status":"success","data":{"results":[{"id":`))
			return
		case Slow:
			// Read the body first: only then does the server notice a
			// client that gave up, and the stall ends with it.
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			t := time.NewTimer(slow)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// discard is a ResponseWriter that drops the answer of a LostAnswer.
type discard struct{ header http.Header }

func (d discard) Header() http.Header         { return d.header }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}
