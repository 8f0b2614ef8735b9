package hubspotfake

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/intake/intake/sync/sandbox"
)

// Limits are the request limits of a HubSpot account, as HubSpot documents
// them (developers.hubspot.com/docs/api/usage-details): for a private app
// on a Free or Starter account, 100 requests per rolling 10 seconds, the
// CRM search endpoints 4 requests a second (they count towards the
// ten-second limit too), and 250,000 requests a day.
type Limits struct {
	Requests          int
	Interval          time.Duration
	SearchesPerSecond int
	// Daily is the requests of a UTC day (0: no daily limit).
	Daily int
}

// FreeAccount are the limits of a Free or Starter account.
var FreeAccount = Limits{Requests: 100, Interval: 10 * time.Second, SearchesPerSecond: 4, Daily: 250000}

// limiter enforces Limits on the requests as they arrive and counts what
// it refused.
type limiter struct {
	lim Limits
	now func() time.Time

	mu       sync.Mutex
	requests []time.Time // arrivals of the last Interval, ascending
	searches []time.Time // search arrivals of the last second
	day      string      // the UTC day dayUsed counts
	dayUsed  int
	refused  int
	served   int
}

// keep drops the times before from.
func keep(ts []time.Time, from time.Time) []time.Time {
	k := 0
	for k < len(ts) && !ts[k].After(from) {
		k++
	}
	return append(ts[:0], ts[k:]...)
}

// SetLimits enforces lim from now on (nil: none), counting afresh.
func (s *Server) SetLimits(lim *Limits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits = nil
	if lim != nil {
		s.limits = &limiter{lim: *lim, now: time.Now}
	}
}

// enforce answers 429 to a request over the limits, as HubSpot does: the
// error shape with policyName (DAILY, TEN_SECONDLY_ROLLING, SECONDLY), and
// the X-HubSpot-RateLimit-* headers, the daily ones included, on every
// answer but the search endpoints', which HubSpot documents without them.
func (s *Server) enforce(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		l := s.limits
		s.mu.Unlock()
		if l == nil {
			next.ServeHTTP(w, r)
			return
		}
		search := r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/crm/v3/objects/") && strings.HasSuffix(r.URL.Path, "/search")
		now := l.now()
		l.mu.Lock()
		l.requests = keep(l.requests, now.Add(-l.lim.Interval))
		l.searches = keep(l.searches, now.Add(-time.Second))
		if day := now.UTC().Format(time.DateOnly); day != l.day {
			l.day, l.dayUsed = day, 0
		}
		policy := ""
		switch {
		case l.lim.Daily > 0 && l.dayUsed >= l.lim.Daily:
			policy = "DAILY"
		case len(l.requests) >= l.lim.Requests:
			policy = "TEN_SECONDLY_ROLLING"
		case search && l.lim.SearchesPerSecond > 0 && len(l.searches) >= l.lim.SearchesPerSecond:
			policy = "SECONDLY"
		default:
			l.requests = append(l.requests, now)
			if search {
				l.searches = append(l.searches, now)
			}
			l.dayUsed++
			l.served++
		}
		if policy != "" {
			l.refused++
		}
		remaining := max(l.lim.Requests-len(l.requests), 0)
		dailyRemaining := max(l.lim.Daily-l.dayUsed, 0)
		l.mu.Unlock()
		if !search {
			h := w.Header()
			h.Set("X-HubSpot-RateLimit-Max", strconv.Itoa(l.lim.Requests))
			h.Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(remaining))
			h.Set("X-HubSpot-RateLimit-Interval-Milliseconds", strconv.FormatInt(l.lim.Interval.Milliseconds(), 10))
			if l.lim.Daily > 0 {
				h.Set("X-HubSpot-RateLimit-Daily", strconv.Itoa(l.lim.Daily))
				h.Set("X-HubSpot-RateLimit-Daily-Remaining", strconv.Itoa(dailyRemaining))
			}
		}
		if policy != "" {
			sandbox.WriteJSON(w, http.StatusTooManyRequests, rateLimitError{
				Status: "error", Message: "You have reached your " + strings.ToLower(policy) + " limit.", ErrorType: "RATE_LIMIT",
				CorrelationID: correlationID(), PolicyName: policy, RequestID: correlationID(),
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// LimitStats are what the fake's limits did.
type LimitStats struct {
	Served, Refused int
}

// LimitStats counts the requests the account's limits let through and
// those they answered 429 (zero without Config.Limits).
func (s *Server) LimitStats() LimitStats {
	s.mu.Lock()
	l := s.limits
	s.mu.Unlock()
	if l == nil {
		return LimitStats{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return LimitStats{Served: l.served, Refused: l.refused}
}
