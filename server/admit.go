package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/sync/semaphore"
)

// DefaultConcurrencyPerCPU is Limits.Concurrent's default per processor
// the Go runtime schedules on (GOMAXPROCS): enough requests at once to
// keep the processors busy while others wait on the database, few enough
// that each is not slowed by all the others.
const DefaultConcurrencyPerCPU = 4

// admit executes at most Limits.Concurrent GraphQL HTTP requests at once.
// The others wait for their turn in the order they came, so under load a
// request waits about as long as any other instead of sharing the
// processors with every request in flight and finishing whenever the
// scheduler and the connection pool happen to favour it (README, Load
// tool: at 32 clients on 2 cores, the campaign list's p99 fell from about
// 200 ms to 116-136 ms at the same throughput). A request
// still waiting when its Timeout passes is answered 503 with Retry-After;
// one whose client left is dropped. Websockets are not held back: their
// operations run on the socket's connection, and a subscription lives for
// minutes.
func (s *Server) admit(next http.Handler) http.Handler {
	sem := semaphore.NewWeighted(int64(s.cfg.Limits.Concurrent))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			next.ServeHTTP(w, r)
			return
		}
		if !sem.TryAcquire(1) { // fails while others wait: first come, first served
			admitted := s.deps.Metrics.RequestWaiting()
			err := sem.Acquire(r.Context(), 1)
			admitted()
			if err != nil {
				if errors.Is(r.Context().Err(), context.DeadlineExceeded) {
					w.Header().Set("Retry-After", "1")
					writeError(w, http.StatusServiceUnavailable, codeTimeout, fmt.Sprintf(
						"the server was busy with other requests for the whole of the limit of %s; try again", s.cfg.Limits.Timeout))
				}
				return
			}
		}
		defer sem.Release(1)
		next.ServeHTTP(w, r)
	})
}
