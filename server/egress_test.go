package server_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/egress"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/fakes"
)

// End-to-end tests of the egress policy: what a tenant's integration may
// make Intake connect to. Every test stays on loopback: host names resolve
// from a table, and the policy's dialer fails the test if it is ever asked
// to connect outside loopback, so a broken policy cannot reach another
// network either.

// egSecret is what the "internal service" answers; it must never reach a
// tenant.
const egSecret = "INTERNAL-SECRET-db-password=hunter2"

// egResolver is a table of host names the test can change, as DNS
// rebinding would.
type egResolver struct {
	mu    sync.Mutex
	hosts apptest.Hosts
}

func (r *egResolver) set(host string, addrs ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var as []netip.Addr
	for _, a := range addrs {
		as = append(as, netip.MustParseAddr(a))
	}
	r.hosts[host] = as
}

// LookupNetIP implements egress.Resolver.
func (r *egResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hosts.LookupNetIP(ctx, network, host)
}

// egEnv is an Intake whose egress policy allows exactly the loopback
// listeners in allowed, by address and port.
type egEnv struct {
	app      *apptest.App
	c        *apptest.Client
	resolver *egResolver
	// internal is a loopback service no policy allows; hits counts the
	// requests it received, which must stay 0.
	internal *httptest.Server
	hits     atomic.Int32
	// redirector is allowed, and redirects every request to internal.
	redirector *httptest.Server
	// garbled is allowed, and answers 400 with a page quoting the secret.
	garbled *httptest.Server
	// rebind serves the fakes of every provider on an allowed port; the
	// integrations of the sync and pushback tests reach it as rebind.test.
	rebind     *fakes.Set
	rebindPort string
}

func egStart(t *testing.T, db *dbtest.DB) *egEnv {
	t.Helper()
	e := &egEnv{resolver: &egResolver{hosts: apptest.Hosts{}}}
	e.internal = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		http.Error(w, egSecret, http.StatusBadRequest)
	}))
	t.Cleanup(e.internal.Close)
	e.redirector = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, e.internal.URL+r.URL.Path, http.StatusFound)
	}))
	t.Cleanup(e.redirector.Close)
	e.garbled = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "<html><body><h1>Bad Request</h1><pre>%s</pre></body></html>", egSecret)
	}))
	t.Cleanup(e.garbled.Close)

	// People created during the last hour: "new applications" finds them
	// on a trigger's first sync.
	e.rebind = fakes.New(sandbox.Dataset{Seed: 5, Size: 20}.AnchoredAt(time.Now().Add(-time.Hour)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, e.rebindPort, _ = net.SplitHostPort(ln.Addr().String())
	// Without keep-alive, every request dials, and so meets the policy.
	srv := &http.Server{Handler: e.rebind.Handler(), ReadHeaderTimeout: 10 * time.Second}
	srv.SetKeepAlivesEnabled(false)
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	e.rebind.URL = "http://rebind.test:" + e.rebindPort
	e.resolver.set("rebind.test", "127.0.0.1")
	e.resolver.set("private.test", "10.0.0.7")
	e.resolver.set("metadata.test", "169.254.169.254")
	e.resolver.set("mixed.test", "93.184.215.14", "127.0.0.1")
	e.resolver.set("public.test", "93.184.215.14")

	var allow egress.Allow
	for _, a := range []string{e.redirector.Listener.Addr().String(), e.garbled.Listener.Addr().String(), ln.Addr().String()} {
		r, err := egress.ParseRule(a)
		if err != nil {
			t.Fatal(err)
		}
		allow = append(allow, r)
	}
	// Dials outside loopback are recorded and reported when the test ends
	// (t.Errorf must not run after it).
	var mu sync.Mutex
	var stray []string
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range stray {
			t.Error(s)
		}
	})
	policy := &egress.Policy{
		Allow:    allow,
		Resolver: e.resolver,
		Dial: apptest.LoopbackDial(func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			stray = append(stray, fmt.Sprintf(format, args...))
		}),
	}
	e.app = apptest.StartWithEgress(t, db, policy)
	e.c = e.app.Client(e.app.Key(t, "tenant", schematype.RoleAdmin))
	return e
}

// connectRefused requires connectIntegration with creds to fail with
// VALIDATION_FAILED on field, store nothing and reach nothing internal.
func (e *egEnv) connectRefused(t *testing.T, p schematype.ProviderKey, creds connector.Credentials, field string) {
	t.Helper()
	in := map[string]any{}
	for k, v := range creds {
		in[k] = v
	}
	r := e.c.Do(t, cfgConnectMutation, cfgConnectInput(p, "refused", in))
	if len(r.Errors) == 0 {
		t.Fatalf("accepted: %s", r.Data)
	}
	if r.Code() != "VALIDATION_FAILED" || r.Field() != field || !strings.Contains(r.Errors[0].Message, "refused") {
		t.Errorf("%s on %q (%s), want VALIDATION_FAILED on %s saying it was refused", r.Code(), r.Field(), r.Errors[0].Message, field)
	}
	if strings.Contains(r.Errors[0].Message, egSecret) {
		t.Errorf("the error quotes the internal service: %s", r.Errors[0].Message)
	}
	cfgWantIntegrationCount(t, e.c, 0)
	if n := e.hits.Load(); n != 0 {
		t.Errorf("the internal service received %d requests", n)
	}
}

func TestEgress(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		e := egStart(t, db)
		_, internalPort, _ := net.SplitHostPort(e.internal.Listener.Addr().String())
		talention := func(baseURL string) connector.Credentials {
			return e.rebind.Talention.Credentials(baseURL)
		}

		t.Run("connectIntegration refuses every internal destination and stores nothing", func(t *testing.T) {
			for _, base := range []string{
				"http://127.0.0.1:" + internalPort,
				"http://127.1.2.3:" + internalPort,
				"http://[::1]:" + internalPort,
				"http://[::ffff:127.0.0.1]:" + internalPort,
				"http://[::ffff:7f00:1]:" + internalPort,
				"http://2130706433:" + internalPort,
				"http://0x7f000001:" + internalPort,
				"http://0177.0.0.1:" + internalPort,
				"http://127.1:" + internalPort,
				"http://0.0.0.0:" + internalPort,
				"http://[::]:" + internalPort,
				"http://private.test",
				"http://mixed.test",
				"http://metadata.test/latest/meta-data",
				"http://10.0.0.1",
				"http://172.16.0.1",
				"http://192.168.0.1",
				"http://169.254.169.254/latest/meta-data",
				"http://[fe80::1]",
				"http://[fd00::1]",
				"http://100.64.0.1",
				"http://224.0.0.1",
				"http://255.255.255.255",
				"https://127.0.0.1:" + internalPort,
				// The check's own URL is allowed; where it redirects is not.
				e.redirector.URL + "/talention",
			} {
				t.Run(base, func(t *testing.T) {
					e.connectRefused(t, schematype.ProviderTalention, talention(base), "input.credentials.baseURL")
				})
			}
		})

		t.Run("a zvoove tokenURL on loopback is refused", func(t *testing.T) {
			creds := e.rebind.Zvoove.OAuthCredentials("http://public.test/api")
			creds["tokenURL"] = "http://127.0.0.1:" + internalPort + "/connect/token"
			e.connectRefused(t, schematype.ProviderZvoove, creds, "input.credentials.tokenURL")
			// Also when the token endpoint is only reached by a redirect.
			creds["tokenURL"] = e.redirector.URL + "/connect/token"
			creds["baseURL"] = e.rebind.BaseURL(schematype.ProviderZvoove)
			e.connectRefused(t, schematype.ProviderZvoove, creds, "input.credentials.tokenURL")
		})

		t.Run("lastError never quotes an answer of unknown shape", func(t *testing.T) {
			in := cfgConnect(t, e.c, schematype.ProviderTalention, "garbled", egCreds(talention(e.garbled.URL)))
			if in.Status != "ERROR" || in.LastError == nil {
				t.Fatalf("integration %s, want ERROR with a lastError", cfgJSON(in))
			}
			if strings.Contains(*in.LastError, "INTERNAL-SECRET") || strings.Contains(*in.LastError, "<") ||
				!strings.Contains(*in.LastError, "HTTP 400: no readable error message (text/html)") {
				t.Errorf("lastError %q", *in.LastError)
			}
			var got struct{ DisconnectIntegration struct{ ID string } }
			e.c.MustDo(t, `mutation($id: ID!) { disconnectIntegration(id: $id) { id } }`, map[string]any{"id": in.ID}, &got)
		})

		t.Run("a sync and a pushback to an address refused since the connection fail at once", func(t *testing.T) {
			c := e.app.Client(e.app.Key(t, "rebinding", schematype.RoleAdmin))
			in := cfgConnect(t, c, schematype.ProviderTalention, "rebinding", egCreds(e.rebind.Credentials(schematype.ProviderTalention)))
			if in.Status != "CONNECTED" {
				t.Fatalf("integration %s, want CONNECTED", cfgJSON(in))
			}
			var camp struct{ CreateCampaign struct{ ID pulid.ID } }
			c.MustDo(t, `mutation { createCampaign(input: {name: "rebinding"}) { id } }`, nil, &camp)
			var trig struct{ ConfigureTrigger struct{ ID pulid.ID } }
			c.MustDo(t, `mutation($in: ConfigureTriggerInput!) { configureTrigger(input: $in) { id } }`, map[string]any{"in": map[string]any{
				"campaignID": camp.CreateCampaign.ID, "integrationID": in.ID, "enabled": true, "pushbackEnabled": true,
			}}, &trig)
			if status, msg := egSync(t, c, trig.ConfigureTrigger.ID); status != "SUCCEEDED" {
				t.Fatalf("first sync %s (%s), want SUCCEEDED", status, msg)
			}
			var contacts struct {
				Node struct {
					Contacts struct {
						Edges []struct{ Node struct{ ID pulid.ID } }
					}
				}
			}
			c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Campaign { contacts(first: 1) { edges { node { id } } } } } }`,
				map[string]any{"id": camp.CreateCampaign.ID}, &contacts)
			if len(contacts.Node.Contacts.Edges) == 0 {
				t.Fatal("the first sync imported no contact")
			}

			// The trigger was due at once when enabled: let the scheduler's
			// run come and go first, so that the next sync is one that
			// starts after the name changes (testSync would answer a run
			// already active instead).
			egWaitScheduled(t, c, trig.ConfigureTrigger.ID)

			// The name now resolves to a private address.
			e.resolver.set("rebind.test", "10.0.0.9")
			wantRefusal := func(what, msg string) {
				t.Helper()
				if !strings.Contains(msg, "rebind.test") || !strings.Contains(msg, "refused") || strings.Contains(msg, "10.0.0.9") {
					t.Errorf("%s error %q, want the refusal of rebind.test (without its address)", what, msg)
				}
			}
			status, msg := egSync(t, c, trig.ConfigureTrigger.ID)
			if status != "FAILED" {
				t.Errorf("sync %s, want FAILED", status)
			}
			wantRefusal("sync", msg)

			var rec struct {
				RecordCallResult struct{ Pushback struct{ ID pulid.ID } }
			}
			c.MustDo(t, `mutation($in: RecordCallResultInput!) { recordCallResult(input: $in) { pushback { id } } }`, map[string]any{"in": map[string]any{
				"contactID": contacts.Node.Contacts.Edges[0].Node.ID, "outcome": "SUCCESS", "transcript": "Agent: hello",
				"questionResults": []any{}, "calledAt": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "durationSeconds": 30,
			}}, &rec)
			deadline := time.Now().Add(30 * time.Second)
			for {
				var pb struct {
					Node struct {
						Status    string
						Attempts  int
						LastError *string
					}
				}
				c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Pushback { status attempts lastError } } }`,
					map[string]any{"id": rec.RecordCallResult.Pushback.ID}, &pb)
				if pb.Node.Status == "DEAD" || pb.Node.Status == "DELIVERED" {
					if pb.Node.Status != "DEAD" || pb.Node.Attempts != 1 || pb.Node.LastError == nil {
						t.Fatalf("pushback %+v, want DEAD after one attempt", pb.Node)
					}
					wantRefusal("pushback", *pb.Node.LastError)
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("pushback still %s", pb.Node.Status)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if n := e.hits.Load(); n != 0 {
				t.Errorf("the internal service received %d requests", n)
			}
		})
	})
}

// egCreds turns credentials into a GraphQL Map.
func egCreds(creds connector.Credentials) map[string]any {
	out := map[string]any{}
	for k, v := range creds {
		out[k] = v
	}
	return out
}

// egSync runs a test sync of trigger and returns how it ended.
// egWaitScheduled waits until the scheduler has run the sync a newly
// enabled trigger is due for and no run of the trigger is active.
func egWaitScheduled(t *testing.T, c *apptest.Client, trigger pulid.ID) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var got struct {
			Node struct {
				NextSyncAt *time.Time
				LastRun    *struct{ Status string }
			}
		}
		c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Trigger { nextSyncAt lastRun { status } } } }`, map[string]any{"id": trigger}, &got)
		n := got.Node
		if n.NextSyncAt != nil && n.NextSyncAt.After(time.Now()) && n.LastRun != nil && n.LastRun.Status != "QUEUED" && n.LastRun.Status != "RUNNING" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the scheduled sync has not come and gone: nextSyncAt %v, last run %+v", n.NextSyncAt, n.LastRun)
		}
	}
}

func egSync(t *testing.T, c *apptest.Client, trigger pulid.ID) (status, msg string) {
	t.Helper()
	var run struct{ TestSync struct{ ID pulid.ID } }
	c.MustDo(t, `mutation($id: ID!) { testSync(triggerID: $id) { id } }`, map[string]any{"id": trigger}, &run)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got struct {
			Node struct {
				Status string
				Error  *string
			}
		}
		c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on SyncRun { status error } } }`, map[string]any{"id": run.TestSync.ID}, &got)
		if s := got.Node.Status; s != "QUEUED" && s != "RUNNING" {
			if got.Node.Error != nil {
				msg = *got.Node.Error
			}
			return s, msg
		}
		if time.Now().After(deadline) {
			t.Fatalf("sync still %s", got.Node.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
