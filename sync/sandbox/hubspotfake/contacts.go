package hubspotfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/intake/intake/sync/sandbox"
)

// contactJSON is a contact as HubSpot returns it.
type contactJSON struct {
	ID         string             `json:"id"`
	Properties map[string]*string `json:"properties"`
	CreatedAt  string             `json:"createdAt"`
	UpdatedAt  string             `json:"updatedAt"`
	Archived   bool               `json:"archived"`
	ArchivedAt string             `json:"archivedAt,omitempty"`
}

type nextPage struct {
	After string `json:"after"`
}

type paging struct {
	Next *nextPage `json:"next,omitempty"`
}

// pagingAt returns the paging of a page followed by offset after, or nil.
func pagingAt(after int, more bool) *paging {
	if !more {
		return nil
	}
	return &paging{Next: &nextPage{After: strconv.Itoa(after)}}
}

type contactPage struct {
	Total   *int          `json:"total,omitempty"`
	Results []contactJSON `json:"results"`
	Paging  *paging       `json:"paging,omitempty"`
}

// defaultProperties are returned when a request names none.
var defaultProperties = []string{"firstname", "lastname", "email"}

// alwaysProperties are returned with every contact.
var alwaysProperties = []string{"createdate", "lastmodifieddate", "hs_object_id"}

// contact renders person i with the requested properties and the ones
// HubSpot always returns, and no others; unknown properties are left out,
// known ones without a value are null, as HubSpot does.
func (s *Server) contact(i int, props []string) contactJSON {
	p := s.data.Person(i)
	if len(props) == 0 {
		props = defaultProperties
	}
	c := contactJSON{
		ID:         p.ID,
		Properties: map[string]*string{},
		CreatedAt:  formatTime(p.CreatedAt),
		UpdatedAt:  formatTime(p.UpdatedAt),
	}
	for _, name := range slices.Concat(props, alwaysProperties) {
		if v, known := s.property(p, name); known {
			c.Properties[name] = v
		}
	}
	return c
}

// property is one property of a contact; nil when it is empty.
func (s *Server) property(p sandbox.Person, name string) (*string, bool) {
	str := func(v string) (*string, bool) {
		if v == "" {
			return nil, true
		}
		return &v, true
	}
	switch name {
	case "firstname":
		return str(p.FirstName)
	case "lastname":
		return str(p.LastName)
	case "email":
		return str(p.Email)
	case "mobilephone":
		mobile, _ := splitPhones(p)
		return str(mobile)
	case "phone":
		_, phone := splitPhones(p)
		return str(phone)
	case "createdate":
		return str(formatTime(p.CreatedAt))
	case "lastmodifieddate", "hs_lastmodifieddate":
		return str(formatTime(p.UpdatedAt))
	case "hs_object_id":
		return str(p.ID)
	case "hs_lead_status":
		return str(s.LeadStatus(p.ID))
	case "jobtitle":
		return str(p.Profession)
	case "company":
		return str(p.Company)
	case "industry":
		return str(p.Industry)
	case "lifecyclestage":
		return str(p.LifecycleStage)
	case "city":
		return str(p.City)
	case "country":
		return str(p.CountryName)
	}
	return nil, false
}

// splitPhones puts a person's phones into HubSpot's two phone properties,
// keeping their order of preference: mobilephone first.
func splitPhones(p sandbox.Person) (mobile, phone string) {
	switch len(p.Phones) {
	case 0:
	case 1:
		if p.Index%3 == 0 {
			phone = p.Phones[0]
		} else {
			mobile = p.Phones[0]
		}
	default:
		mobile, phone = p.Phones[0], p.Phones[1]
	}
	return mobile, phone
}

// queryProperties reads the properties query parameter (repeated or
// comma-separated).
func queryProperties(q url.Values) []string {
	var out []string
	for _, v := range q["properties"] {
		out = append(out, splitList(v)...)
	}
	return out
}

// intParam reads an integer parameter in [lo, hi]; "" means def.
func intParam(s string, def, lo, hi int, name string) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s must be a whole number between %d and %d", name, lo, hi)
	}
	return n, nil
}

// GET /crm/v3/objects/contacts
func (s *Server) listContacts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := intParam(q.Get("limit"), 10, 1, 100, "limit")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	after, err := intParam(q.Get("after"), 0, 0, 1<<31-1, "after")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	props := queryProperties(q)
	page := contactPage{Results: []contactJSON{}}
	if q.Get("archived") == "true" {
		idx, at, more := s.archivedPage(after, limit)
		for k, i := range idx {
			c := s.contact(i, props)
			c.Archived, c.ArchivedAt = true, formatTime(at[k])
			page.Results = append(page.Results, c)
		}
		page.Paging = pagingAt(after+len(idx), more)
		sandbox.WriteJSON(w, http.StatusOK, page)
		return
	}
	// after is the position among the live contacts, in index order.
	live := s.data.Size - s.archivedIn(0, s.data.Size)
	end := min(after+limit, live)
	page.Paging = pagingAt(end, end < live)
	for k := after; k < end; k++ {
		page.Results = append(page.Results, s.contact(s.liveAt(0, s.data.Size, k, false), props))
	}
	sandbox.WriteJSON(w, http.StatusOK, page)
}

// GET /crm/v3/objects/contacts/{id}
func (s *Server) getContact(w http.ResponseWriter, r *http.Request) {
	i, ok := s.data.IndexOf(r.PathValue("id"))
	at, archived := s.isArchived(i)
	if !ok || archived != (r.URL.Query().Get("archived") == "true") {
		writeError(w, http.StatusNotFound, "resource not found")
		return
	}
	c := s.contact(i, queryProperties(r.URL.Query()))
	if archived {
		c.Archived, c.ArchivedAt = true, formatTime(at)
	}
	sandbox.WriteJSON(w, http.StatusOK, c)
}

// PATCH /crm/v3/objects/contacts/{id}: only hs_lead_status can change.
func (s *Server) updateContact(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	a := s.Writes.Apply(r, body, func() sandbox.Answer { return s.applyUpdate(id, body) })
	sandbox.WriteJSON(w, a.Status, a.Body)
}

func (s *Server) applyUpdate(id string, body []byte) sandbox.Answer {
	fail := func(status int, msg string) sandbox.Answer {
		return sandbox.Answer{Status: status, Body: newError(status, msg)}
	}
	i, ok := s.data.IndexOf(id)
	if !ok {
		return fail(http.StatusNotFound, "resource not found")
	}
	var req struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return fail(http.StatusBadRequest, "Invalid input JSON: "+err.Error())
	}
	if len(req.Properties) == 0 {
		return fail(http.StatusBadRequest, "No properties to update were given.")
	}
	var status string
	for name, raw := range req.Properties {
		if name != "hs_lead_status" {
			return fail(http.StatusBadRequest, fmt.Sprintf("Property %q cannot be updated in the sandbox: only hs_lead_status can.", name))
		}
		if err := json.Unmarshal(raw, &status); err != nil {
			return fail(http.StatusBadRequest, "Property hs_lead_status must be a string.")
		}
		if status != "" && !slices.Contains(LeadStatuses, status) {
			return sandbox.Answer{Status: http.StatusBadRequest, Body: invalidOption("hs_lead_status", status, LeadStatuses)}
		}
	}
	s.mu.Lock()
	if status == "" {
		delete(s.leadStatus, id)
	} else {
		s.leadStatus[id] = status
	}
	s.mu.Unlock()
	return sandbox.Answer{Status: http.StatusOK, Body: s.contact(i, []string{"hs_lead_status"})}
}

// invalidOption is HubSpot's answer to an enumeration value it lacks.
func invalidOption(property, value string, options []string) apiError {
	detail, _ := json.Marshal([]map[string]any{{
		"isValid": false,
		"message": fmt.Sprintf("%s was not one of the allowed options: [%s]", value, strings.Join(options, ", ")),
		"error":   "INVALID_OPTION",
		"name":    property,
	}})
	return newError(http.StatusBadRequest, "Property values were not valid: "+string(detail))
}

type searchRequest struct {
	FilterGroups []struct {
		Filters []searchFilter `json:"filters"`
	} `json:"filterGroups"`
	Sorts      []searchSort    `json:"sorts"`
	Properties []string        `json:"properties"`
	Limit      int             `json:"limit"`
	After      json.RawMessage `json:"after"`
	Query      string          `json:"query"`
}

type searchFilter struct {
	PropertyName string          `json:"propertyName"`
	Operator     string          `json:"operator"`
	Value        json.RawMessage `json:"value"`
}

type searchSort struct {
	PropertyName string `json:"propertyName"`
	Direction    string `json:"direction"`
}

// POST /crm/v3/objects/contacts/search. Contacts are ordered by index,
// which is the order of createdate, lastmodifieddate and hs_object_id
// alike, so every filter and sort the sandbox supports selects a range of
// indexes.
func (s *Server) searchContacts(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var req searchRequest
	if !decodeBody(w, body, &req) {
		return
	}
	lo, hi, desc, err := s.searchRange(req)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	limit := req.Limit
	if limit == 0 {
		limit = 10
	}
	if limit < 0 || limit > MaxSearchLimit {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("limit must be between 1 and %d", MaxSearchLimit))
		return
	}
	after, err := parseAfter(req.After)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if after >= SearchResultCap {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Search results are limited to %d per query: after=%d is out of range.", SearchResultCap, after))
		return
	}
	total := max(hi-lo, 0)
	if total > 0 {
		total -= s.archivedIn(lo, hi) // the search finds no archived contact
	}
	end := min(after+limit, total, SearchResultCap)
	page := contactPage{Total: &total, Results: []contactJSON{}, Paging: pagingAt(end, end < total)}
	for k := after; k < end; k++ {
		page.Results = append(page.Results, s.contact(s.liveAt(lo, hi, k, desc), req.Properties))
	}
	sandbox.WriteJSON(w, http.StatusOK, page)
}

func (s *Server) searchRange(req searchRequest) (lo, hi int, desc bool, err error) {
	if req.Query != "" {
		return 0, 0, false, errors.New("full-text query is not supported by the sandbox")
	}
	if len(req.FilterGroups) > 1 {
		return 0, 0, false, errors.New("only one filter group is supported by the sandbox")
	}
	lo, hi = 0, s.data.Size
	for _, g := range req.FilterGroups {
		for _, f := range g.Filters {
			l, h, err := s.filterRange(f)
			if err != nil {
				return 0, 0, false, err
			}
			lo, hi = max(lo, l), min(hi, h)
		}
	}
	if len(req.Sorts) > 1 {
		return 0, 0, false, errors.New("only one sort is supported")
	}
	for _, so := range req.Sorts {
		switch so.PropertyName {
		case "createdate", "lastmodifieddate", "hs_lastmodifieddate", "hs_object_id":
		default:
			return 0, 0, false, fmt.Errorf("sorting by %q is not supported by the sandbox", so.PropertyName)
		}
		switch so.Direction {
		case "", "ASCENDING":
		case "DESCENDING":
			desc = true
		default:
			return 0, 0, false, fmt.Errorf("sort direction %q is not one of ASCENDING, DESCENDING", so.Direction)
		}
	}
	return lo, hi, desc, nil
}

// filterRange is the range of indexes a date filter selects. HubSpot
// compares datetimes in milliseconds.
func (s *Server) filterRange(f searchFilter) (lo, hi int, err error) {
	var first func(time.Time) int
	switch f.PropertyName {
	case "createdate":
		first = s.data.FirstCreatedAtOrAfter
	case "lastmodifieddate", "hs_lastmodifieddate":
		first = s.data.FirstUpdatedAtOrAfter
	default:
		return 0, 0, fmt.Errorf("filtering by %q is not supported by the sandbox", f.PropertyName)
	}
	ms, err := parseMillis(f.Value)
	if err != nil {
		return 0, 0, fmt.Errorf("filter on %s: %w", f.PropertyName, err)
	}
	at := func(ms int64) int { return first(time.UnixMilli(ms)) }
	all := s.data.Size
	switch f.Operator {
	case "GTE":
		return at(ms), all, nil
	case "GT":
		return at(ms + 1), all, nil
	case "LT":
		return 0, at(ms), nil
	case "LTE":
		return 0, at(ms + 1), nil
	case "EQ":
		return at(ms), at(ms + 1), nil
	}
	return 0, 0, fmt.Errorf("operator %q is not supported by the sandbox", f.Operator)
}

// maxMillis bounds date filter values to dates HubSpot can hold.
const maxMillis = 1 << 50

// parseMillis reads a datetime filter value: milliseconds since the epoch
// (as a string or number) or an ISO 8601 datetime.
func parseMillis(raw json.RawMessage) (int64, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		s = string(raw)
	}
	return millis(s)
}

// millis reads a datetime as HubSpot takes it: milliseconds since the
// epoch or ISO 8601.
func millis(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < -maxMillis || n > maxMillis {
			return 0, fmt.Errorf("value %d is out of range", n)
		}
		return n, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UnixMilli(), nil
	}
	return 0, fmt.Errorf("value %.40q is not a datetime", s)
}

// parseAfter reads a search's after: a string or number offset.
func parseAfter(raw json.RawMessage) (int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		s = string(raw)
	}
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("after %.40q is not a valid paging token", s)
	}
	return n, nil
}

type batchReadRequest struct {
	Inputs []struct {
		ID string `json:"id"`
	} `json:"inputs"`
	Properties []string `json:"properties"`
	IDProperty string   `json:"idProperty"`
}

// batchResponse is HubSpot's answer to a batch read: 200 with status and
// results, or 207 adding numErrors and errors.
type batchResponse[T any] struct {
	Status      string     `json:"status"`
	Results     []T        `json:"results"`
	NumErrors   int        `json:"numErrors,omitempty"`
	Errors      []apiError `json:"errors,omitempty"`
	StartedAt   string     `json:"startedAt"`
	CompletedAt string     `json:"completedAt"`
}

// readBatchRead reads the body of a batch read, answering 400 for one the
// fake cannot serve.
func readBatchRead(w http.ResponseWriter, r *http.Request) (batchReadRequest, bool) {
	var req batchReadRequest
	body, ok := readBody(w, r)
	if !ok || !decodeBody(w, body, &req) {
		return req, false
	}
	if req.IDProperty != "" && req.IDProperty != "hs_object_id" {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("idProperty %q is not supported by the sandbox", req.IDProperty))
		return req, false
	}
	return req, true
}

// POST /crm/v3/objects/contacts/batch/read: 207 when some IDs are unknown.
func (s *Server) batchReadContacts(w http.ResponseWriter, r *http.Request) {
	req, ok := readBatchRead(w, r)
	if !ok {
		return
	}
	if len(req.Inputs) > MaxBatchRead {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Batch input is limited to %d ids, got %d.", MaxBatchRead, len(req.Inputs)))
		return
	}
	archivedOnly := r.URL.Query().Get("archived") == "true"
	started := formatTime(s.now())
	resp := batchResponse[contactJSON]{Status: "COMPLETE", Results: []contactJSON{}, StartedAt: started}
	seen := map[string]bool{}
	var missing []string
	for _, in := range req.Inputs {
		if seen[in.ID] {
			continue
		}
		seen[in.ID] = true
		i, ok := s.data.IndexOf(in.ID)
		at, archived := s.isArchived(i)
		if !ok || archived != archivedOnly {
			missing = append(missing, in.ID)
			continue
		}
		c := s.contact(i, req.Properties)
		if archived {
			c.Archived, c.ArchivedAt = true, formatTime(at)
		}
		resp.Results = append(resp.Results, c)
	}
	status := http.StatusOK
	if len(missing) > 0 {
		status = http.StatusMultiStatus
		e := newError(http.StatusNotFound, "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.")
		e.Context = map[string][]string{"ids": missing}
		resp.Errors, resp.NumErrors = []apiError{e}, 1
	}
	resp.CompletedAt = formatTime(s.now())
	sandbox.WriteJSON(w, status, resp)
}
