package hubspotfake_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/hubspotfake"
)

type bundle struct {
	data sandbox.Dataset
	fake *hubspotfake.Server
	url  string // base URL, under a path prefix

	mu       sync.Mutex
	breaches []string // contract violations the test sends on purpose
}

// setup serves a fake of data. When the test ends, every request and
// answer must have agreed with the contract, but for the violations the
// test announced with breach.
func setup(t *testing.T, data sandbox.Dataset) *bundle {
	t.Helper()
	fake := hubspotfake.New(hubspotfake.Config{Dataset: data})
	mux := http.NewServeMux()
	mux.Handle("/hs/", http.StripPrefix("/hs", fake.Handler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	b := &bundle{data: data, fake: fake, url: srv.URL + "/hs"}
	t.Cleanup(func() { b.verify(t) })
	return b
}

// breach announces a request that breaks the contract on purpose (to see
// the fake refuse it): a violation containing each of parts must be found.
func (b *bundle) breach(parts ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.breaches = append(b.breaches, parts...)
}

func (b *bundle) verify(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	breaches := slices.Clone(b.breaches)
	b.mu.Unlock()
	if len(breaches) == 0 {
		b.fake.Contract.Verify(t)
		return
	}
	if b.fake.Contract.Checked() == 0 {
		t.Error("contract: no request was checked")
	}
	found := make([]bool, len(breaches))
	for _, v := range b.fake.Contract.Violations() {
		i := slices.IndexFunc(breaches, func(want string) bool { return strings.Contains(v, want) })
		if i < 0 {
			t.Errorf("contract: %s", v)
			continue
		}
		found[i] = true
	}
	for i, ok := range found {
		if !ok {
			t.Errorf("contract: no violation %q was found", breaches[i])
		}
	}
}

// do sends a request with the fake's token (unless token is given) and
// decodes the JSON answer.
func (b *bundle) do(t *testing.T, method, path, body string, token ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, b.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	auth := "Bearer " + hubspotfake.DefaultAccessToken
	if len(token) > 0 {
		auth = token[0]
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s %s: answer %q is not a JSON object: %v", method, path, data, err)
	}
	return resp.StatusCode, out
}

// checkError checks HubSpot's error shape.
func checkError(t *testing.T, status int, body map[string]any, wantStatus int, category, contains string) {
	t.Helper()
	msg, _ := body["message"].(string)
	if status != wantStatus || body["status"] != "error" || body["category"] != category || body["correlationId"] == "" || !strings.Contains(msg, contains) {
		t.Fatalf("answer %d %v, want %d %s containing %q", status, body, wantStatus, category, contains)
	}
}

func ids(t *testing.T, body map[string]any, key string) []string {
	t.Helper()
	var out []string
	results, _ := body["results"].([]any)
	for _, r := range results {
		out = append(out, r.(map[string]any)[key].(string))
	}
	return out
}

func search(filterProp, op string, value int64, sortDir string, limit int, after string) string {
	return fmt.Sprintf(`{"filterGroups":[{"filters":[{"propertyName":%q,"operator":%q,"value":"%d"}]}],"sorts":[{"propertyName":%q,"direction":%q}],"properties":["firstname","phone","mobilephone"],"limit":%d,"after":%q}`,
		filterProp, op, value, filterProp, sortDir, limit, after)
}

func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Dataset{Seed: 1, Size: 5})
	status, body := b.do(t, "GET", "/crm/v3/objects/contacts", "", "")
	checkError(t, status, body, http.StatusUnauthorized, "INVALID_AUTHENTICATION", "credentials not found")
	status, body = b.do(t, "GET", "/crm/v3/objects/contacts", "", "Bearer nope")
	checkError(t, status, body, http.StatusUnauthorized, "INVALID_AUTHENTICATION", "invalid")
	b.breach("GET /crm/v3/nothing is not a documented endpoint")
	status, body = b.do(t, "GET", "/crm/v3/nothing", "")
	checkError(t, status, body, http.StatusNotFound, "OBJECT_NOT_FOUND", "no endpoint")
	if c := b.fake.Credentials(b.url); c["baseURL"] != b.url || c["accessToken"] != hubspotfake.DefaultAccessToken || c["webhookSecret"] != hubspotfake.DefaultWebhookSecret {
		t.Fatalf("credentials = %v", c)
	}
}

func TestSearch(t *testing.T) {
	t.Parallel()
	data := sandbox.Dataset{Seed: 1, Size: 1_000_000}
	b := setup(t, data)

	t.Run("result cap", func(t *testing.T) {
		t.Parallel()
		status, body := b.do(t, "POST", "/crm/v3/objects/contacts/search", search("createdate", "GTE", 0, "ASCENDING", 200, "9800"))
		got := ids(t, body, "id")
		next := body["paging"].(map[string]any)["next"].(map[string]any)["after"]
		if status != http.StatusOK || body["total"] != float64(data.Size) || len(got) != 200 || got[0] != data.ExternalID(9800) || next != "10000" {
			t.Fatalf("answer %d: total %v, %d results from %v, next %v", status, body["total"], len(got), got[:1], next)
		}
		status, body = b.do(t, "POST", "/crm/v3/objects/contacts/search", search("createdate", "GTE", 0, "ASCENDING", 200, "10000"))
		checkError(t, status, body, http.StatusBadRequest, "VALIDATION_ERROR", "limited to 10000")
	})
	t.Run("limit above 200", func(t *testing.T) {
		t.Parallel()
		b.breach("body field limit: above the documented maximum 200")
		status, body := b.do(t, "POST", "/crm/v3/objects/contacts/search", search("createdate", "GTE", 0, "ASCENDING", 201, ""))
		checkError(t, status, body, http.StatusBadRequest, "VALIDATION_ERROR", "limit")
	})
	t.Run("date filters in milliseconds", func(t *testing.T) {
		t.Parallel()
		at := data.CreatedAt(999_990).UnixMilli()
		for _, tc := range []struct {
			op, dir string
			want    []string
		}{
			{"GTE", "ASCENDING", []string{data.ExternalID(999_990), data.ExternalID(999_991)}},
			{"GT", "ASCENDING", []string{data.ExternalID(999_991), data.ExternalID(999_992)}},
			{"LT", "DESCENDING", []string{data.ExternalID(999_989), data.ExternalID(999_988)}},
			{"LTE", "DESCENDING", []string{data.ExternalID(999_990), data.ExternalID(999_989)}},
			{"EQ", "ASCENDING", []string{data.ExternalID(999_990)}},
		} {
			_, body := b.do(t, "POST", "/crm/v3/objects/contacts/search", search("createdate", tc.op, at, tc.dir, 2, ""))
			if got := ids(t, body, "id"); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("%s %s: %v, want %v", tc.op, tc.dir, got, tc.want)
			}
		}
		updated := data.UpdatedAt(999_998).UnixMilli()
		_, body := b.do(t, "POST", "/crm/v3/objects/contacts/search", search("lastmodifieddate", "GTE", updated, "ASCENDING", 10, ""))
		if got := ids(t, body, "id"); body["total"] != float64(2) || len(got) != 2 || body["paging"] != nil {
			t.Fatalf("lastmodifieddate: %v", body)
		}
	})
	t.Run("phones in two properties", func(t *testing.T) {
		t.Parallel()
		_, body := b.do(t, "POST", "/crm/v3/objects/contacts/search", search("createdate", "GTE", 0, "ASCENDING", 100, ""))
		for i, r := range body["results"].([]any) {
			props := r.(map[string]any)["properties"].(map[string]any)
			var phones []string
			for _, k := range []string{"mobilephone", "phone"} {
				if v, ok := props[k].(string); ok {
					phones = append(phones, v)
				}
			}
			if p := data.Person(i); fmt.Sprint(phones) != fmt.Sprint(p.Phones) || props["firstname"] != p.FirstName || props["createdate"] == nil {
				t.Fatalf("contact %d: properties %v, want phones %q", i, props, p.Phones)
			}
		}
	})
}

func TestLists(t *testing.T) {
	t.Parallel()
	data := sandbox.Dataset{Seed: 1, Size: 1_000_000, Groups: 4}
	b := setup(t, data)

	status, body := b.do(t, "POST", "/crm/v3/lists/search", `{"query":"DRIVER","count":10}`)
	lists, _ := body["lists"].([]any)
	if status != http.StatusOK || len(lists) != 1 || lists[0].(map[string]any)["listId"] != hubspotfake.ListID(1) || body["hasMore"] != false {
		t.Fatalf("list search: %d %v", status, body)
	}
	b.breach("body field count: above the documented maximum 500")
	status, body = b.do(t, "POST", "/crm/v3/lists/search", `{"count":501}`)
	checkError(t, status, body, http.StatusBadRequest, "VALIDATION_ERROR", "count")

	// Deep in a large list, one page costs one page.
	status, body = b.do(t, "GET", "/crm/v3/lists/"+hubspotfake.ListID(2)+"/memberships?limit=2&after=249998", "")
	if got := ids(t, body, "recordId"); status != http.StatusOK || fmt.Sprint(got) != fmt.Sprint([]string{data.ExternalID(999_994), data.ExternalID(999_998)}) || body["paging"] != nil {
		t.Fatalf("memberships: %d %v", status, body)
	}
	status, body = b.do(t, "GET", "/crm/v3/lists/5/memberships", "")
	checkError(t, status, body, http.StatusNotFound, "OBJECT_NOT_FOUND", "List 5 does not exist")
	b.breach(`query parameter limit="251": above the documented maximum 250`)
	status, body = b.do(t, "GET", "/crm/v3/lists/1/memberships?limit=251", "")
	checkError(t, status, body, http.StatusBadRequest, "VALIDATION_ERROR", "limit")
}

func TestBatchRead(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Dataset{Seed: 1, Size: 10})
	status, body := b.do(t, "POST", "/crm/v3/objects/contacts/batch/read", `{"inputs":[{"id":"100002"},{"id":"42"},{"id":"100001"}],"properties":["email"]}`)
	errs, _ := body["errors"].([]any)
	if got := ids(t, body, "id"); status != http.StatusMultiStatus || fmt.Sprint(got) != "[100002 100001]" || len(errs) != 1 {
		t.Fatalf("batch read: %d %v", status, body)
	}
	inputs := strings.Repeat(`{"id":"100001"},`, 101)
	status, body = b.do(t, "POST", "/crm/v3/objects/contacts/batch/read", `{"inputs":[`+strings.TrimSuffix(inputs, ",")+`]}`)
	checkError(t, status, body, http.StatusBadRequest, "VALIDATION_ERROR", "limited to 100")
}

func TestWrites(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Dataset{Seed: 1, Size: 10})
	id := b.data.ExternalID(2)

	status, body := b.do(t, "PATCH", "/crm/v3/objects/contacts/"+id, `{"properties":{"hs_lead_status":"HIRED"}}`)
	checkError(t, status, body, http.StatusBadRequest, "VALIDATION_ERROR", "HIRED was not one of the allowed options")
	status, _ = b.do(t, "PATCH", "/crm/v3/objects/contacts/"+id, `{"properties":{"hs_lead_status":"OPEN"}}`)
	if status != http.StatusOK || b.fake.LeadStatus(id) != "OPEN" {
		t.Fatalf("update: %d, lead status %q", status, b.fake.LeadStatus(id))
	}
	status, body = b.do(t, "PATCH", "/crm/v3/objects/contacts/999", `{"properties":{"hs_lead_status":"OPEN"}}`)
	checkError(t, status, body, http.StatusNotFound, "OBJECT_NOT_FOUND", "not found")

	assoc := `"associations":[{"to":{"id":"` + id + `"},"types":[{"associationCategory":"HUBSPOT_DEFINED","associationTypeId":194}]}]`
	status, body = b.do(t, "POST", "/crm/v3/objects/calls", `{"properties":{"hs_call_title":"x"},`+assoc+`}`)
	checkError(t, status, body, http.StatusBadRequest, "VALIDATION_ERROR", "hs_timestamp is required")
	status, body = b.do(t, "POST", "/crm/v3/objects/calls", `{"properties":{"hs_timestamp":1769940000000,"hs_call_duration":95000},`+assoc+`}`)
	calls := b.fake.Calls()
	if status != http.StatusCreated || body["id"] == nil || len(calls) != 1 || calls[0].Properties["hs_call_duration"] != "95000" || calls[0].ContactIDs[0] != id {
		t.Fatalf("call: %d %v, calls %+v", status, body, calls)
	}
	if n := len(b.fake.Writes.Writes()); n != 5 {
		t.Fatalf("%d writes logged, want 5", n)
	}

	// HubSpot documents no idempotency key: the same create, key and all,
	// logs a second call.
	for range 2 {
		req, _ := http.NewRequest("POST", b.url+"/crm/v3/objects/calls", strings.NewReader(`{"properties":{"hs_timestamp":1769940000000},`+assoc+`}`))
		req.Header.Set("Authorization", "Bearer "+hubspotfake.DefaultAccessToken)
		req.Header.Set("Idempotency-Key", "same")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if n := len(b.fake.Calls()); n != 3 {
		t.Fatalf("%d calls, want 3: a repeated create takes effect again", n)
	}
	if n := len(b.fake.Writes.Applied()); n != 4 {
		t.Fatalf("%d writes took effect, want 4", n)
	}
}

func TestSignWebhook(t *testing.T) {
	t.Parallel()
	// Computed independently: base64(HMAC-SHA256("secret", method+uri+body+ms)).
	h := hubspotfake.SignWebhook("secret", "POST", "https://intake.example.com/hooks?a=1", []byte(`[{"objectId":1}]`), time.UnixMilli(1769947200000))
	if got := h.Get("X-HubSpot-Signature-v3"); got != "0Q9F9JgPHkVxTOt5lZMEuVBAvNozguVyYlGUYiXBD6U=" {
		t.Fatalf("signature = %q", got)
	}
	if got := h.Get("X-HubSpot-Request-Timestamp"); got != "1769947200000" {
		t.Fatalf("timestamp = %q", got)
	}
}

func TestContactCalls(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Dataset{Seed: 1, Size: 10})
	id, other := b.data.ExternalID(1), b.data.ExternalID(2)
	var want []string
	for i := range 7 {
		c := b.fake.AddCall(map[string]string{"hs_call_body": fmt.Sprintf("<p>call %d</p>", i), "hs_timestamp": "1769940000000"}, id)
		want = append(want, c.ID)
		b.fake.AddCall(map[string]string{"hs_call_body": "other"}, other)
	}

	t.Run("associations in creation order, paged", func(t *testing.T) {
		t.Parallel()
		var got []string
		after := ""
		for pages := 1; ; pages++ {
			status, body := b.do(t, "GET", "/crm/v4/objects/contacts/"+id+"/associations/calls?limit=3"+after, "")
			if status != http.StatusOK {
				t.Fatalf("page %d: %d %v", pages, status, body)
			}
			for _, r := range body["results"].([]any) {
				r := r.(map[string]any)
				types := r["associationTypes"].([]any)[0].(map[string]any)
				if types["category"] != "HUBSPOT_DEFINED" || types["typeId"] != float64(hubspotfake.ContactToCallAssociation) {
					t.Fatalf("association %v", r)
				}
				got = append(got, fmt.Sprint(int64(r["toObjectId"].(float64))))
			}
			paging, ok := body["paging"].(map[string]any)
			if !ok {
				if pages != 3 {
					t.Fatalf("%d pages, want 3", pages)
				}
				break
			}
			after = "&after=" + paging["next"].(map[string]any)["after"].(string)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("calls %v, want %v", got, want)
		}
	})
	t.Run("default limit and contacts without calls", func(t *testing.T) {
		t.Parallel()
		_, body := b.do(t, "GET", "/crm/v4/objects/contacts/"+id+"/associations/calls", "")
		if n := len(body["results"].([]any)); n != 7 || body["paging"] != nil {
			t.Fatalf("answer %v", body)
		}
		status, body := b.do(t, "GET", "/crm/v4/objects/contacts/"+b.data.ExternalID(3)+"/associations/calls", "")
		if status != http.StatusOK || len(body["results"].([]any)) != 0 {
			t.Fatalf("answer %d %v", status, body)
		}
	})
	t.Run("limit between 1 and 500", func(t *testing.T) {
		t.Parallel()
		status, body := b.do(t, "GET", "/crm/v4/objects/contacts/"+id+"/associations/calls?limit=500", "")
		if status != http.StatusOK || len(body["results"].([]any)) != 7 {
			t.Fatalf("limit=500: %d %v", status, body)
		}
		b.breach(`query parameter limit="501": above the documented maximum 500`, `query parameter limit="0": below the minimum 1`)
		for _, limit := range []string{"501", "0"} {
			status, body := b.do(t, "GET", "/crm/v4/objects/contacts/"+id+"/associations/calls?limit="+limit, "")
			checkError(t, status, body, http.StatusBadRequest, "VALIDATION_ERROR", "limit")
		}
	})
	t.Run("batch read", func(t *testing.T) {
		t.Parallel()
		status, body := b.do(t, "POST", "/crm/v3/objects/calls/batch/read", `{"properties":["hs_call_body","hs_call_title"],"inputs":[{"id":"`+want[1]+`"},{"id":"`+want[0]+`"},{"id":"`+want[1]+`"}]}`)
		if got := ids(t, body, "id"); status != http.StatusOK || body["status"] != "COMPLETE" || fmt.Sprint(got) != fmt.Sprint([]string{want[1], want[0]}) {
			t.Fatalf("batch read: %d %v", status, body)
		}
		props := body["results"].([]any)[0].(map[string]any)["properties"].(map[string]any)
		if props["hs_call_body"] != "<p>call 1</p>" || props["hs_call_title"] != nil || props["hs_object_id"] != want[1] || props["hs_timestamp"] != nil {
			t.Fatalf("properties %v, want the requested ones (null when unset) and the defaults", props)
		}
		status, body = b.do(t, "POST", "/crm/v3/objects/calls/batch/read", `{"properties":["hs_call_body"],"inputs":[{"id":"`+want[0]+`"},{"id":"42"}]}`)
		errs, _ := body["errors"].([]any)
		if got := ids(t, body, "id"); status != http.StatusMultiStatus || fmt.Sprint(got) != fmt.Sprint(want[:1]) || body["numErrors"] != float64(1) || len(errs) != 1 {
			t.Fatalf("batch read with an unknown ID: %d %v", status, body)
		}
		if e := errs[0].(map[string]any); e["category"] != "OBJECT_NOT_FOUND" || fmt.Sprint(e["context"]) != "map[ids:[42]]" {
			t.Fatalf("error %v", e)
		}
	})
	t.Run("batch read of 1 to 100 calls", func(t *testing.T) {
		t.Parallel()
		inputs := strings.TrimSuffix(strings.Repeat(`{"id":"`+want[0]+`"},`, 100), ",")
		if status, body := b.do(t, "POST", "/crm/v3/objects/calls/batch/read", `{"inputs":[`+inputs+`]}`); status != http.StatusOK {
			t.Fatalf("100 inputs: %d %v", status, body)
		}
		for _, inputs := range []string{inputs + `,{"id":"1"}`, ""} {
			status, body := b.do(t, "POST", "/crm/v3/objects/calls/batch/read", `{"inputs":[`+inputs+`]}`)
			checkError(t, status, body, http.StatusBadRequest, "VALIDATION_ERROR", "1 to 100 ids")
		}
	})
	t.Run("one call", func(t *testing.T) {
		t.Parallel()
		status, body := b.do(t, "GET", "/crm/v3/objects/calls/"+want[2]+"?properties=hs_call_body", "")
		if status != http.StatusOK || body["id"] != want[2] || body["properties"].(map[string]any)["hs_call_body"] != "<p>call 2</p>" {
			t.Fatalf("call: %d %v", status, body)
		}
		status, body = b.do(t, "GET", "/crm/v3/objects/calls/42", "")
		checkError(t, status, body, http.StatusNotFound, "OBJECT_NOT_FOUND", "not found")
	})
}

func TestLoggedCallIsListed(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Dataset{Seed: 1, Size: 10})
	id := b.data.ExternalID(4)
	status, created := b.do(t, "POST", "/crm/v3/objects/calls", `{"properties":{"hs_timestamp":"2026-02-01T10:30:00.000Z","hs_call_body":"<p>x</p>"},"associations":[{"to":{"id":"`+id+`"},"types":[{"associationCategory":"HUBSPOT_DEFINED","associationTypeId":194}]}]}`)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, created)
	}
	// Strongly consistent: the call is listed at once.
	_, body := b.do(t, "GET", "/crm/v4/objects/contacts/"+id+"/associations/calls", "")
	results := body["results"].([]any)
	if len(results) != 1 || fmt.Sprint(int64(results[0].(map[string]any)["toObjectId"].(float64))) != created["id"] {
		t.Fatalf("associations %v, want the call %v", body, created["id"])
	}
}

func TestRateLimitAnswer(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Dataset{Seed: 1, Size: 10})
	b.fake.Faults.Next(sandbox.RateLimit)
	status, body := b.do(t, "GET", "/crm/v3/objects/contacts", "")
	// HubSpot's documented 429: no category, but errorType and policyName.
	want := map[string]any{"status": "error", "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("%s = %v, want %v", k, body[k], v)
		}
	}
	for _, k := range []string{"message", "correlationId", "requestId"} {
		if s, _ := body[k].(string); s == "" {
			t.Errorf("%s is missing", k)
		}
	}
	if _, ok := body["category"]; ok || status != http.StatusTooManyRequests {
		t.Fatalf("answer %d %v", status, body)
	}
	// Other errors keep their category.
	b.fake.Faults.Next(sandbox.ServerError)
	status, body = b.do(t, "GET", "/crm/v3/objects/contacts", "")
	checkError(t, status, body, http.StatusInternalServerError, "INTERNAL_ERROR", "injected")
}

// A contact carries the properties asked for and the defaults, no others;
// asked-for properties without a value are null.
func TestOnlyRequestedProperties(t *testing.T) {
	t.Parallel()
	data := sandbox.Dataset{Seed: 1, Size: 40}
	b := setup(t, data)
	keys := func(props map[string]any) string {
		var out []string
		for k := range props {
			out = append(out, k)
		}
		slices.Sort(out)
		return strings.Join(out, ",")
	}
	always := []string{"createdate", "hs_object_id", "lastmodifieddate"}
	fit := []string{"jobtitle", "company", "industry", "lifecyclestage", "hs_lead_status", "city", "country"}

	// Fit properties not asked for are not returned.
	_, body := b.do(t, "POST", "/crm/v3/objects/contacts/search", search("createdate", "GTE", 0, "ASCENDING", 40, ""))
	for _, r := range body["results"].([]any) {
		props := r.(map[string]any)["properties"].(map[string]any)
		if got, want := keys(props), strings.Join(slices.Sorted(slices.Values(append([]string{"firstname", "phone", "mobilephone"}, always...))), ","); got != want {
			t.Fatalf("search without fit properties: properties %s, want %s", got, want)
		}
	}
	_, body = b.do(t, "POST", "/crm/v3/objects/contacts/batch/read", `{"inputs":[{"id":"100001"}],"properties":["city"]}`)
	props := body["results"].([]any)[0].(map[string]any)["properties"].(map[string]any)
	if got := keys(props); got != "city,createdate,hs_object_id,lastmodifieddate" || props["city"] != data.Person(1).City {
		t.Fatalf("batch read of city: properties %v", props)
	}
	status, one := b.do(t, "GET", "/crm/v3/objects/contacts/100002?properties=company", "")
	props = one["properties"].(map[string]any)
	if status != http.StatusOK || keys(props) != "company,createdate,hs_object_id,lastmodifieddate" {
		t.Fatalf("read of company: %d %v", status, props)
	}

	// Asked for, they carry the person's values, null when empty.
	inputs := make([]string, data.Size)
	for i := range data.Size {
		inputs[i] = fmt.Sprintf(`{"id":%q}`, data.ExternalID(i))
	}
	req := fmt.Sprintf(`{"inputs":[%s],"properties":["%s"]}`, strings.Join(inputs, ","), strings.Join(fit, `","`))
	_, body = b.do(t, "POST", "/crm/v3/objects/contacts/batch/read", req)
	results := body["results"].([]any)
	if len(results) != data.Size {
		t.Fatalf("%d results, want %d", len(results), data.Size)
	}
	nulls := 0
	for i, r := range results {
		p := data.Person(i)
		props := r.(map[string]any)["properties"].(map[string]any)
		if got, want := keys(props), strings.Join(slices.Sorted(slices.Values(append(slices.Clone(fit), always...))), ","); got != want {
			t.Fatalf("contact %d: properties %s, want %s", i, got, want)
		}
		for name, want := range map[string]string{"jobtitle": p.Profession, "company": p.Company, "industry": p.Industry,
			"lifecyclestage": p.LifecycleStage, "city": p.City, "country": p.CountryName, "hs_lead_status": ""} {
			v := props[name]
			if want == "" {
				if v != nil {
					t.Fatalf("contact %d: %s = %v, want null", i, name, v)
				}
				nulls++
				continue
			}
			if v != want {
				t.Fatalf("contact %d: %s = %v, want %q", i, name, v, want)
			}
		}
	}
	if nulls <= data.Size { // hs_lead_status alone is null for everyone
		t.Fatal("no fit property was null: the test covers no empty value")
	}
}

// An archived contact leaves every read but the archived listing, which
// names when it was archived; searches in both directions skip it.
func TestArchive(t *testing.T) {
	t.Parallel()
	data := sandbox.Dataset{Seed: 5, Size: 30}
	b := setup(t, data)
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	gone := []int{0, 7, 8, 29}
	for _, i := range gone {
		if !b.fake.Archive(data.ExternalID(i), at) {
			t.Fatalf("archiving %d", i)
		}
	}
	if b.fake.Archive(data.ExternalID(7), at) || b.fake.Archive("nobody", at) {
		t.Fatal("archived an archived or unknown contact")
	}
	isGone := func(id string) bool {
		return slices.ContainsFunc(gone, func(i int) bool { return data.ExternalID(i) == id })
	}
	// The contact list, three at a time.
	var listed []string
	for after := ""; ; {
		_, page := b.do(t, "GET", "/crm/v3/objects/contacts?limit=3&after="+after, "")
		listed = append(listed, ids(t, page, "id")...)
		next, _ := page["paging"].(map[string]any)
		if next == nil {
			break
		}
		after = next["next"].(map[string]any)["after"].(string)
	}
	if len(listed) != data.Size-len(gone) || slices.ContainsFunc(listed, isGone) {
		t.Errorf("listed %v: %d, want the %d live contacts", listed, len(listed), data.Size-len(gone))
	}
	// Searches, ascending and descending, two pages of 13.
	for _, dir := range []string{"ASCENDING", "DESCENDING"} {
		var found []string
		var total float64
		for _, after := range []string{"", "13"} {
			_, page := b.do(t, "POST", "/crm/v3/objects/contacts/search", search("createdate", "GTE", 0, dir, 13, after))
			found = append(found, ids(t, page, "id")...)
			total = page["total"].(float64)
		}
		if int(total) != data.Size-len(gone) || len(found) != data.Size-len(gone) || slices.ContainsFunc(found, isGone) {
			t.Errorf("%s search: total %v, found %v", dir, total, found)
		}
		if dir == "DESCENDING" && found[0] != data.ExternalID(28) || dir == "ASCENDING" && found[0] != data.ExternalID(1) {
			t.Errorf("%s search starts at %s", dir, found[0])
		}
	}
	// Reads by ID.
	id := data.ExternalID(7)
	if status, body := b.do(t, "GET", "/crm/v3/objects/contacts/"+id, ""); status != http.StatusNotFound {
		t.Errorf("reading an archived contact: %d %v", status, body)
	}
	if status, body := b.do(t, "GET", "/crm/v3/objects/contacts/"+id+"?archived=true", ""); status != http.StatusOK || body["archived"] != true || body["archivedAt"] != "2026-05-01T12:00:00.000Z" {
		t.Errorf("reading an archived contact with archived=true: %d %v", status, body)
	}
	status, body := b.do(t, "POST", "/crm/v3/objects/contacts/batch/read", fmt.Sprintf(`{"inputs":[{"id":%q},{"id":%q}]}`, id, data.ExternalID(1)))
	if status != http.StatusMultiStatus || len(ids(t, body, "id")) != 1 {
		t.Errorf("batch read of an archived and a live contact: %d %v", status, body)
	}
	// The archived listing.
	_, page := b.do(t, "GET", "/crm/v3/objects/contacts?archived=true&limit=3", "")
	results := page["results"].([]any)
	if len(results) != 3 || page["paging"] == nil {
		t.Fatalf("archived listing: %v", page)
	}
	for k, r := range results {
		c := r.(map[string]any)
		if c["id"] != data.ExternalID(gone[k]) || c["archived"] != true || c["archivedAt"] != "2026-05-01T12:00:00.000Z" {
			t.Errorf("archived contact %d: %v", k, c)
		}
	}
	_, page = b.do(t, "GET", "/crm/v3/objects/contacts?archived=true&limit=3&after=3", "")
	if got := ids(t, page, "id"); !slices.Equal(got, []string{data.ExternalID(29)}) || page["paging"] != nil {
		t.Errorf("archived listing, second page: %v", page)
	}
}

// The account's limits, as HubSpot answers them: 429 with policyName past
// the ten-second window or the search endpoints' second, rate-limit
// headers on answers but searches', and a count of both.
func TestLimits(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Dataset{Seed: 1, Size: 10})
	b.fake.SetLimits(&hubspotfake.Limits{Requests: 3, Interval: time.Hour, SearchesPerSecond: 1})
	status, body := b.do(t, "POST", "/crm/v3/objects/contacts/search", search("createdate", "GTE", 0, "ASCENDING", 5, ""))
	if status != http.StatusOK {
		t.Fatalf("first search: %d %v", status, body)
	}
	status, body = b.do(t, "POST", "/crm/v3/objects/contacts/search", search("createdate", "GTE", 0, "ASCENDING", 5, ""))
	if status != http.StatusTooManyRequests || body["policyName"] != "SECONDLY" || body["errorType"] != "RATE_LIMIT" {
		t.Fatalf("second search within a second: %d %v", status, body)
	}
	req, _ := http.NewRequest("GET", b.url+"/crm/v3/objects/contacts?limit=1", nil)
	req.Header.Set("Authorization", "Bearer "+hubspotfake.DefaultAccessToken)
	for i := range 3 {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := http.StatusOK
		if i == 2 {
			want = http.StatusTooManyRequests
		}
		if resp.StatusCode != want || resp.Header.Get("X-HubSpot-RateLimit-Max") != "3" || resp.Header.Get("X-HubSpot-RateLimit-Interval-Milliseconds") != "3600000" {
			t.Errorf("request %d: %d, headers %v", i, resp.StatusCode, resp.Header)
		}
	}
	if st := b.fake.LimitStats(); st.Served != 3 || st.Refused != 2 {
		t.Errorf("stats %+v, want 3 served and 2 refused", st)
	}

	// The day's limit: its headers count down, then 429 DAILY.
	b.fake.SetLimits(&hubspotfake.Limits{Requests: 100, Interval: time.Second, Daily: 2})
	for i, want := range []struct {
		status    int
		remaining string
	}{{http.StatusOK, "1"}, {http.StatusOK, "0"}, {http.StatusTooManyRequests, "0"}} {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != want.status || resp.Header.Get("X-HubSpot-RateLimit-Daily") != "2" || resp.Header.Get("X-HubSpot-RateLimit-Daily-Remaining") != want.remaining {
			t.Errorf("daily request %d: %d, headers %v", i, resp.StatusCode, resp.Header)
		}
		if want.status == http.StatusTooManyRequests && body["policyName"] != "DAILY" {
			t.Errorf("past the day's limit: %v, want policyName DAILY", body)
		}
	}
}
