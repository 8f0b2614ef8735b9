package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/intake/intake/internal/metrics"
)

// admitServer serves s.admit around next on /graphql over loopback HTTP.
// waiting reads the gauge of the requests waiting from its metrics.
func admitServer(t *testing.T, limits Limits, next http.Handler) (url string, waiting func() float64) {
	t.Helper()
	s := &Server{cfg: Config{Limits: limits.withDefaults()}, deps: Deps{Metrics: metrics.New()}}
	mux := http.NewServeMux()
	mux.Handle("/graphql", s.admit(next))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL, func() float64 {
		rec := httptest.NewRecorder()
		s.deps.Metrics.Handler(slog.New(slog.DiscardHandler)).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		for line := range strings.Lines(rec.Body.String()) {
			if v, ok := strings.CutPrefix(line, "intake_http_requests_waiting "); ok {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil {
					t.Fatalf("metrics line %q: %v", line, err)
				}
				return f
			}
		}
		t.Fatalf("no intake_http_requests_waiting in\n%s", rec.Body)
		return 0
	}
}

// eventually waits up to 10s for cond.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, got := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: got %s", what, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAdmit: at most Limits.Concurrent requests run at once, the others
// run in the order they came, one still waiting at its deadline is told
// to come back, one whose client left gives up its place, and websocket
// upgrades are never held back.
func TestAdmit(t *testing.T) {
	t.Parallel()
	var (
		mu      sync.Mutex
		order   []string
		running int
		most    int
	)
	release := map[string]chan struct{}{}
	for _, name := range []string{"a", "b", "c", "d", "e", "ws"} {
		release[name] = make(chan struct{})
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("name")
		mu.Lock()
		order = append(order, name)
		running++
		most = max(most, running)
		mu.Unlock()
		<-release[name]
		mu.Lock()
		running--
		mu.Unlock()
		io.WriteString(w, name)
	})
	url, waiting := admitServer(t, Limits{Concurrent: 2, Timeout: time.Minute}, next)
	waitingAre := func(n float64) {
		t.Helper()
		eventually(t, fmt.Sprintf("%v waiting", n), func() (bool, string) {
			got := waiting()
			return got == n, fmt.Sprint(got)
		})
	}

	type answer struct {
		name, body string
		status     int
		err        error
	}
	answers := make(chan answer, 10)
	send := func(ctx context.Context, name string, header ...string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/graphql?name="+name, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				answers <- answer{name: name, err: err}
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			answers <- answer{name: name, body: string(body), status: resp.StatusCode}
		}()
	}
	started := func(want ...string) {
		t.Helper()
		eventually(t, fmt.Sprintf("started %v", want), func() (bool, string) {
			mu.Lock()
			defer mu.Unlock()
			return strings.Join(order, ",") == strings.Join(want, ","), fmt.Sprint(order)
		})
	}
	released := map[string]bool{}
	t.Cleanup(func() { // before the server closes: a failed test leaves no handler waiting
		for name, ch := range release {
			if !released[name] {
				close(ch)
			}
		}
	})
	finish := func(name string) {
		t.Helper()
		released[name] = true
		close(release[name])
		a := <-answers
		if a.err != nil || a.status != http.StatusOK || a.body != a.name {
			t.Fatalf("answer %+v, want %s answered", a, name)
		}
	}

	send(t.Context(), "a")
	started("a")
	send(t.Context(), "b")
	started("a", "b")
	send(t.Context(), "c")
	waitingAre(1)
	send(t.Context(), "d")
	waitingAre(2)
	gone, leave := context.WithCancel(t.Context())
	send(gone, "gone")
	waitingAre(3)
	send(t.Context(), "e")
	waitingAre(4)

	// A websocket upgrade goes straight through, with both places taken.
	send(t.Context(), "ws", "Upgrade", "websocket", "Connection", "Upgrade")
	started("a", "b", "ws")
	finish("ws")

	// The client of "gone" leaves: its place goes to the next in line.
	leave()
	if a := <-answers; a.name != "gone" || a.err == nil {
		t.Fatalf("answer %+v, want gone's request cancelled", a)
	}
	waitingAre(3)

	finish("a")
	started("a", "b", "ws", "c")
	finish("b")
	started("a", "b", "ws", "c", "d")
	finish("d")
	started("a", "b", "ws", "c", "d", "e")
	finish("c")
	finish("e")
	waitingAre(0)
	mu.Lock()
	defer mu.Unlock()
	if most != 3 { // two requests and the websocket
		t.Errorf("%d handlers ran at once, want 3 (2 requests and the websocket)", most)
	}

	t.Run("a request still waiting at its deadline is answered 503", func(t *testing.T) {
		hold := make(chan struct{})
		defer close(hold)
		limits := Limits{Concurrent: 1, Timeout: 200 * time.Millisecond}.withDefaults()
		s := &Server{cfg: Config{Limits: limits}, deps: Deps{Metrics: metrics.New()}}
		entered := make(chan struct{}, 2)
		h := s.admit(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			entered <- struct{}{}
			<-hold
		}))
		// One request takes the only place until the test ends.
		go h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/graphql", nil))
		<-entered
		ctx, cancel := context.WithTimeout(t.Context(), limits.Timeout) // the deadline guardRequest sets
		defer cancel()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/graphql", nil).WithContext(ctx))
		var body struct {
			Errors []struct {
				Message    string
				Extensions map[string]any
			}
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("body %q: %v", rec.Body, err)
		}
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" ||
			len(body.Errors) != 1 || body.Errors[0].Extensions["code"] != string(codeTimeout) ||
			!strings.Contains(body.Errors[0].Message, "200ms") {
			t.Errorf("status %d, Retry-After %q, body %s; want 503, 1, a TIMEOUT error naming the limit",
				rec.Code, rec.Header().Get("Retry-After"), rec.Body)
		}
		if len(entered) != 0 {
			t.Error("the request that timed out waiting was executed")
		}
	})

	t.Run("the default is per processor", func(t *testing.T) {
		if got, want := (Limits{}).withDefaults().Concurrent, DefaultConcurrencyPerCPU*runtime.GOMAXPROCS(0); got != want {
			t.Errorf("default %d, want %d", got, want)
		}
	})
}
