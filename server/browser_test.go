package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/browsertest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/demo"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/sandbox"
)

// End-to-end tests of the playground and the console in Chromium, against
// a whole Intake on loopback with the demo organization of `serve --demo`
// (its fakes, integrations and ready campaign), on both databases. The
// browser has no network but loopback, and every test fails on an
// uncaught exception, a console error, a Content-Security-Policy violation
// or a request that left loopback.
//
// INTAKE_WEBSHOT=/path/console.png also saves a screenshot of the console
// (the README's docs/console.png), taken on SQLite.

// browserWait bounds every wait in the browser; it only turns a hang into
// a failure.
const browserWait = 30 * time.Second

type browserEnv struct {
	app    *apptest.App
	b      *browsertest.Browser
	c      *apptest.Client
	demo   demo.Result
	dia    string
	refuse *refuseNext
}

// refuseNext answers the next write to the Talention fake, once armed,
// with a 422 in Talention's error shape, as Talention refuses a record
// locked by another user: the pushback that made it is DEAD at once.
type refuseNext struct {
	prefix string // the Talention fake's path prefix
	mu     sync.Mutex
	armed  bool
}

func (f *refuseNext) arm() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed = true
}

func (f *refuseNext) take(r *http.Request) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.armed || r.Method == http.MethodGet || !strings.HasPrefix(r.URL.Path, f.prefix) {
		return false
	}
	f.armed = false
	return true
}

func (f *refuseNext) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.take(r) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = w.Write([]byte(`{"status":"error","message":"the record is locked by another user"}`))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func TestBrowser(t *testing.T) {
	t.Parallel()
	for _, dia := range dbtest.Dialects {
		name := "sqlite"
		if dia == dialect.Postgres {
			name = "postgres"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := browsertest.Start(t) // first: skips before a database is made
			db := dbtest.Open(t, dia)
			app := apptest.Start(t, db)
			// As serve --demo: people created up to now, so that the
			// first sync of each new-applications search finds them.
			refuse := &refuseNext{}
			fk := apptest.StartSyncFakes(t, sandbox.Dataset{Seed: 1, Size: 60, Step: time.Hour}.AnchoredAt(time.Now()), refuse.wrap)
			refuse.prefix = strings.TrimPrefix(fk.BaseURL(schematype.ProviderTalention), fk.URL)
			res, err := demo.Setup(context.Background(), app.Svc, db.Store.Client, fk)
			if err != nil {
				t.Fatal(err)
			}
			e := &browserEnv{app: app, b: b, c: app.Client(res.Key), demo: res, dia: dia, refuse: refuse}
			t.Run("the harness sees CSP violations and requests that leave loopback", e.testHarness)
			t.Run("playground: key field, a query and a subscription", e.testPlayground)
			t.Run("console: integrations and a check", e.testConsoleIntegrations)
			t.Run("console: configure a source", e.testConsoleConfigure)
			t.Run("console: a partial status mapping is refused at its field", e.testConsolePartialMapping)
			t.Run("console: test sync with progress, run history and import issues", e.testConsoleTestSync)
			t.Run("console: a DEAD pushback retried", e.testConsolePushbackRetry)
			t.Run("console: do-not-call numbers", e.testConsoleDoNotCall)
			if dia == dialect.SQLite {
				if path := os.Getenv("INTAKE_WEBSHOT"); path != "" {
					e.screenshot(t, path)
				}
			}
		})
	}
}

// open navigates to a page of the app and waits for it to load completely.
func (e *browserEnv) open(t *testing.T, path string) {
	t.Helper()
	// From a blank page: a URL that differs only in its fragment would not
	// load the page again, and the last page's content would still be there.
	e.b.Do(t, "opening "+path, chromedp.Navigate("about:blank"), chromedp.Navigate(e.app.URL+path))
	e.b.Wait(t, path+" loaded", `document.readyState === "complete"`, browserWait)
}

// useKey types the key into the page's API key field and submits it, as a
// user does once per tab.
func (e *browserEnv) useKey(t *testing.T) {
	t.Helper()
	e.b.Do(t, "entering the API key",
		chromedp.SetValue(chromedp.ID("api-key"), e.demo.Key),
		chromedp.Click(chromedp.CSS(`#key-form button[type=submit]`)))
}

// ensureKey enters the key unless the tab has it already.
func (e *browserEnv) ensureKey(t *testing.T) {
	t.Helper()
	if browsertest.Eval[string](t, e.b, `sessionStorage.getItem("intake.apiKey") || ""`) == "" {
		e.useKey(t)
	}
}

// click clicks the first element that matches the CSS selector.
func (e *browserEnv) click(t *testing.T, sel string) {
	t.Helper()
	e.b.Do(t, "clicking "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// text returns the text of the first element matching sel ("" if none).
func (e *browserEnv) text(t *testing.T, sel string) string {
	t.Helper()
	return browsertest.Eval[string](t, e.b, fmt.Sprintf(`(document.querySelector(%q) || {}).innerText || ""`, sel))
}

func (e *browserEnv) testHarness(t *testing.T) {
	e.open(t, "/console")
	if p := e.b.Problems(); len(p) > 0 {
		t.Fatalf("problems loading the console: %q", p)
	}
	// Both are refused: by the policy (img-src) and, were it not, by the
	// closed network. The harness must see it.
	browsertest.Eval[chromedp.Void](t, e.b, `new Image().src = "http://example.com/pixel.png"; fetch("https://example.org/").catch(() => {})`)
	e.b.Wait(t, "the violations reported", `new Promise(r => setTimeout(() => r(true), 300))`, browserWait)
	p := strings.Join(e.b.Problems(), "\n")
	if !strings.Contains(p, "Content Security Policy") || !strings.Contains(p, "example.org") {
		t.Fatalf("the harness did not report the refused requests; it recorded:\n%s", p)
	}
	if !browsertest.Loopback(e.app.URL+"/x") || browsertest.Loopback("https://cdn.jsdelivr.net/x") || browsertest.Loopback("http://127.0.0.2.nip.io/") {
		t.Fatal("browsertest.Loopback misjudges URLs")
	}
}

func (e *browserEnv) testPlayground(t *testing.T) {
	defer e.b.Check(t)
	e.open(t, "/")
	e.b.Wait(t, "the key hint", `!!document.querySelector(".intake-hint")`, browserWait)
	e.useKey(t)
	e.b.Wait(t, "GraphiQL's editor", `!!document.querySelector(".graphiql-query-editor .CodeMirror")`, browserWait)
	if got := browsertest.Eval[string](t, e.b, `sessionStorage.getItem("intake.apiKey")`); got != e.demo.Key {
		t.Errorf("sessionStorage holds %q, want the key", got)
	}
	// The schema arrives by introspection with the key: the doc explorer
	// knows Query.
	e.b.Wait(t, "the schema", `(() => { const b = document.querySelector(".graphiql-execute-button"); return b && !b.disabled })()`, browserWait)

	// The default query names the organization.
	e.click(t, ".graphiql-execute-button")
	e.b.Wait(t, "the query's answer", `document.querySelector(".graphiql-response .CodeMirror").CodeMirror.getValue().includes('"name": "demo"')`, browserWait)
	resp := browsertest.Eval[string](t, e.b, `document.querySelector(".graphiql-response .CodeMirror").CodeMirror.getValue()`)
	if !strings.Contains(resp, `"Demo: nurses Berlin"`) || strings.Contains(resp, `"errors"`) {
		t.Errorf("the default query answered:\n%s", resp)
	}

	// A subscription over the websocket: the progress of a run to its end.
	run := e.testSync(t, e.trigger(t, "ZVOOVE"))
	sub := fmt.Sprintf(`subscription Progress { syncProgress(runID: %q) { phase fetched imported done run { id status } } }`, run)
	browsertest.Eval[chromedp.Void](t, e.b, fmt.Sprintf(`document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue(%q)`, sub))
	// GraphiQL parses the edited document after a short delay, and picks
	// the websocket for a subscription from the parsed document.
	e.b.Wait(t, "GraphiQL to parse the subscription", `new Promise(r => setTimeout(() => r(true), 700))`, browserWait)
	e.click(t, ".graphiql-execute-button")
	e.b.Wait(t, "the subscription's last message", `document.querySelector(".graphiql-response .CodeMirror").CodeMirror.getValue().includes('"done": true')`, browserWait)
	resp = browsertest.Eval[string](t, e.b, `document.querySelector(".graphiql-response .CodeMirror").CodeMirror.getValue()`)
	if !strings.Contains(resp, `"phase": "DONE"`) || !strings.Contains(resp, run) {
		t.Errorf("the subscription answered:\n%s", resp)
	}
	// The settings dialog and the documentation explorer (dialogs and
	// panes that set styles at run time) keep to the policy too.
	e.click(t, `button[aria-label="Open settings dialog"]`)
	e.b.Wait(t, "the settings dialog", `!!document.querySelector(".graphiql-dialog")`, browserWait)
	e.b.Do(t, "closing it", chromedp.KeyEvent(kb.Escape))
	e.b.Wait(t, "the dialog closed", `!document.querySelector(".graphiql-dialog")`, browserWait)
	e.click(t, `.graphiql-sidebar-section button`)
	e.b.Wait(t, "a pane", `!!document.querySelector(".graphiql-plugin")`, browserWait)
	e.checkRequests(t, "/assets/playground.js", "/assets/playground.css", "/graphql")
}

// checkRequests fails unless the browser requested every path (on the
// app) and a websocket to /graphql; the harness already failed the test
// for any request that left loopback.
func (e *browserEnv) checkRequests(t *testing.T, paths ...string) {
	t.Helper()
	reqs := e.b.Requests()
	have := map[string]bool{}
	for _, r := range reqs {
		have[r] = true
	}
	ws := "ws" + strings.TrimPrefix(e.app.URL, "http") + "/graphql"
	for _, p := range append(paths, ws) {
		if !have[e.app.URL+p] && !have[p] {
			t.Errorf("the browser never requested %s; it requested %q", p, reqs)
		}
	}
}

// trigger returns the ID of the demo campaign's trigger of a provider.
func (e *browserEnv) trigger(t *testing.T, provider string) pulid.ID {
	t.Helper()
	var out struct {
		Node struct {
			Triggers []struct {
				ID          pulid.ID
				Integration struct{ Provider struct{ Key string } }
			}
		}
	}
	e.c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Campaign { triggers { id integration { provider { key } } } } } }`,
		map[string]any{"id": e.demo.Campaign}, &out)
	for _, tr := range out.Node.Triggers {
		if tr.Integration.Provider.Key == provider {
			return tr.ID
		}
	}
	t.Fatalf("the demo campaign has no %s trigger: %+v", provider, out)
	return ""
}

// testSync starts a test sync over the API and returns its run.
func (e *browserEnv) testSync(t *testing.T, trigger pulid.ID) string {
	t.Helper()
	var out struct{ TestSync struct{ ID string } }
	e.c.MustDo(t, `mutation($id: ID!) { testSync(triggerID: $id) { id } }`, map[string]any{"id": trigger}, &out)
	return out.TestSync.ID
}

// waitRunsDone waits until no run of the trigger is queued or running, so
// that the next test sync starts a run of its own.
func (e *browserEnv) waitRunsDone(t *testing.T, trigger pulid.ID) {
	t.Helper()
	deadline := time.Now().Add(browserWait)
	for {
		var out struct {
			Node struct{ SyncRuns struct{ TotalCount int } }
		}
		e.c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Trigger { syncRuns(where: {statusIn: [QUEUED, RUNNING]}) { totalCount } } } }`,
			map[string]any{"id": trigger}, &out)
		if out.Node.SyncRuns.TotalCount == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("runs of %s still queued or running after %s", trigger, browserWait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// openCampaign opens the demo campaign in the console and selects the
// source tab of the integration whose name starts with provider.
func (e *browserEnv) openCampaign(t *testing.T, provider string) {
	t.Helper()
	e.openCampaignOf(t, e.demo.Campaign, provider)
}

// openCampaignOf is openCampaign for another campaign.
func (e *browserEnv) openCampaignOf(t *testing.T, campaign pulid.ID, provider string) {
	t.Helper()
	e.open(t, "/console#/campaigns/"+string(campaign))
	e.ensureKey(t)
	e.b.Wait(t, "the campaign's sources", `document.querySelectorAll("[role=tab]").length === 4`, browserWait)
	// Selected by the tab's click handler, as a mouse click or Enter on it
	// would: the page is still laying out what it loads after the tabs
	// (runs, pushbacks), which can move a synthetic mouse click off them.
	browsertest.Eval[chromedp.Void](t, e.b, fmt.Sprintf(`document.querySelectorAll("[role=tab]")[%d].click()`, e.tabIndex(t, provider)))
	e.b.Wait(t, provider+"'s tab", fmt.Sprintf(`document.querySelector("[role=tab][aria-selected=true]").innerText.startsWith(%q)`, provider), browserWait)
}

// tabIndex is the position of the provider's tab.
func (e *browserEnv) tabIndex(t *testing.T, provider string) int {
	t.Helper()
	i := browsertest.Eval[int](t, e.b, fmt.Sprintf(`[...document.querySelectorAll("[role=tab]")].findIndex(b => b.innerText.startsWith(%q))`, provider))
	if i < 0 {
		t.Fatalf("no tab for %s: %s", provider, e.text(t, "[role=tablist]"))
	}
	return i
}

// fieldError returns the error message shown at the element of an input
// path, and whether its control is marked invalid.
func (e *browserEnv) fieldError(t *testing.T, path string) (string, bool) {
	t.Helper()
	var out struct {
		Message string
		Invalid bool
	}
	raw := browsertest.Eval[string](t, e.b, fmt.Sprintf(`(() => {
		const f = document.querySelector('[role=tabpanel] [data-field=%q]');
		if (!f) return JSON.stringify({});
		const err = f.querySelector(".field-error");
		const c = f.querySelector("input, select, textarea");
		return JSON.stringify({message: err ? err.innerText : "", invalid: !!c && c.getAttribute("aria-invalid") === "true"});
	})()`, path))
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatal(err)
	}
	return out.Message, out.Invalid
}

func (e *browserEnv) testConsoleIntegrations(t *testing.T) {
	defer e.b.Check(t)
	e.open(t, "/console#/integrations")
	e.ensureKey(t)
	e.b.Wait(t, "the integrations", `document.querySelectorAll("tbody tr").length === 4`, browserWait)
	table := e.text(t, "table")
	for _, want := range []string{"zvoove (sandbox)", "Talention (sandbox)", "Compleet (sandbox)", "HubSpot (sandbox)", "CONNECTED"} {
		if !strings.Contains(table, want) {
			t.Errorf("the integrations table lacks %q:\n%s", want, table)
		}
	}
	e.click(t, `button[aria-label="Check HubSpot (sandbox)"]`)
	e.b.Wait(t, "the check's result", `document.querySelector("main [role=status]").innerText === "HubSpot (sandbox): CONNECTED"`, browserWait)
	e.checkRequests(t, "/assets/console.js", "/assets/console.css")
}

func (e *browserEnv) testConsoleConfigure(t *testing.T) {
	defer e.b.Check(t)
	e.openCampaign(t, "zvoove")
	// Keyboard: the arrow keys move between the sources.
	e.b.Do(t, "focusing the tab", chromedp.Focus(chromedp.CSS("[role=tab][aria-selected=true]")))
	e.b.Do(t, "ArrowDown", chromedp.KeyEvent(kb.ArrowDown))
	e.b.Wait(t, "the next tab selected", fmt.Sprintf(`document.activeElement === document.querySelectorAll("[role=tab]")[%d] && document.activeElement.getAttribute("aria-selected") === "true"`,
		(e.tabIndex(t, "zvoove")+1)%4), browserWait)
	e.openCampaign(t, "zvoove")

	panel := e.text(t, "[role=tabpanel]")
	for _, want := range []string{"Enabled", "General description", demo.Description, "Screening: NOT_CONFIGURED", "References"} {
		if !strings.Contains(panel, want) && !strings.Contains(browsertest.Eval[string](t, e.b, `document.querySelector("[role=tabpanel] textarea").value`), want) {
			t.Errorf("the zvoove source lacks %q:\n%s", want, panel)
		}
	}
	if strings.Contains(panel, "Push call results back") {
		t.Error("zvoove cannot push back, but its source offers it")
	}
	if !browsertest.Eval[bool](t, e.b, `document.querySelector("[role=tabpanel] input[role=switch]").checked`) {
		t.Error("the demo's zvoove source is not shown enabled")
	}

	// The talent pool search has a required typed field.
	e.b.Do(t, "choosing the talent pool search",
		chromedp.SetValue(chromedp.CSS("[role=tabpanel] select"), "talent_pool_research"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("[role=tabpanel] select").dispatchEvent(new Event("change"))`))
	label := e.text(t, `[data-field="input.searchParams.daysSinceLastChange"] label`)
	help := e.text(t, `[data-field="input.searchParams.daysSinceLastChange"] .help`)
	if label != "Days since last change *" || !strings.Contains(help, "changed within this many days") || !strings.Contains(help, "1 to 3650") {
		t.Errorf("the required field shows label %q and help %q", label, help)
	}

	// Saved without it: the server's error at the field.
	e.click(t, "[role=tabpanel] form button[type=submit]")
	e.b.Wait(t, "the error at the field", `!!document.querySelector('[data-field="input.searchParams.daysSinceLastChange"] .field-error')`, browserWait)
	if msg, invalid := e.fieldError(t, "input.searchParams.daysSinceLastChange"); msg == "" || !invalid {
		t.Errorf("the missing required field: message %q, invalid %v", msg, invalid)
	}
	if s := e.text(t, "[role=tabpanel] .errors"); !strings.Contains(s, "VALIDATION_FAILED (input.searchParams.daysSinceLastChange)") {
		t.Errorf("the summary says %q", s)
	}

	// Filled in, with two references picked by live search.
	e.b.Do(t, "filling the field",
		chromedp.SendKeys(chromedp.CSS(`[data-field="input.searchParams.daysSinceLastChange"] input`), "30"))
	e.b.Do(t, "searching references", chromedp.SendKeys(chromedp.CSS(`[role=tabpanel] input[type=search]`), " "))
	e.b.Wait(t, "references found", `document.querySelectorAll("[role=tabpanel] .options input").length >= 2`, browserWait)
	e.click(t, "[role=tabpanel] .options li:nth-child(1) input")
	e.click(t, "[role=tabpanel] .options li:nth-child(2) input")
	if n := browsertest.Eval[int](t, e.b, `document.querySelectorAll("[role=tabpanel] .chips li button").length`); n != 2 {
		t.Errorf("%d references selected, want 2", n)
	}
	e.click(t, "[role=tabpanel] form button[type=submit]")
	e.b.Wait(t, "saved", `document.querySelector("[role=tabpanel] form [role=status]").innerText === "Saved."`, browserWait)

	var out struct {
		Node struct {
			SearchType   string
			SearchParams map[string]any
			References   []struct{ ExternalID, Kind string }
		}
	}
	e.c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Trigger { searchType searchParams references { externalID kind } } } }`,
		map[string]any{"id": e.trigger(t, "ZVOOVE")}, &out)
	if out.Node.SearchType != "talent_pool_research" || out.Node.SearchParams["daysSinceLastChange"] != 30.0 || len(out.Node.References) != 2 {
		t.Errorf("the trigger was saved as %+v", out.Node)
	}
}

func (e *browserEnv) testConsolePartialMapping(t *testing.T) {
	defer e.b.Check(t)
	e.openCampaign(t, "Talention")
	rule := e.text(t, `[data-field="input.statusMapping"] .help`)
	if !strings.Contains(rule, "all four") {
		t.Errorf("the all-or-none rule is not shown before saving: %q", rule)
	}
	browsertest.Eval[chromedp.Void](t, e.b, `document.querySelector('[data-field="input.statusMapping.partial"] input').value = ""`)
	e.click(t, "[role=tabpanel] form button[type=submit]")
	e.b.Wait(t, "the error at the field", `!!document.querySelector('[data-field="input.statusMapping.partial"] .field-error')`, browserWait)
	msg, invalid := e.fieldError(t, "input.statusMapping.partial")
	if !strings.Contains(msg, "all four") || !invalid {
		t.Errorf("the partial mapping: message %q at input.statusMapping.partial, invalid %v", msg, invalid)
	}
	// Nothing was saved.
	var out struct {
		Node struct{ StatusMapping struct{ Partial string } }
	}
	e.c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Trigger { statusMapping { partial } } } }`,
		map[string]any{"id": e.trigger(t, "TALENTION")}, &out)
	if out.Node.StatusMapping.Partial != *demo.StatusMapping.Partial {
		t.Errorf("the mapping became %+v", out.Node.StatusMapping)
	}
	// Push-back off hides the mapping.
	e.click(t, `[data-field="input.pushbackEnabled"] input`)
	if browsertest.Eval[bool](t, e.b, `!!document.querySelector('[data-field="input.statusMapping"]')`) {
		t.Error("the status mapping is shown with push-back off")
	}
}

func (e *browserEnv) testConsoleTestSync(t *testing.T) {
	defer e.b.Check(t)
	trigger := e.trigger(t, "TALENTION")
	e.waitRunsDone(t, trigger)
	e.openCampaign(t, "Talention")
	warning := e.text(t, "[role=tabpanel] .warning")
	if !strings.Contains(warning, "real requests to Talention (sandbox)") {
		t.Errorf("the Test Sync warning says %q", warning)
	}
	// The history as it was before the test sync, once it has loaded: a
	// history that loads late would otherwise pass for the refreshed one,
	// and the refresh would then close the issues opened below.
	e.b.Wait(t, "the run history", `!!document.querySelector('[role=tabpanel] section[aria-label="Run history"] h4')`, browserWait)
	before := browsertest.Eval[int](t, e.b, `document.querySelectorAll("[role=tabpanel] tr[data-run]").length`)
	// The issues of an earlier run, opened now, stay open when the history
	// refreshes at the end of the test sync.
	e.b.Wait(t, "an earlier run with issues", `!!document.querySelector("[role=tabpanel] tr[data-run] button[aria-expanded]")`, browserWait)
	e.click(t, "[role=tabpanel] tr[data-run] button[aria-expanded]")
	e.b.Wait(t, "the earlier run's issue counts", `document.querySelectorAll("[role=tabpanel] .counts li").length > 0`, browserWait)
	opened := browsertest.Eval[string](t, e.b, `document.querySelector("[role=tabpanel] button[aria-expanded=true]").closest("tr").dataset.run`)
	e.click(t, "[role=tabpanel] section button")
	e.b.Wait(t, "the confirmation", `document.getElementById("confirm").open`, browserWait)
	if s := e.text(t, "#confirm-text"); !strings.Contains(s, "Talention (sandbox)") {
		t.Errorf("the confirmation says %q", s)
	}
	e.click(t, "#confirm-ok")
	e.b.Wait(t, "progress", `!!document.querySelector("[role=tabpanel] progress")`, browserWait)
	e.b.Wait(t, "the end of the run", `!!document.querySelector("[role=tabpanel] .message")`, browserWait)
	if msg := e.text(t, "[role=tabpanel] .message"); !strings.HasPrefix(msg, "Test sync succeeded:") {
		t.Fatalf("the test sync ended with %q", msg)
	}
	progress := e.text(t, "[role=tabpanel] progress + p")
	if !strings.HasPrefix(progress, "DONE: ") {
		t.Errorf("the last progress says %q", progress)
	}
	e.b.Wait(t, "the run in the history", fmt.Sprintf(`document.querySelectorAll("[role=tabpanel] tr[data-run]").length > %d`, before), browserWait)
	still := fmt.Sprintf(`(() => { const b = document.querySelector('[role=tabpanel] tr[data-run=%q] button[aria-expanded=true]');
		return !!b && !b.closest("tr").nextElementSibling.hidden && b.closest("tr").nextElementSibling.querySelectorAll(".counts li").length > 0; })()`, opened)
	if !browsertest.Eval[bool](t, e.b, still) {
		t.Errorf("the issues of run %s, opened before the test sync, closed when the history refreshed", opened)
	}
	e.click(t, fmt.Sprintf(`[role=tabpanel] tr[data-run=%q] button[aria-expanded]`, opened))

	// Import issues by code of a run that has some.
	e.b.Wait(t, "a run with issues", `!!document.querySelector("[role=tabpanel] tr[data-run] button[aria-expanded]")`, browserWait)
	e.click(t, "[role=tabpanel] tr[data-run] button[aria-expanded]")
	e.b.Wait(t, "the issue counts", `document.querySelectorAll("[role=tabpanel] .counts li").length > 0`, browserWait)
	runID := browsertest.Eval[string](t, e.b, `document.querySelector("[role=tabpanel] button[aria-expanded=true]").closest("tr").dataset.run`)
	var run struct {
		Node struct {
			Issues struct {
				TotalCount int
				Edges      []struct{ Node struct{ Code string } }
			}
		}
	}
	e.c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on SyncRun { issues(first: 100) { totalCount edges { node { code } } } } } }`,
		map[string]any{"id": runID}, &run)
	want := map[string]int{}
	for _, ed := range run.Node.Issues.Edges {
		want[ed.Node.Code]++
	}
	counts := e.text(t, "[role=tabpanel] .counts")
	for code, n := range want {
		if run.Node.Issues.TotalCount <= 100 && !strings.Contains(counts, fmt.Sprintf("%s %d", code, n)) {
			t.Errorf("the issue counts %q lack %s %d", counts, code, n)
		}
	}
	if len(want) == 0 {
		t.Error("the run has no import issues")
	}
}

func (e *browserEnv) testConsolePushbackRetry(t *testing.T) {
	defer e.b.Check(t)
	// A campaign of its own, whose contacts all come from Talention (in
	// the demo campaign the four fakes' people are the same, and most are
	// duplicates of another source's).
	var camp struct{ CreateCampaign struct{ ID pulid.ID } }
	e.c.MustDo(t, `mutation { createCampaign(input: {name: "Pushback retry"}) { id } }`, nil, &camp)
	campaign := camp.CreateCampaign.ID
	var trg struct{ ConfigureTrigger struct{ ID pulid.ID } }
	e.c.MustDo(t, `mutation($in: ConfigureTriggerInput!) { configureTrigger(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"campaignID": campaign, "integrationID": e.integration(t, "TALENTION"), "enabled": true, "pushbackEnabled": true,
	}}, &trg)
	e.testSync(t, trg.ConfigureTrigger.ID)
	e.waitRunsDone(t, trg.ConfigureTrigger.ID)
	var contacts struct {
		Node struct {
			Contacts struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
	}
	e.c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Campaign { contacts(first: 1) { edges { node { id } } } } } }`,
		map[string]any{"id": campaign}, &contacts)
	if len(contacts.Node.Contacts.Edges) == 0 {
		t.Fatal("no contact imported from Talention")
	}
	// Talention refuses the delivery: DEAD after one attempt.
	e.refuse.arm()
	var rec struct {
		RecordCallResult struct{ Pushback struct{ ID string } }
	}
	e.c.MustDo(t, `mutation($in: RecordCallResultInput!) { recordCallResult(input: $in) { pushback { id } } }`, map[string]any{"in": map[string]any{
		"contactID": contacts.Node.Contacts.Edges[0].Node.ID, "outcome": "SUCCESS", "calledAt": time.Now().UTC().Format(time.RFC3339),
		"transcript": "Agent: Hello. Candidate: Hello.", "durationSeconds": 42,
	}}, &rec)
	pb := rec.RecordCallResult.Pushback.ID
	e.waitPushback(t, pb, "DEAD")

	e.openCampaignOf(t, campaign, "Talention")
	row := fmt.Sprintf(`tr[data-pushback=%q]`, pb)
	e.b.Wait(t, "the DEAD pushback", fmt.Sprintf(`(document.querySelector(%q) || {dataset: {}}).dataset.status === "DEAD"`, row), browserWait)
	// Retried once the campaign's events are followed, as a user would
	// some time after the page loaded.
	e.b.Wait(t, "the campaign's events followed", `document.querySelector("[data-live=on]") !== null`, browserWait)
	if s := e.text(t, row); !strings.Contains(s, "locked by another user") {
		t.Errorf("the DEAD pushback's row says %q, want its error", s)
	}
	e.click(t, row+" button")
	// The campaign's events bring the delivery.
	e.b.Wait(t, "the pushback delivered", fmt.Sprintf(`(document.querySelector(%q) || {dataset: {}}).dataset.status === "DELIVERED"`, row), browserWait)
	if s := e.text(t, row); strings.Contains(s, "Retry") || strings.Contains(s, "locked") {
		t.Errorf("the delivered pushback's row says %q", s)
	}
}

// integration returns the ID of the demo integration of a provider.
func (e *browserEnv) integration(t *testing.T, provider string) string {
	t.Helper()
	var out struct {
		Integrations struct {
			Edges []struct {
				Node struct {
					ID       string
					Provider struct{ Key string }
				}
			}
		}
	}
	e.c.MustDo(t, `query { integrations(first: 10) { edges { node { id provider { key } } } } }`, nil, &out)
	for _, ed := range out.Integrations.Edges {
		if ed.Node.Provider.Key == provider {
			return ed.Node.ID
		}
	}
	t.Fatalf("no %s integration", provider)
	return ""
}

func (e *browserEnv) waitPushback(t *testing.T, id, status string) {
	t.Helper()
	deadline := time.Now().Add(browserWait)
	for {
		var out struct{ Node struct{ Status string } }
		e.c.MustDo(t, `query($id: ID!) { node(id: $id) { ... on Pushback { status } } }`, map[string]any{"id": id}, &out)
		if out.Node.Status == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pushback %s is %s after %s, want %s", id, out.Node.Status, browserWait, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *browserEnv) testConsoleDoNotCall(t *testing.T) {
	defer e.b.Check(t)
	e.open(t, "/console#/do-not-call")
	e.ensureKey(t)
	e.b.Wait(t, "the list", `!!document.querySelector("main h2") && document.querySelector("main h2").innerText.startsWith("Do-not-call numbers")`, browserWait)
	e.b.Do(t, "adding a number",
		chromedp.SendKeys(chromedp.CSS(`[data-field="phone"] input`), "+4915112345678"),
		chromedp.SendKeys(chromedp.CSS(`[data-field="note"] input`), "asked by phone"))
	e.click(t, "main form button[type=submit]")
	e.b.Wait(t, "the number listed", `document.querySelector("main table").innerText.includes("+4915112345678")`, browserWait)
	// A number that is not E.164: the error at its field.
	e.b.Do(t, "adding a bad number", chromedp.SendKeys(chromedp.CSS(`[data-field="phone"] input`), "12"))
	e.click(t, "main form button[type=submit]")
	e.b.Wait(t, "the error at the field", `!!document.querySelector('[data-field="phone"] .field-error')`, browserWait)
}

// screenshot saves the console's campaign page, Talention selected.
func (e *browserEnv) screenshot(t *testing.T, path string) {
	e.openCampaign(t, "Talention")
	e.b.Wait(t, "the run history", `!!document.querySelector("[role=tabpanel] tr[data-run]")`, browserWait)
	e.b.Do(t, "sizing the page", chromedp.EmulateViewport(browsertest.Width, browsertest.Height),
		chromedp.Evaluate[chromedp.Void](`document.activeElement.blur(); window.scrollTo(0, 0)`))
	if err := os.WriteFile(path, e.b.Screenshot(t), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot saved to %s", path)
}
