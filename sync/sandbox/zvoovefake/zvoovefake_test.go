package zvoovefake_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/zvoovefake"
)

type bundle struct {
	data sandbox.Dataset
	fake *zvoovefake.Server
	url  string // base URL, under the path prefix /zvoove
	now  *atomic.Int64
}

func setup(t *testing.T, data sandbox.Dataset) *bundle {
	t.Helper()
	b := &bundle{data: data, now: &atomic.Int64{}}
	b.now.Store(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	b.fake = zvoovefake.New(zvoovefake.Config{Dataset: data, Now: func() time.Time { return time.Unix(0, b.now.Load()) }})
	mux := http.NewServeMux()
	mux.Handle("/zvoove/", http.StripPrefix("/zvoove", b.fake.Handler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	b.url = srv.URL + "/zvoove"
	return b
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// problem checks that r is a problem details response with the status.
func (r response) problem(t *testing.T, status int) string {
	t.Helper()
	var p struct {
		Type, Title, Detail string
		Status              int
	}
	if r.status != status || !strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("status %d (%s), want %d problem details: %s", r.status, r.header.Get("Content-Type"), status, r.body)
	}
	r.decode(t, &p)
	if p.Status != status || p.Title == "" || p.Type == "" {
		t.Fatalf("problem details %+v", p)
	}
	return p.Detail
}

func (b *bundle) do(t *testing.T, method, path string, q url.Values, header http.Header, body string) response {
	t.Helper()
	u := b.url + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

func (b *bundle) auth() http.Header {
	return http.Header{"Authorization": {"Bearer " + zvoovefake.DefaultAPIKey}, "X-Mandant-Id": {zvoovefake.DefaultMandantID}}
}

func (b *bundle) get(t *testing.T, path string, q url.Values) response {
	t.Helper()
	return b.do(t, http.MethodGet, path, q, b.auth(), "")
}

func small() sandbox.Dataset {
	return sandbox.Dataset{Seed: 5, Size: 103, Groups: 4, Step: 5 * time.Hour}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, small())
	const path = "/temp-staffing-de/v1/departments"
	for _, tc := range []struct {
		name   string
		header http.Header
		status int
	}{
		{"reference key", b.auth(), http.StatusOK},
		{"no token", http.Header{"X-Mandant-Id": {zvoovefake.DefaultMandantID}}, http.StatusUnauthorized},
		{"wrong token", http.Header{"Authorization": {"Bearer nope"}, "X-Mandant-Id": {zvoovefake.DefaultMandantID}}, http.StatusUnauthorized},
		{"no mandant", http.Header{"Authorization": {"Bearer " + zvoovefake.DefaultAPIKey}}, http.StatusUnauthorized},
		{"other mandant", http.Header{"Authorization": {"Bearer " + zvoovefake.DefaultAPIKey}, "X-Mandant-Id": {"other"}}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := b.do(t, http.MethodGet, path, nil, tc.header, "")
			if tc.status == http.StatusOK {
				if r.status != http.StatusOK {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				return
			}
			if r.problem(t, tc.status) == "" {
				t.Fatal("problem without detail")
			}
		})
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	b := setup(t, small())
	form := func(kv ...string) string {
		v := url.Values{"grant_type": {"client_credentials"}, "scope": {"api_gateway"},
			"client_id": {zvoovefake.DefaultClientID}, "client_secret": {zvoovefake.DefaultClientSecret}}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	formHeader := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	token := func(t *testing.T, header http.Header, body string) string {
		t.Helper()
		r := b.do(t, http.MethodPost, zvoovefake.TokenPath, nil, header, body)
		var tok struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
			ExpiresIn   int    `json:"expires_in"`
		}
		r.decode(t, &tok)
		if r.status != http.StatusOK || tok.AccessToken == "" || tok.TokenType != "Bearer" || tok.ExpiresIn != 3600 {
			t.Fatalf("token response %d %s", r.status, r.body)
		}
		return tok.AccessToken
	}
	use := func(t *testing.T, tok string) int {
		t.Helper()
		h := http.Header{"Authorization": {"Bearer " + tok}, "X-Mandant-Id": {zvoovefake.DefaultMandantID}}
		return b.do(t, http.MethodGet, "/temp-staffing-de/v1/departments", nil, h, "").status
	}

	t.Run("issued token works until it expires", func(t *testing.T) {
		b := setup(t, small())
		r := b.do(t, http.MethodPost, zvoovefake.TokenPath, nil, formHeader, form())
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		r.decode(t, &tok)
		h := http.Header{"Authorization": {"Bearer " + tok.AccessToken}, "X-Mandant-Id": {zvoovefake.DefaultMandantID}}
		if s := b.do(t, http.MethodGet, "/temp-staffing-de/v1/departments", nil, h, "").status; s != http.StatusOK {
			t.Fatalf("status %d with a fresh token", s)
		}
		b.now.Add(int64(zvoovefake.DefaultTokenTTL))
		b.do(t, http.MethodGet, "/temp-staffing-de/v1/departments", nil, h, "").problem(t, http.StatusUnauthorized)
		if n := b.fake.TokensIssued(); n != 1 {
			t.Fatalf("tokens issued = %d", n)
		}
	})
	t.Run("client secret in the body", func(t *testing.T) {
		t.Parallel()
		if s := use(t, token(t, formHeader, form())); s != http.StatusOK {
			t.Fatalf("status %d", s)
		}
	})
	t.Run("client secret by basic auth", func(t *testing.T) {
		t.Parallel()
		h := formHeader.Clone()
		req := &http.Request{Header: h}
		req.SetBasicAuth(zvoovefake.DefaultClientID, zvoovefake.DefaultClientSecret)
		body := url.Values{"grant_type": {"client_credentials"}, "scope": {"api_gateway openid"}}.Encode()
		if s := use(t, token(t, h, body)); s != http.StatusOK {
			t.Fatalf("status %d", s)
		}
	})
	t.Run("revoked token", func(t *testing.T) {
		b := setup(t, small())
		r := b.do(t, http.MethodPost, zvoovefake.TokenPath, nil, formHeader, form())
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		r.decode(t, &tok)
		b.fake.RevokeTokens()
		h := http.Header{"Authorization": {"Bearer " + tok.AccessToken}, "X-Mandant-Id": {zvoovefake.DefaultMandantID}}
		b.do(t, http.MethodGet, "/temp-staffing-de/v1/departments", nil, h, "").problem(t, http.StatusUnauthorized)
	})
	for _, tc := range []struct {
		name   string
		header http.Header
		body   string
		status int
		code   string
	}{
		{"wrong grant", formHeader, form("grant_type", "password"), http.StatusBadRequest, "unsupported_grant_type"},
		{"wrong secret", formHeader, form("client_secret", "x"), http.StatusUnauthorized, "invalid_client"},
		{"unknown client", formHeader, form("client_id", "x"), http.StatusUnauthorized, "invalid_client"},
		{"no scope", formHeader, form("scope", "openid"), http.StatusBadRequest, "invalid_scope"},
		{"JSON body", http.Header{"Content-Type": {"application/json"}}, `{"grant_type":"client_credentials"}`, http.StatusBadRequest, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := b.do(t, http.MethodPost, zvoovefake.TokenPath, nil, tc.header, tc.body)
			var e struct {
				Error, ErrorDescription string
			}
			r.decode(t, &e)
			if r.status != tc.status || e.Error != tc.code {
				t.Fatalf("status %d %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
		})
	}
}

type department struct {
	ID     int    `json:"id"`
	Name   string `json:"name"`
	Active bool   `json:"active"`
}

func TestDepartments(t *testing.T) {
	t.Parallel()
	b := setup(t, small())
	list := func(t *testing.T, active string) []department {
		t.Helper()
		var all []department
		for page := 1; ; page++ {
			q := url.Values{"PageNumber": {strconv.Itoa(page)}, "PageSize": {"3"}}
			if active != "" {
				q.Set("Active", active)
			}
			var ds []department
			r := b.get(t, "/temp-staffing-de/v1/departments", q)
			r.decode(t, &ds)
			all = append(all, ds...)
			if len(ds) < 3 {
				return all
			}
		}
	}
	var want []department
	for g := range b.data.Groups {
		id := zvoovefake.OfficeID(g)
		want = append(want, department{ID: id, Name: zvoovefake.OfficeName(id), Active: true})
	}
	if got := list(t, "true"); !slices.Equal(got, want) {
		t.Fatalf("active offices = %+v, want %+v", got, want)
	}
	inactive := list(t, "false")
	if len(inactive) != 1 || inactive[0].ID != zvoovefake.InactiveOfficeID(b.data) || inactive[0].Active {
		t.Fatalf("inactive offices = %+v", inactive)
	}
	if got := list(t, ""); len(got) != len(want)+1 {
		t.Fatalf("all offices = %+v", got)
	}
	b.get(t, "/temp-staffing-de/v1/departments", url.Values{"PageSize": {"101"}}).problem(t, http.StatusBadRequest)
	if zvoovefake.OfficeName(11) != "Berlin Mitte 2" {
		t.Fatalf("OfficeName(11) = %q", zvoovefake.OfficeName(11))
	}
}

type listEntry struct {
	CandidateID int       `json:"candidateId"`
	Name        string    `json:"name"`
	Status      string    `json:"status"`
	OfficeID    int       `json:"officeId"`
	EntryDate   time.Time `json:"entryDate"`
}

// The computed candidates list equals a brute-force filter of the data set.
func TestCandidatesListMatchesBruteForce(t *testing.T) {
	t.Parallel()
	b := setup(t, small())
	days := []string{"", "2026-01-01", "2026-01-06", "2026-01-22", "2030-01-01"}
	for _, offices := range [][]int{{1}, {2, 4}, {4, 2, 2}, {1, 2, 3, 4}, {3, 99}, {99}} {
		for _, day := range days {
			var want []int
			for i := range b.data.Size {
				p := b.data.Person(i)
				if !slices.Contains(offices, zvoovefake.OfficeID(p.Group)) {
					continue
				}
				if day != "" {
					d, _ := time.Parse(time.DateOnly, day)
					if p.CreatedAt.Before(d) {
						continue
					}
				}
				want = append(want, i)
			}
			var got []int
			for page := 1; ; page++ {
				q := url.Values{"PageNumber": {strconv.Itoa(page)}, "PageSize": {"7"}}
				for _, o := range offices {
					q.Add("OfficeIds", strconv.Itoa(o))
				}
				if day != "" {
					q.Set("CreatedAfter", day)
				}
				var es []listEntry
				b.get(t, "/temp-staffing-de/v1/candidates", q).decode(t, &es)
				for _, e := range es {
					i, ok := b.data.IndexOf(strconv.Itoa(e.CandidateID))
					p := b.data.Person(i)
					if !ok || e.Name != p.FirstName+" "+p.LastName || e.OfficeID != zvoovefake.OfficeID(p.Group) ||
						!e.EntryDate.Equal(p.CreatedAt) || e.Status != "Applicant" {
						t.Fatalf("entry %+v does not match person %d", e, i)
					}
					got = append(got, i)
				}
				if len(es) < 7 {
					break
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("offices %v since %q: got %v, want %v", offices, day, got, want)
			}
		}
	}
	for _, q := range []url.Values{
		{},
		{"OfficeIds": {"x"}},
		{"OfficeIds": {"1"}, "CreatedAfter": {"yesterday"}},
		{"OfficeIds": {"1"}, "PageNumber": {"0"}},
	} {
		b.get(t, "/temp-staffing-de/v1/candidates", q).problem(t, http.StatusBadRequest)
	}
}

type changelog struct {
	Metadata struct {
		PageNumber, PageSize, TotalPages, TotalRecords int
	}
	Data []struct {
		ID           int       `json:"id"`
		CandidateID  int       `json:"candidateId"`
		Status       string    `json:"status"`
		LastEditDate time.Time `json:"lastEditDate"`
	}
}

func TestChangelog(t *testing.T) {
	t.Parallel()
	b := setup(t, small())
	d := b.data
	read := func(t *testing.T, q url.Values) (ids []int, total int) {
		t.Helper()
		for page := 1; ; page++ {
			q.Set("PageNumber", strconv.Itoa(page))
			q.Set("PageSize", "20")
			var c changelog
			b.get(t, "/temp-staffing-de/v2/candidates/changelog", q).decode(t, &c)
			for _, e := range c.Data {
				i, ok := d.IndexOf(strconv.Itoa(e.CandidateID))
				if !ok || e.ID != i+1 || e.Status != zvoovefake.EntryStatus(i) || !e.LastEditDate.Equal(d.UpdatedAt(i)) {
					t.Fatalf("entry %+v does not match person %d", e, i)
				}
				ids = append(ids, i)
			}
			if c.Metadata.PageNumber != page || c.Metadata.PageSize != 20 || c.Metadata.TotalPages != (c.Metadata.TotalRecords+19)/20 {
				t.Fatalf("metadata %+v", c.Metadata)
			}
			if page >= c.Metadata.TotalPages {
				return ids, c.Metadata.TotalRecords
			}
		}
	}
	span := func(lo, hi int) []int {
		var out []int
		for i := lo; i < hi; i++ {
			out = append(out, i)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    url.Values
		want []int
	}{
		{"everything", url.Values{"OnlyLatestPerCandidate": {"true"}}, span(0, d.Size)},
		{"from, inclusive", url.Values{"From": {d.UpdatedAt(40).Format(time.RFC3339)}}, span(40, d.Size)},
		{"from and to, inclusive", url.Values{"From": {d.UpdatedAt(40).Add(time.Second).Format(time.RFC3339)}, "To": {d.UpdatedAt(77).Format(time.RFC3339)}}, span(41, 78)},
		{"local time", url.Values{"From": {d.UpdatedAt(40).Format("2006-01-02T15:04:05")}}, span(40, d.Size)},
		{"last id", url.Values{"LastId": {"90"}}, span(90, d.Size)},
		{"empty window", url.Values{"From": {d.UpdatedAt(80).Format(time.RFC3339)}, "To": {d.UpdatedAt(10).Format(time.RFC3339)}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, total := read(t, tc.q)
			if !slices.Equal(got, tc.want) || total != len(tc.want) {
				t.Fatalf("got %v (total %d), want %v", got, total, tc.want)
			}
		})
	}
	t.Run("a few removed candidates", func(t *testing.T) {
		t.Parallel()
		seen := map[string]int{}
		for i := range 1000 {
			seen[zvoovefake.EntryStatus(i)]++
		}
		for _, s := range []string{zvoovefake.StatusInserted, zvoovefake.StatusUpdated, zvoovefake.StatusDeleted, zvoovefake.StatusAnonymized, zvoovefake.StatusRemoved} {
			if seen[s] == 0 {
				t.Fatalf("no %s entry in the first 1000: %v", s, seen)
			}
		}
	})
	t.Run("page size above 20 is refused", func(t *testing.T) {
		t.Parallel()
		b.get(t, "/temp-staffing-de/v2/candidates/changelog", url.Values{"PageSize": {"21"}}).problem(t, http.StatusBadRequest)
		b.get(t, "/temp-staffing-de/v2/candidates/changelog", url.Values{"From": {"soon"}}).problem(t, http.StatusBadRequest)
	})
}

type detail struct {
	ID            int    `json:"id"`
	CandidateGUID string `json:"candidateGuid"`
	OfficeID      int    `json:"officeId"`
	FirstName     string `json:"firstName"`
	LastName      string `json:"lastName"`
	Email         string `json:"email"`
	Address       struct {
		Phone1 *string `json:"phone1"`
		Phone2 *string `json:"phone2"`
	} `json:"address"`
}

func TestCandidateDetail(t *testing.T) {
	t.Parallel()
	b := setup(t, small())
	for i := range b.data.Size {
		p := b.data.Person(i)
		var d detail
		b.get(t, "/temp-staffing-de/v2/candidates/"+p.ID, nil).decode(t, &d)
		var phones []string
		for _, ph := range []*string{d.Address.Phone1, d.Address.Phone2} {
			if ph != nil {
				phones = append(phones, *ph)
			}
		}
		if strconv.Itoa(d.ID) != p.ID || d.FirstName != p.FirstName || d.LastName != p.LastName || d.Email != p.Email ||
			d.OfficeID != zvoovefake.OfficeID(p.Group) || d.CandidateGUID != zvoovefake.CandidateGUID(b.data, i) ||
			!slices.Equal(phones, p.Phones) {
			t.Fatalf("detail %+v (phones %q) does not match person %+v", d, phones, p)
		}
	}
	b.get(t, "/temp-staffing-de/v2/candidates/42", nil).problem(t, http.StatusNotFound)
	b.get(t, "/temp-staffing-de/v2/candidates/abc", nil).problem(t, http.StatusNotFound)
}

// A million people cost no more than a hundred: every answer is computed
// for the page asked.
func TestMillionPeople(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Dataset{Seed: 1, Size: 1_000_000, Groups: 7})
	var es []listEntry
	q := url.Values{"OfficeIds": {"3", "6"}, "PageSize": {"100"}, "PageNumber": {"2858"}} // 2/7 of 1M = 285,714 entries
	b.get(t, "/temp-staffing-de/v1/candidates", q).decode(t, &es)
	if len(es) != 14 || es[13].CandidateID != 100000+999_997 {
		t.Fatalf("last page: %d entries, last %+v", len(es), es[len(es)-1])
	}
	var c changelog
	q = url.Values{"From": {b.data.UpdatedAt(999_990).Format(time.RFC3339)}, "PageSize": {"20"}}
	b.get(t, "/temp-staffing-de/v2/candidates/changelog", q).decode(t, &c)
	if c.Metadata.TotalRecords != 10 || len(c.Data) != 10 || c.Data[9].CandidateID != 100000+999_999 {
		t.Fatalf("changelog tail %+v", c)
	}
	var d detail
	b.get(t, "/temp-staffing-de/v2/candidates/"+b.data.ExternalID(999_999), nil).decode(t, &d)
	if d.ID != 100000+999_999 {
		t.Fatalf("detail %+v", d)
	}
}

func TestContactsAreIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t, small())
	id := b.data.ExternalID(3)
	h := b.auth()
	h.Set("Content-Type", "application/json")
	h.Set("Idempotency-Key", "k1")
	path := "/temp-staffing-de/v1/candidates/" + id + "/contacts"
	first := b.do(t, http.MethodPost, path, nil, h, `{"subject":"Call","content":"answered"}`)
	again := b.do(t, http.MethodPost, path, nil, h, `{"subject":"Call","content":"answered"}`)
	if first.status != http.StatusCreated || again.status != http.StatusCreated || string(first.body) != string(again.body) {
		t.Fatalf("answers %d %s / %d %s", first.status, first.body, again.status, again.body)
	}
	if n := len(b.fake.Contacts(id)); n != 1 {
		t.Fatalf("%d contacts, want 1", n)
	}
	if e := b.fake.Writes.Effects(); e["k1"] != 1 || len(b.fake.Writes.Writes()) != 2 {
		t.Fatalf("effects %v, writes %d", e, len(b.fake.Writes.Writes()))
	}
	b.do(t, http.MethodPost, path, nil, b.auth(), `not json`).problem(t, http.StatusBadRequest)
	b.do(t, http.MethodPost, "/temp-staffing-de/v1/candidates/7/contacts", nil, b.auth(), `{}`).problem(t, http.StatusNotFound)
}

func TestErrorsAreProblemDetails(t *testing.T) {
	t.Parallel()
	b := setup(t, small())
	b.get(t, "/temp-staffing-de/v9/nothing", nil).problem(t, http.StatusNotFound)
	b.fake.Faults.Next(sandbox.ServerError, sandbox.RateLimit)
	b.get(t, "/temp-staffing-de/v1/departments", nil).problem(t, http.StatusInternalServerError)
	r := b.get(t, "/temp-staffing-de/v1/departments", nil)
	r.problem(t, http.StatusTooManyRequests)
	if r.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	if c := b.fake.Credentials(b.url); c["baseURL"] != b.url || c["mandantID"] == "" || c["apiKey"] == "" || len(c) != 3 {
		t.Fatalf("credentials %v", c)
	}
}
