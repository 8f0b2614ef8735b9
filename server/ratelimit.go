package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/viewer"
)

// rateLimiter is a token bucket per API key: a key holds up to burst
// tokens, gains rate tokens a second, and spends one per operation.
type rateLimiter struct {
	rate  float64 // tokens a second
	burst float64
	// refill is how long an empty bucket takes to fill up. A full bucket
	// behaves like no bucket, so buckets idle that long are dropped: memory
	// grows with the keys active in the last refill period, not with all
	// keys ever seen.
	refill time.Duration

	mu      sync.Mutex
	buckets map[pulid.ID]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was computed
}

// newRateLimiter returns the limiter of l, or nil when rate limits are off.
func newRateLimiter(l Limits) *rateLimiter {
	if l.RatePerSecond <= 0 {
		return nil
	}
	return &rateLimiter{
		rate:    l.RatePerSecond,
		burst:   float64(l.RateBurst),
		refill:  time.Duration(float64(l.RateBurst) / l.RatePerSecond * float64(time.Second)),
		buckets: map[pulid.ID]*bucket{},
	}
}

// take spends one of key's tokens at now. Without one, it returns false and
// how long until the next token.
func (l *rateLimiter) take(key pulid.ID, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) >= l.refill {
		for k, b := range l.buckets {
			if now.Sub(b.at) >= l.refill {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	} else if now.After(b.at) {
		b.tokens = min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
		b.at = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// rateCounted marks a request context whose operation the HTTP layer has
// already counted.
type rateCounted struct{}

// limitRate spends a token of the request's API key, answering 429 with
// Retry-After when there is none. It runs after authentication.
func (s *Server) limitRate(next http.Handler) http.Handler {
	if s.rate == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewer.FromContext(r.Context())
		if v == nil {
			next.ServeHTTP(w, r) // websocket upgrades: counted per operation
			return
		}
		if ok, wait := s.rate.take(v.KeyID, time.Now()); !ok {
			secs := retryAfterSeconds(wait)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"errors": []any{map[string]any{
				"message":    rateLimitedMessage(secs),
				"extensions": map[string]any{"code": service.CodeRateLimited, "retryAfter": secs},
			}}})
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), rateCounted{}, true)))
	})
}

// limitOperationRate spends a token for each operation a websocket starts
// (subscriptions, and queries or mutations sent over the socket); HTTP
// requests were counted by limitRate.
func (s *Server) limitOperationRate(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	v := viewer.FromContext(ctx)
	if s.rate == nil || v == nil || ctx.Value(rateCounted{}) != nil {
		return next(ctx)
	}
	if ok, wait := s.rate.take(v.KeyID, time.Now()); !ok {
		secs := retryAfterSeconds(wait)
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
			Message:    rateLimitedMessage(secs),
			Extensions: map[string]any{"code": service.CodeRateLimited, "retryAfter": secs},
		}}})
	}
	return next(ctx)
}

func rateLimitedMessage(secs int) string {
	return fmt.Sprintf("too many requests for this API key; retry in %d s", secs)
}

// retryAfterSeconds is a wait in whole seconds, rounded up so that a client
// that waits that long finds a token.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}
