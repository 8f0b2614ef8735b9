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
	return setupWith(t, zvoovefake.Config{Dataset: data})
}

// setupWith serves a fake of cfg, whose clock is b.now.
func setupWith(t *testing.T, cfg zvoovefake.Config) *bundle {
	t.Helper()
	b := &bundle{data: cfg.Dataset, now: &atomic.Int64{}}
	b.now.Store(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	cfg.Now = func() time.Time { return time.Unix(0, b.now.Load()) }
	b.fake = zvoovefake.New(cfg)
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
		Errors              map[string][]string
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

// invalid checks that r is an ASP.NET validation problem naming field.
func (r response) invalid(t *testing.T, field string) {
	t.Helper()
	r.problem(t, http.StatusBadRequest)
	var p struct {
		Title  string
		Errors map[string][]string
	}
	r.decode(t, &p)
	if p.Title != "One or more validation errors occurred." || len(p.Errors[field]) == 0 || p.Errors[field][0] == "" {
		t.Fatalf("validation problem %s, want errors.%s", r.body, field)
	}
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
		for page := 0; ; page++ {
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
	b.get(t, "/temp-staffing-de/v1/departments", url.Values{"PageSize": {"101"}}).invalid(t, "PageSize")
	b.get(t, "/temp-staffing-de/v1/departments", url.Values{"PageNumber": {"-1"}}).invalid(t, "PageNumber")
	b.get(t, "/temp-staffing-de/v1/departments", url.Values{"Active": {"maybe"}}).invalid(t, "Active")
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
			for page := 0; ; page++ {
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
	for field, q := range map[string]url.Values{
		"OfficeIds":    {},
		"OfficeIds ":   {"OfficeIds": {"x"}},
		"CreatedAfter": {"OfficeIds": {"1"}, "CreatedAfter": {"yesterday"}},
		"PageNumber":   {"OfficeIds": {"1"}, "PageNumber": {"-1"}},
	} {
		b.get(t, "/temp-staffing-de/v1/candidates", q).invalid(t, strings.TrimSpace(field))
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
		for page := 0; ; page++ {
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
			if page+1 >= c.Metadata.TotalPages {
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
	t.Run("bad parameters are validation problems", func(t *testing.T) {
		t.Parallel()
		for field, q := range map[string]url.Values{
			"PageSize":               {"PageSize": {"21"}},
			"PageNumber":             {"PageNumber": {"-1"}},
			"From":                   {"From": {"soon"}},
			"To":                     {"To": {"later"}},
			"LastId":                 {"LastId": {"x"}},
			"OnlyLatestPerCandidate": {"OnlyLatestPerCandidate": {"yes"}},
		} {
			b.get(t, "/temp-staffing-de/v2/candidates/changelog", q).invalid(t, field)
		}
	})
	t.Run("LastId and From/To are either/or", func(t *testing.T) {
		t.Parallel()
		from := d.UpdatedAt(40).Format(time.RFC3339)
		b.get(t, "/temp-staffing-de/v2/candidates/changelog", url.Values{"LastId": {"5"}, "From": {from}}).invalid(t, "LastId")
		b.get(t, "/temp-staffing-de/v2/candidates/changelog", url.Values{"LastId": {"5"}, "To": {from}}).invalid(t, "LastId")
	})
}

type detail struct {
	ID            int     `json:"id"`
	CandidateGUID string  `json:"candidateGuid"`
	OfficeID      int     `json:"officeId"`
	FirstName     string  `json:"firstName"`
	LastName      string  `json:"lastName"`
	Email         string  `json:"email"`
	Profession    *string `json:"profession"`
	Address       struct {
		CityName    *string `json:"cityName"`
		CountryCode *string `json:"countryCode"`
		Phone1      *string `json:"phone1"`
		Phone2      *string `json:"phone2"`
	} `json:"address"`
}

// str reads a nullable string: "" for null, "<empty>" for an empty string,
// which the fake never sends.
func str(v *string) string {
	switch {
	case v == nil:
		return ""
	case *v == "":
		return "<empty>"
	}
	return *v
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
		if str(d.Profession) != p.Profession || str(d.Address.CityName) != p.City || str(d.Address.CountryCode) != p.Country {
			t.Fatalf("detail %d: profession %q, city %q, country %q; want %q, %q, %q", i,
				str(d.Profession), str(d.Address.CityName), str(d.Address.CountryCode), p.Profession, p.City, p.Country)
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
	b.now.Store(b.data.UpdatedAt(b.data.Size - 1).UnixNano()) // every change made
	var es []listEntry
	q := url.Values{"OfficeIds": {"3", "6"}, "PageSize": {"100"}, "PageNumber": {"2857"}} // 2/7 of 1M = 285,714 entries: the last page of base 0
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

// zvoove documents no idempotency: the same note sent twice is two notes.
func TestContactsAreNotDeduplicated(t *testing.T) {
	t.Parallel()
	b := setup(t, small())
	id := b.data.ExternalID(3)
	h := b.auth()
	h.Set("Content-Type", "application/json")
	h.Set("Idempotency-Key", "k1")
	path := "/temp-staffing-de/v1/candidates/" + id + "/contacts"
	first := b.do(t, http.MethodPost, path, nil, h, `{"subject":"Call","content":"answered"}`)
	again := b.do(t, http.MethodPost, path, nil, h, `{"subject":"Call","content":"answered"}`)
	if first.status != http.StatusCreated || again.status != http.StatusCreated || string(first.body) == string(again.body) {
		t.Fatalf("answers %d %s / %d %s, want two notes", first.status, first.body, again.status, again.body)
	}
	if n := len(b.fake.Contacts(id)); n != 2 {
		t.Fatalf("%d contacts, want 2", n)
	}
	if w := b.fake.Writes.Applied(); len(w) != 2 || w[0].IdempotencyKey != "k1" {
		t.Fatalf("applied writes %+v", w)
	}
	b.fake.Contract.Verify(t) // what follows breaks the contract on purpose
	b.do(t, http.MethodPost, path, nil, b.auth(), `not json`).problem(t, http.StatusBadRequest)
	b.do(t, http.MethodPost, "/temp-staffing-de/v1/candidates/7/contacts", nil, b.auth(), `{}`).problem(t, http.StatusNotFound)
}

// A lost answer: the note is stored, the client sees the connection fail.
func TestContactLostAnswer(t *testing.T) {
	t.Parallel()
	b := setup(t, small())
	id := b.data.ExternalID(4)
	b.fake.Faults.Next(sandbox.LostAnswer)
	req, err := http.NewRequest(http.MethodPost, b.url+"/temp-staffing-de/v1/candidates/"+id+"/contacts", strings.NewReader(`{"subject":"Call"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = b.auth()
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("status %d, want a connection error", resp.StatusCode)
	}
	if n := len(b.fake.Contacts(id)); n != 1 {
		t.Fatalf("%d contacts, want the note stored", n)
	}
	if w := b.fake.Writes.Applied(); len(w) != 1 || w[0].Status != http.StatusCreated {
		t.Fatalf("applied writes %+v", w)
	}
	b.fake.Contract.Verify(t)
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

// modes are the readings of what the documents leave open.
var modes = []struct {
	name string
	cfg  zvoovefake.Config
}{
	{"base 0", zvoovefake.Config{}},
	{"base 1", zvoovefake.Config{PageBase: 1}},
	{"base 0 unpaged lists", zvoovefake.Config{UnpagedLists: true}},
	{"base 1 unpaged lists on-prem", zvoovefake.Config{PageBase: 1, UnpagedLists: true, OnPrem: true}},
}

func TestPagingModes(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			cfg := m.cfg
			cfg.Dataset = sandbox.Dataset{Seed: 5, Size: 50, Groups: 25, Step: time.Hour}
			b := setupWith(t, cfg)
			base := cfg.PageBase
			ids := func(q url.Values) []int {
				var ds []department
				b.get(t, "/temp-staffing-de/v1/departments", q).decode(t, &ds)
				var out []int
				for _, d := range ds {
					out = append(out, d.ID)
				}
				return out
			}
			span := func(lo, hi int) []int {
				var out []int
				for id := lo; id <= hi; id++ {
					out = append(out, id)
				}
				return out
			}
			first := ids(url.Values{"Active": {"true"}, "PageSize": {"10"}})
			second := ids(url.Values{"Active": {"true"}, "PageSize": {"10"}, "PageNumber": {strconv.Itoa(base + 1)}})
			if cfg.UnpagedLists {
				if !slices.Equal(first, span(1, 25)) || !slices.Equal(second, first) {
					t.Fatalf("unpaged departments: %v then %v, want all 25 both times", first, second)
				}
			} else {
				if !slices.Equal(first, span(1, 10)) || !slices.Equal(second, span(11, 20)) {
					t.Fatalf("departments pages %v, %v", first, second)
				}
				if got := ids(url.Values{"Active": {"true"}, "PageNumber": {strconv.Itoa(base)}}); !slices.Equal(got, span(1, zvoovefake.DefaultPageSize)) {
					t.Fatalf("default page size: %v", got)
				}
				if base == 1 {
					b.get(t, "/temp-staffing-de/v1/departments", url.Values{"PageNumber": {"0"}}).invalid(t, "PageNumber")
				}
				var es []listEntry
				b.get(t, "/temp-staffing-de/v1/candidates", url.Values{"OfficeIds": {"1", "2"}, "PageSize": {"3"}, "PageNumber": {strconv.Itoa(base + 1)}}).decode(t, &es)
				if len(es) != 1 || es[0].CandidateID != candidateID(b.data, 26) {
					t.Fatalf("candidates second page %+v, want person 26 alone", es)
				}
			}

			// The change log always pages; metadata.pageNumber is in the base.
			maxSize := 20
			if cfg.OnPrem {
				maxSize = 10
			}
			var c changelog
			b.get(t, "/temp-staffing-de/v2/candidates/changelog", url.Values{"PageSize": {strconv.Itoa(maxSize)}}).decode(t, &c)
			if c.Metadata.PageNumber != base || c.Metadata.PageSize != maxSize || len(c.Data) != maxSize || c.Data[0].ID != 1 || c.Metadata.TotalRecords != 50 {
				t.Fatalf("first change-log page: %+v", c.Metadata)
			}
			b.get(t, "/temp-staffing-de/v2/candidates/changelog", url.Values{"PageSize": {strconv.Itoa(maxSize)}, "PageNumber": {strconv.Itoa(base + 1)}}).decode(t, &c)
			if c.Metadata.PageNumber != base+1 || c.Data[0].ID != maxSize+1 {
				t.Fatalf("second change-log page: %+v, first id %d", c.Metadata, c.Data[0].ID)
			}
			r := b.get(t, "/temp-staffing-de/v2/candidates/changelog", url.Values{"PageSize": {strconv.Itoa(maxSize + 1)}})
			r.invalid(t, "PageSize")
			if !strings.Contains(string(r.body), strconv.Itoa(maxSize)) {
				t.Fatalf("the PageSize problem does not state the maximum %d: %s", maxSize, r.body)
			}
		})
	}
}

func candidateID(d sandbox.Dataset, i int) int {
	n, _ := strconv.Atoi(d.ExternalID(i))
	return n
}

// Touch appends a change with a fresh id; with OnlyLatestPerCandidate the
// candidate's older change disappears, without it both are listed.
func TestTouch(t *testing.T) {
	t.Parallel()
	b := setup(t, small())
	d := b.data
	entries := func(q url.Values) (ids, people []int) {
		t.Helper()
		for page := 0; ; page++ {
			q.Set("PageNumber", strconv.Itoa(page))
			var c changelog
			b.get(t, "/temp-staffing-de/v2/candidates/changelog", q).decode(t, &c)
			for _, e := range c.Data {
				i, _ := d.IndexOf(strconv.Itoa(e.CandidateID))
				ids, people = append(ids, e.ID), append(people, i)
			}
			if len(c.Data) == 0 {
				if len(ids) != c.Metadata.TotalRecords {
					t.Fatalf("%d entries, metadata says %d", len(ids), c.Metadata.TotalRecords)
				}
				return ids, people
			}
		}
	}
	b.fake.Touch(10)
	b.fake.Touch(50)
	b.fake.Touch(10)
	ids, people := entries(url.Values{"OnlyLatestPerCandidate": {"true"}, "LastId": {"5"}})
	if !slices.IsSorted(ids) || len(ids) != d.Size-5-2+2 || ids[len(ids)-1] != d.Size+3 || people[len(people)-2] != 50 || people[len(people)-1] != 10 {
		t.Fatalf("latest only: ids %v people %v", ids, people)
	}
	if slices.Contains(ids, 11) || slices.Contains(ids, 51) || slices.Contains(ids, d.Size+1) {
		t.Fatalf("superseded entries listed: %v", ids)
	}
	all, _ := entries(url.Values{"LastId": {"5"}})
	if len(all) != d.Size-5+3 || !slices.IsSorted(all) {
		t.Fatalf("every change: %v", all)
	}
	// A window that ends before the touches shows the original change.
	to := d.UpdatedAt(20).Format(time.RFC3339)
	_, people = entries(url.Values{"OnlyLatestPerCandidate": {"true"}, "To": {to}})
	if !slices.Contains(people, 10) || len(people) != 21 {
		t.Fatalf("window before the touches: %v", people)
	}
	b.fake.Contract.Verify(t)
}

// Every endpoint the fake serves is in the contract, and the fake's own
// answers keep to it.
func TestContract(t *testing.T) {
	t.Parallel()
	b := setup(t, small())
	spec := b.fake.Contract.Spec()
	for _, e := range spec.Endpoints {
		if e.Source == "" {
			t.Errorf("%s %s has no source", e.Method, e.Path)
		}
	}
	id := b.data.ExternalID(1)
	h := b.auth()
	h.Set("Content-Type", "application/json")
	b.get(t, "/temp-staffing-de/v1/departments", url.Values{"Active": {"true"}, "PageSize": {"2"}})
	b.get(t, "/temp-staffing-de/v1/candidates", url.Values{"OfficeIds": {"1", "2"}, "CreatedAfter": {"2026-01-01"}})
	b.get(t, "/temp-staffing-de/v2/candidates/changelog", url.Values{"OnlyLatestPerCandidate": {"true"}, "LastId": {"3"}, "PageSize": {"20"}})
	b.get(t, "/temp-staffing-de/v2/candidates/"+id, nil)
	b.do(t, http.MethodPost, "/temp-staffing-de/v1/candidates/"+id+"/contacts", nil, h, `{"subject":"Call","content":"answered"}`)
	b.do(t, http.MethodPost, zvoovefake.TokenPath, nil, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
		url.Values{"grant_type": {"client_credentials"}, "scope": {"api_gateway"}, "client_id": {zvoovefake.DefaultClientID}, "client_secret": {zvoovefake.DefaultClientSecret}}.Encode())
	b.fake.Faults.Next(sandbox.RateLimit)
	b.get(t, "/temp-staffing-de/v1/departments", nil)
	b.fake.Contract.Verify(t)
	if n := b.fake.Contract.Checked(); n != 7 {
		t.Fatalf("%d requests checked, want 7", n)
	}
	// A request beyond the documented bounds is caught.
	b.get(t, "/temp-staffing-de/v2/candidates/changelog", url.Values{"PageSize": {"21"}})
	if v := b.fake.Contract.Violations(); len(v) != 1 || !strings.Contains(v[0], "PageSize") {
		t.Fatalf("violations %q, want the PageSize above 20", v)
	}
}
