package server_test

// End-to-end tests of observability: request IDs and access logs, what
// logs must never hold, /metrics after requests, a subscription and a
// sync, and /readyz, against a server wired as main.go wires it (engine
// readiness and the database collector), over real HTTP and websockets.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/gorilla/websocket"

	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/metrics"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/server"
)

// observedApp is an app whose HTTP server is wired as in production: its
// readiness includes the sync engine and /metrics includes the database
// counts (cached for storeTTL). Its URL is that server's; Logs is what the
// server logged (app.Logs() holds the engine's and services' lines).
type observedApp struct {
	*apptest.App
	Logs *apptest.Logs
	srv  *server.Server
}

// storeTTL is short so tests see database changes on the next scrape
// after it.
const storeTTL = 50 * time.Millisecond

func startObserved(t *testing.T, db *dbtest.DB, cfg func(*server.Config)) *observedApp {
	t.Helper()
	app := syncStart(t, db)
	logs := &apptest.Logs{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := server.Config{Addr: "127.0.0.1:0"}
	if cfg != nil {
		cfg(&c)
	}
	srv := server.New(c, server.Deps{
		DB: db.Store.Client, Ping: db.Store.DB.PingContext, Service: app.Svc, Broker: app.Broker, Logger: log,
		Webhooks: app.Webhooks, Ready: app.Engine.Ready, Metrics: app.Metrics,
	})
	addr, _, err := srv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Stop(ctx)
		if t.Failed() {
			t.Logf("observed server log:\n%s", logs.String())
		}
	})
	own := *app
	own.URL = "http://" + addr.String()
	return &observedApp{App: &own, Logs: logs, srv: srv}
}

// get GETs url with headers (name, value pairs) and returns the response
// with its body read.
func get(t *testing.T, url string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// scrape reads /metrics at url into series ("name{label="value",...}",
// labels sorted as Prometheus writes them) and their values.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, body := get(t, url+"/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// series names a series as scrape keys it; labels are name, value pairs
// in alphabetical order of name.
func series(name string, labels ...string) string {
	if len(labels) == 0 {
		return name
	}
	var b strings.Builder
	b.WriteString(name + "{")
	for i := 0; i+1 < len(labels); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", labels[i], labels[i+1])
	}
	b.WriteString("}")
	return b.String()
}

// metricEventually scrapes until the series has the value.
func metricEventually(t *testing.T, url, s string, want float64) {
	t.Helper()
	syncEventually(t, fmt.Sprintf("%s = %v", s, want), func() (bool, string) {
		got, ok := scrape(t, url)[s]
		return ok && got == want, fmt.Sprintf("%v (present: %v)", got, ok)
	})
}

// logLines decodes JSON log lines whose msg is msg.
func logLines(t *testing.T, logs string, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(logs) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// subscriber is a graphql-transport-ws connection the test can close;
// what the server sends is read and dropped.
type subscriber struct {
	t    *testing.T
	conn *websocket.Conn
}

func dialSubscriber(t *testing.T, url, key string) *subscriber {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{apptest.TransportWS}, HandshakeTimeout: 5 * time.Second}
	conn, _, err := d.Dial("ws"+strings.TrimPrefix(url, "http")+"/graphql", nil)
	if err != nil {
		t.Fatalf("dialing: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	s := &subscriber{t: t, conn: conn}
	s.send(apptest.Message{Type: "connection_init", Payload: json.RawMessage(`{"Authorization": "Bearer ` + key + `"}`)})
	var ack apptest.Message
	if err := conn.ReadJSON(&ack); err != nil || ack.Type != "connection_ack" {
		t.Fatalf("connection_init answered %+v, %v", ack, err)
	}
	go func() { // reading also answers pings
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	return s
}

func (s *subscriber) send(m apptest.Message) {
	s.t.Helper()
	if err := s.conn.WriteJSON(m); err != nil {
		s.t.Fatalf("websocket write: %v", err)
	}
}

var generatedRequestID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestObservability(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := startObserved(t, db, nil)
		f := syncSetup(t, app.App, syncNow(21, 60), nil, schematype.ProviderTalention, nil)

		t.Run("readyz is 200 while the database and the engine are up", func(t *testing.T) {
			resp, body := get(t, app.URL+"/readyz")
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"ready"`) {
				t.Fatalf("GET /readyz: %d %s", resp.StatusCode, body)
			}
		})

		t.Run("request IDs are kept when sane, made otherwise, and echoed", func(t *testing.T) {
			cases := []struct{ sent, want string }{
				{"obs-test.42_A", "obs-test.42_A"},
				{"", ""},                        // made
				{"has spaces", ""},              // made
				{strings.Repeat("x", 65), ""},   // made: too long
				{`"}{"request_id":"forged`, ""}, // made
			}
			for _, c := range cases {
				resp, _ := get(t, app.URL+"/healthz", "X-Request-ID", c.sent)
				got := resp.Header.Get("X-Request-ID")
				if c.want != "" && got != c.want || c.want == "" && !generatedRequestID.MatchString(got) {
					t.Errorf("sent X-Request-ID %q, got back %q", c.sent, got)
				}
			}
		})

		var run syncRun
		t.Run("a sync runs", func(t *testing.T) {
			run = f.waitRun(t, f.testSync(t, f.trig).ID)
			if run.Status != "SUCCEEDED" || !run.sumsUp() || run.Imported == 0 {
				t.Fatalf("run %s, want SUCCEEDED with contacts imported", run)
			}
		})

		t.Run("metrics count sync runs, contacts and import issues as the run does", func(t *testing.T) {
			byCode := map[string]int{}
			for _, is := range f.issues(t, run.ID) {
				byCode[is.Code]++
			}
			if len(byCode) == 0 {
				t.Fatalf("the run has no import issues to count; run %s", run)
			}
			metricEventually(t, app.URL, series("intake_sync_runs_finished_total", "status", "SUCCEEDED"), 1)
			m := scrape(t, app.URL)
			for _, st := range []string{"QUEUED", "RUNNING"} {
				if got, ok := m[series("intake_sync_runs", "status", st)]; !ok || got != 0 {
					t.Errorf("intake_sync_runs{status=%q} = %v (present: %v), want 0 after the run", st, got, ok)
				}
			}
			if got := m[series("intake_contacts_imported_total")]; got != float64(run.Imported) {
				t.Errorf("intake_contacts_imported_total = %v, want the run's %d", got, run.Imported)
			}
			issues := 0
			for code, n := range byCode {
				if got := m[series("intake_import_issues_total", "code", code)]; got != float64(n) {
					t.Errorf("intake_import_issues_total{code=%q} = %v, want %d", code, got, n)
				}
				issues += n
			}
			if notImported := run.Duplicates + run.InvalidPhone + run.FilteredOut + run.Failed; issues != notImported {
				t.Errorf("%d issues by code, the run's counters say %d not imported", issues, notImported)
			}
			if m[series("intake_store_scrape_success")] != 1 {
				t.Errorf("intake_store_scrape_success = %v", m[series("intake_store_scrape_success")])
			}
			for _, s := range []string{"go_goroutines", "process_resident_memory_bytes"} {
				if _, ok := m[s]; !ok {
					t.Errorf("no %s", s)
				}
			}
		})

		t.Run("HTTP and GraphQL latencies are counted by route and operation", func(t *testing.T) {
			httpCount := series("intake_http_request_duration_seconds_count", "code", "200", "method", "POST", "route", "/graphql")
			opCount := series("intake_graphql_operation_duration_seconds_count", "operation", "ObsPing", "operation_type", "query")
			before := scrape(t, app.URL)
			for range 3 {
				f.c.MustDo(t, `query ObsPing { campaigns(first: 1) { totalCount } }`, nil, &struct{}{})
			}
			after := scrape(t, app.URL)
			if d := after[httpCount] - before[httpCount]; d != 3 {
				t.Errorf("%s grew by %v over 3 requests", httpCount, d)
			}
			if d := after[opCount] - before[opCount]; d != 3 {
				t.Errorf("%s grew by %v over 3 operations", opCount, d)
			}
			if after[series("intake_graphql_operation_duration_seconds_count", "operation", "anonymous", "operation_type", "mutation")] == 0 {
				t.Errorf("the unnamed mutations of the setup are not counted as anonymous")
			}
		})

		t.Run("operation names beyond the bound are counted as other", func(t *testing.T) {
			for i := range metrics.MaxOperationNames + 5 {
				f.c.MustDo(t, fmt.Sprintf(`query Obs%d { campaigns(first: 1) { totalCount } }`, i), nil, &struct{}{})
			}
			names := map[string]bool{}
			for s := range scrape(t, app.URL) {
				if rest, ok := strings.CutPrefix(s, "intake_graphql_operation_duration_seconds_count{"); ok {
					names[regexp.MustCompile(`operation="([^"]*)"`).FindStringSubmatch(rest)[1]] = true
				}
			}
			if !names["other"] || len(names) > metrics.MaxOperationNames+2 { // + anonymous, other
				t.Errorf("%d operation names (other: %v), want at most %d and other", len(names), names["other"], metrics.MaxOperationNames+2)
			}
		})

		t.Run("subscriptions and websockets are counted while open", func(t *testing.T) {
			ws := dialSubscriber(t, app.URL, f.key)
			metricEventually(t, app.URL, "intake_active_websockets", 1)
			subscribe := func(id string) {
				t.Helper()
				ws.send(apptest.Message{Type: "subscribe", ID: id, Payload: json.RawMessage(
					`{"query": "subscription($id: ID!) { campaignEvents(campaignID: $id) { __typename } }", "variables": {"id": "` + f.campaign + `"}}`)})
			}
			subscribe("1")
			metricEventually(t, app.URL, "intake_active_subscriptions", 1)
			ws.send(apptest.Message{Type: "complete", ID: "1"})
			metricEventually(t, app.URL, "intake_active_subscriptions", 0)
			subscribe("2")
			metricEventually(t, app.URL, "intake_active_subscriptions", 1)
			ws.conn.Close()
			metricEventually(t, app.URL, "intake_active_subscriptions", 0)
			metricEventually(t, app.URL, "intake_active_websockets", 0)
			closed := logLines(t, app.Logs.String(), "websocket closed")
			if len(closed) == 0 || closed[len(closed)-1]["request_id"] == nil || closed[len(closed)-1]["duration"] == nil {
				t.Errorf("no websocket closed line with request_id and duration: %v", closed)
			}
		})

		t.Run("metrics carry no tenant data", func(t *testing.T) {
			_, body := get(t, app.URL+"/metrics")
			for _, id := range []string{f.campaign, f.integ, f.trig, run.ID, f.key} {
				if strings.Contains(body, id) {
					t.Errorf("/metrics contains %q", id)
				}
			}
		})

		t.Run("logs carry request IDs and no phone number or API key", func(t *testing.T) {
			f.c.MustDo(t, `query { campaigns(first: 1) { totalCount } }`, nil, &struct{}{})
			requests := logLines(t, app.Logs.String(), "http request")
			if len(requests) < 10 {
				t.Fatalf("%d access log lines", len(requests))
			}
			var graphql, kept int
			for _, l := range requests {
				id, _ := l["request_id"].(string)
				if id == "" {
					t.Errorf("access log line without request_id: %v", l)
				}
				if id == "obs-test.42_A" {
					kept++
				}
				if l["route"] == "/graphql" && l["method"] == "POST" && l["status"] == float64(200) {
					graphql++
				}
				for _, k := range []string{"method", "route", "path", "status", "duration", "bytes"} {
					if _, ok := l[k]; !ok {
						t.Errorf("access log line without %s: %v", k, l)
					}
				}
			}
			if kept != 1 || graphql == 0 {
				t.Errorf("%d lines of the request sent with an ID (want 1), %d GraphQL POSTs", kept, graphql)
			}
			all := app.Logs.String() + app.App.Logs()
			contacts := f.contacts(t, f.campaign)
			if len(contacts) != run.Imported {
				t.Fatalf("%d contacts listed, the run imported %d", len(contacts), run.Imported)
			}
			for _, c := range contacts {
				if strings.Contains(all, c.PhoneE164) || strings.Contains(all, strings.TrimPrefix(c.PhoneE164, "+")) {
					t.Errorf("the log holds the phone number of contact %s", c.ID)
				}
			}
			if strings.Contains(all, f.key) || strings.Contains(all, strings.TrimPrefix(f.key, "ik_")) {
				t.Error("the log holds the API key")
			}
		})

		t.Run("readyz is 503 once the engine has stopped, and metrics show the queue", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := app.Engine.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			resp, body := get(t, app.URL+"/readyz", "X-Request-ID", "obs-ready")
			if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "sync engine unavailable") {
				t.Fatalf("GET /readyz with the engine stopped: %d %s", resp.StatusCode, body)
			}
			warned := slices.ContainsFunc(logLines(t, app.Logs.String(), "not ready"), func(l map[string]any) bool {
				return l["request_id"] == "obs-ready"
			})
			if !warned {
				t.Error(`no "not ready" log line with the request's ID`)
			}

			// With no worker running, a queued test sync's job waits.
			available := series("intake_river_jobs", "queue", "default", "state", "available")
			time.Sleep(storeTTL)
			before := scrape(t, app.URL)[available]
			queued := f.testSync(t, f.trig)
			metricEventually(t, app.URL, available, before+1)
			metricEventually(t, app.URL, series("intake_sync_runs", "status", "QUEUED"), 1)
			if queued.Status != "QUEUED" {
				t.Errorf("test sync with the engine stopped: %s", queued)
			}
		})
	})
}

func TestMetricsAddr(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, dialect.SQLite)
	app := startObserved(t, db, func(c *server.Config) { c.MetricsAddr = "127.0.0.1:0" })
	if resp, _ := get(t, app.URL+"/metrics"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics on the API address: %d, want 404", resp.StatusCode)
	}
	m := scrape(t, "http://"+app.srv.MetricsAddr().String())
	if _, ok := m["intake_active_subscriptions"]; !ok {
		t.Errorf("the metrics address serves no intake_active_subscriptions")
	}
}
