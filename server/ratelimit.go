package server

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/viewer"
)

// rateLimiter is a token bucket per key (an API key's ID, a client
// address): a key holds up to burst tokens, gains rate tokens a second, and
// spends one per operation.
type rateLimiter[K comparable] struct {
	rate  float64 // tokens a second
	burst float64
	// refill is how long an empty bucket takes to fill up. A full bucket
	// behaves like no bucket, so buckets idle that long are dropped: memory
	// grows with the keys active in the last refill period, not with all
	// keys ever seen.
	refill time.Duration

	mu      sync.Mutex
	buckets map[K]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was computed
}

// newRateLimiter returns the per-API-key limiter of l, or nil when rate
// limits are off.
func newRateLimiter(l Limits) *rateLimiter[pulid.ID] {
	if l.RatePerSecond <= 0 {
		return nil
	}
	return newBuckets[pulid.ID](l.RatePerSecond, l.RateBurst)
}

func newBuckets[K comparable](rate float64, burst int) *rateLimiter[K] {
	return &rateLimiter[K]{
		rate:    rate,
		burst:   float64(burst),
		refill:  time.Duration(float64(burst) / rate * float64(time.Second)),
		buckets: map[K]*bucket{},
	}
}

// take spends one of key's tokens at now. Without one, it returns false and
// how long until the next token.
func (l *rateLimiter[K]) take(key K, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, now)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, l.wait(b)
}

// empty reports how long until key has a token again, without spending
// one: 0 if it has one now.
func (l *rateLimiter[K]) empty(key K, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.buckets[key]; !ok {
		return 0 // no bucket is a full one; don't make one to say so
	}
	if b := l.bucket(key, now); b.tokens < 1 {
		return l.wait(b)
	}
	return 0
}

// bucket returns key's bucket refilled up to now, dropping buckets idle
// for a refill period first; l.mu must be held.
func (l *rateLimiter[K]) bucket(key K, now time.Time) *bucket {
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
	return b
}

// wait is how long b takes to gain its next whole token.
func (l *rateLimiter[K]) wait(b *bucket) time.Duration {
	return time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
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

// Failed authentications a client address may make: authFailureBurst at
// once, then authFailureBurst a minute.
const (
	authFailureBurst = 20
	authFailureRate  = authFailureBurst / 60.0 // a second
	// knownKeyTTL is how long a key that authenticated stays exempt from
	// its address's failure limit.
	knownKeyTTL = 10 * time.Minute
)

// authGuard limits failed authentications per client address, so that a
// flood of invalid keys cannot load the database: every failed lookup
// spends a token of its address's bucket, and an address without tokens is
// answered RATE_LIMITED before any lookup. Requests without a key, or with
// one that is not even shaped like a key, cost no lookup and count nothing
// (a playground loading the schema before its key is pasted must not lock
// its user out).
//
// The limit applies to failures only: a key that authenticated in this
// process within knownKeyTTL is still looked up, and works, from an address
// that is refused; so an attacker sharing an address with real clients (a
// NAT, a proxy) locks out only clients new to this process. The address is
// the connection's remote address: X-Forwarded-For is not trusted, so behind
// a proxy all clients share the proxy's.
type authGuard struct {
	failures *rateLimiter[string]

	mu    sync.Mutex
	known map[[sha256.Size]byte]time.Time // keys that authenticated, and when
	swept time.Time
}

func newAuthGuard() *authGuard {
	return &authGuard{
		failures: newBuckets[string](authFailureRate, authFailureBurst),
		known:    map[[sha256.Size]byte]time.Time{},
	}
}

// refused returns how long addr must wait before key may be looked up; 0
// means look it up now.
func (g *authGuard) refused(addr, key string, now time.Time) time.Duration {
	wait := g.failures.empty(addr, now)
	if wait == 0 {
		return 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if at, ok := g.known[sha256.Sum256([]byte(key))]; ok && now.Sub(at) < knownKeyTTL {
		return 0
	}
	return wait
}

// failed counts a failed lookup from addr.
func (g *authGuard) failed(addr string, now time.Time) { g.failures.take(addr, now) }

// succeeded remembers that key authenticated.
func (g *authGuard) succeeded(key string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Sub(g.swept) >= knownKeyTTL {
		for k, at := range g.known {
			if now.Sub(at) >= knownKeyTTL {
				delete(g.known, k)
			}
		}
		g.swept = now
	}
	g.known[sha256.Sum256([]byte(key))] = now
}

// clientAddr is what failed authentications are counted by: the IP address
// of remoteAddr ("host:port"), or for IPv6 its /64, which one client
// typically holds whole.
func clientAddr(remoteAddr string) string {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		host, _, err := net.SplitHostPort(remoteAddr)
		if err != nil {
			return remoteAddr
		}
		return host
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// authRateLimited is the error of a refused address.
func authRateLimited(wait time.Duration) *service.Error {
	secs := retryAfterSeconds(wait)
	return &service.Error{Code: service.CodeRateLimited, RetryAfter: time.Duration(secs) * time.Second,
		Message: fmt.Sprintf("too many failed authentications from this address; retry in %d s", secs)}
}
