package zvoovefake

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/intake/intake/sync/sandbox"
)

// Paging limits. The change log's maxima are documented; the lists'
// default and maximum are ASSUMED (the spec gives none).
const (
	DefaultPageSize            = 20
	MaxPageSize                = 100
	MaxChangelogPageSize       = 20
	MaxOnPremChangelogPageSize = 10
)

// Change statuses of the candidate change log.
const (
	StatusInserted   = "Inserted"
	StatusUpdated    = "Updated"
	StatusDeleted    = "Deleted"
	StatusAnonymized = "Anonymized"
	StatusRemoved    = "Removed_due_to_legal_reasons"
)

var officeNames = []string{
	"Berlin Mitte", "Hamburg Altona", "München Schwabing", "Köln Ehrenfeld", "Frankfurt Sachsenhausen",
	"Leipzig Zentrum", "Stuttgart West", "Düsseldorf Bilk", "Dresden Neustadt", "Hannover Linden",
}

// OfficeID is the ID of the office of people in reference group g.
func OfficeID(g int) int { return g + 1 }

// OfficeName is the name of the office with the given ID.
func OfficeName(id int) string {
	n := officeNames[(id-1)%len(officeNames)]
	if k := (id - 1) / len(officeNames); k > 0 {
		n += fmt.Sprintf(" %d", k+1)
	}
	return n
}

// InactiveOfficeID is the ID of the data set's one inactive office, which
// has no people.
func InactiveOfficeID(d sandbox.Dataset) int { return groups(d) + 1 }

// EntryStatus is the change-log status of person i's latest change.
func EntryStatus(i int) string {
	switch {
	case i%53 == 20:
		return StatusDeleted
	case i%71 == 30:
		return StatusAnonymized
	case i%101 == 40:
		return StatusRemoved
	case i%4 == 0:
		return StatusInserted
	}
	return StatusUpdated
}

func groups(d sandbox.Dataset) int {
	if d.Groups <= 0 {
		return 5
	}
	return d.Groups
}

type department struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	Name2       string `json:"name2"`
	Description string `json:"description"`
	Active      bool   `json:"active"`
}

func (s *Server) department(id int) department {
	if id == InactiveOfficeID(s.cfg.Dataset) {
		return department{ID: id, Name: "Bochum Innenstadt", Name2: "geschlossen", Description: "Office closed", Active: false}
	}
	return department{ID: id, Name: OfficeName(id), Name2: "Niederlassung", Description: "Office " + strconv.Itoa(id), Active: true}
}

// departments lists the offices: IDs 1..Groups active, Groups+1 inactive.
func (s *Server) departments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, size, ok := s.listPaging(w, q)
	if !ok {
		return
	}
	g := groups(s.cfg.Dataset)
	lo, hi := 1, g+1 // office IDs in [lo, hi]
	switch q.Get("Active") {
	case "true":
		hi = g
	case "false":
		lo = g + 1
	case "":
	default:
		writeInvalid(w, "Active", fmt.Sprintf("The value '%s' is not valid.", q.Get("Active")))
		return
	}
	out := []department{}
	for id := lo + page*size; id <= hi && len(out) < size; id++ {
		out = append(out, s.department(id))
	}
	sandbox.WriteJSON(w, http.StatusOK, out)
}

type listEntry struct {
	CandidateID int       `json:"candidateId"`
	Name        string    `json:"name"`
	Status      string    `json:"status"`
	OfficeID    int       `json:"officeId"`
	EntryDate   time.Time `json:"entryDate"`
}

// candidates lists the candidates of the offices OfficeIds created on or
// after the day CreatedAfter, in creation order. The people of a set S of
// groups are the indices i with i%G in S, so the k-th match after an index
// is computed, never searched for.
func (s *Server) candidates(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, size, ok := s.listPaging(w, q)
	if !ok {
		return
	}
	d := s.cfg.Dataset
	g := groups(d)
	if len(q["OfficeIds"]) == 0 {
		writeInvalid(w, "OfficeIds", "The OfficeIds field is required.")
		return
	}
	var set []int // groups of the requested offices, sorted
	for _, v := range q["OfficeIds"] {
		id, err := strconv.Atoi(v)
		if err != nil {
			writeInvalid(w, "OfficeIds", fmt.Sprintf("The value '%s' is not valid.", v))
			return
		}
		if id >= 1 && id <= g && !slices.Contains(set, id-1) {
			set = append(set, id-1)
		}
	}
	slices.Sort(set)
	start := 0
	if v := q.Get("CreatedAfter"); v != "" {
		day, err := time.Parse(time.DateOnly, v)
		if err != nil {
			writeInvalid(w, "CreatedAfter", fmt.Sprintf("The value '%s' is not valid.", v))
			return
		}
		start = d.FirstCreatedAtOrAfter(day)
	}
	out := []listEntry{}
	if len(set) > 0 {
		// below(n) counts the matching indices in [0, n); kth(k) is the
		// matching index of rank k.
		below := func(n int) int {
			c := n / g * len(set)
			for _, x := range set {
				if x < n%g {
					c++
				}
			}
			return c
		}
		kth := func(k int) int { return k/len(set)*g + set[k%len(set)] }
		first := below(start) + page*size
		for rank := first; len(out) < size; rank++ {
			i := kth(rank)
			if i >= d.Size {
				break
			}
			p := d.Person(i)
			out = append(out, listEntry{
				CandidateID: candidateID(d, i), Name: p.FirstName + " " + p.LastName,
				Status: "Applicant", OfficeID: OfficeID(p.Group), EntryDate: p.CreatedAt.UTC(),
			})
		}
	}
	sandbox.WriteJSON(w, http.StatusOK, out)
}

type changelogEntry struct {
	ID           int       `json:"id"`
	CandidateID  int       `json:"candidateId"`
	Status       string    `json:"status"`
	LastEditDate time.Time `json:"lastEditDate"`
}

type metadata struct {
	PageNumber   int `json:"pageNumber"`
	PageSize     int `json:"pageSize"`
	TotalPages   int `json:"totalPages"`
	TotalRecords int `json:"totalRecords"`
}

type changelogPage struct {
	Metadata metadata         `json:"metadata"`
	Data     []changelogEntry `json:"data"`
}

// change is an entry of the change log appended by Touch.
type change struct {
	id, person int
	at         time.Time
}

// Touch records a new change of person i, as an edit in zvoove would: it
// gets the next id and lastEditDate now. With OnlyLatestPerCandidate the
// person's older changes no longer appear.
func (s *Server) Touch(i int) {
	if i < 0 || i >= s.cfg.Dataset.Size {
		panic(fmt.Sprintf("zvoovefake: Touch(%d) outside the data set", i))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.cfg.Dataset.Size + len(s.touches) + 1
	s.touches = append(s.touches, change{id: id, person: i, at: s.cfg.Now()})
}

// changelog serves the change log in ascending id order. Entry i (id i+1)
// is person i's original change, so a time window over the original
// changes is an index range; the few touches are filtered one by one.
func (s *Server) changelog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	maxSize := MaxChangelogPageSize
	if s.cfg.OnPrem {
		maxSize = MaxOnPremChangelogPageSize
	}
	page, size, ok := s.paging(w, q, maxSize)
	if !ok {
		return
	}
	d := s.cfg.Dataset
	from, to := time.Time{}, time.Time{}
	for _, p := range []struct {
		key string
		dst *time.Time
	}{{"From", &from}, {"To", &to}} {
		if v := q.Get(p.key); v != "" {
			t, err := parseTime(v)
			if err != nil {
				writeInvalid(w, p.key, fmt.Sprintf("The value '%s' is not valid.", v))
				return
			}
			*p.dst = t
		}
	}
	lastID := 0
	if v := q.Get("LastId"); v != "" {
		if q.Has("From") || q.Has("To") {
			writeInvalid(w, "LastId", "Use either LastId or From/To, not both.")
			return
		}
		id, err := strconv.Atoi(v)
		if err != nil || id < 0 {
			writeInvalid(w, "LastId", fmt.Sprintf("The value '%s' is not valid.", v))
			return
		}
		lastID = id
	}
	onlyLatest := false
	switch v := q.Get("OnlyLatestPerCandidate"); v {
	case "true":
		onlyLatest = true
	case "false", "":
	default:
		writeInvalid(w, "OnlyLatestPerCandidate", fmt.Sprintf("The value '%s' is not valid.", v))
		return
	}

	// Original changes: indices [lo, hi), less the people touched since
	// (superseded), which are few. A change the data set dates after Now
	// has not happened yet: the log cannot hold it.
	lo, hi := 0, min(d.Size, d.FirstUpdatedAtOrAfter(s.cfg.Now().Add(time.Nanosecond)))
	if !from.IsZero() {
		lo = d.FirstUpdatedAtOrAfter(from)
	}
	if !to.IsZero() {
		hi = min(hi, d.FirstUpdatedAtOrAfter(to.Add(time.Nanosecond)))
	}
	lo = max(lo, min(lastID, d.Size)) // ids above LastId
	hi = max(hi, lo)
	// OnlyLatestPerCandidate keeps, of the changes that match the query,
	// each candidate's latest: a touch that matches hides the candidate's
	// original change and earlier touches.
	s.mu.Lock()
	var touched []change
	for _, c := range s.touches {
		if c.id > lastID && (from.IsZero() || !c.at.Before(from)) && (to.IsZero() || !c.at.After(to)) {
			touched = append(touched, c)
		}
	}
	s.mu.Unlock()
	var superseded []int
	if onlyLatest {
		seen := map[int]bool{}
		var kept []change
		for k := len(touched) - 1; k >= 0; k-- {
			if c := touched[k]; !seen[c.person] {
				seen[c.person] = true
				kept = append(kept, c)
				if c.person >= lo && c.person < hi {
					superseded = append(superseded, c.person)
				}
			}
		}
		slices.Reverse(kept)
		touched = kept
	}
	slices.Sort(superseded)
	originals := hi - lo - len(superseded)
	// original returns the index of the k-th original change not superseded.
	original := func(k int) int {
		i := lo + k
		for _, x := range superseded {
			if x > i {
				break
			}
			i++
		}
		return i
	}

	total := originals + len(touched)
	out := changelogPage{
		Metadata: metadata{PageNumber: page + s.cfg.PageBase, PageSize: size, TotalPages: (total + size - 1) / size, TotalRecords: total},
		Data:     []changelogEntry{},
	}
	for k := page * size; k < total && len(out.Data) < size; k++ {
		if k < originals {
			i := original(k)
			out.Data = append(out.Data, changelogEntry{
				ID: i + 1, CandidateID: candidateID(d, i), Status: EntryStatus(i), LastEditDate: d.UpdatedAt(i).UTC(),
			})
			continue
		}
		c := touched[k-originals]
		out.Data = append(out.Data, changelogEntry{ID: c.id, CandidateID: candidateID(d, c.person), Status: StatusUpdated, LastEditDate: c.at.UTC()})
	}
	sandbox.WriteJSON(w, http.StatusOK, out)
}

type address struct {
	ZipCode       string  `json:"zipCode"`
	StreetAddress string  `json:"streetAddress"`
	CityName      *string `json:"cityName"`
	CountryCode   *string `json:"countryCode"`
	Phone1        *string `json:"phone1"`
	Phone2        *string `json:"phone2"`
}

type candidateDetail struct {
	ID            int     `json:"id"`
	CandidateGUID string  `json:"candidateGuid"`
	OfficeID      int     `json:"officeId"`
	FirstName     string  `json:"firstName"`
	LastName      string  `json:"lastName"`
	Email         string  `json:"email"`
	Profession    *string `json:"profession"`
	Address       address `json:"address"`
}

// nullable is v, or null when it is empty.
func nullable(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

// CandidateGUID is person i's candidateGuid in the fake.
func CandidateGUID(d sandbox.Dataset, i int) string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", uint32(d.Seed), i)
}

// candidate serves one candidate's detail.
func (s *Server) candidate(w http.ResponseWriter, r *http.Request) {
	d := s.cfg.Dataset
	i, ok := d.IndexOf(r.PathValue("id"))
	if !ok {
		writeProblem(w, http.StatusNotFound, fmt.Sprintf("Candidate %s was not found.", r.PathValue("id")))
		return
	}
	p := d.Person(i)
	a := address{
		ZipCode:       fmt.Sprintf("%05d", 10000+i%89999),
		StreetAddress: fmt.Sprintf("Musterstraße %d", 1+i%120),
		CityName:      nullable(p.City),
		CountryCode:   nullable(p.Country),
	}
	if len(p.Phones) > 0 {
		a.Phone1 = &p.Phones[0]
	}
	if len(p.Phones) > 1 {
		a.Phone2 = &p.Phones[1]
	}
	sandbox.WriteJSON(w, http.StatusOK, candidateDetail{
		ID: candidateID(d, i), CandidateGUID: CandidateGUID(d, i), OfficeID: OfficeID(p.Group),
		FirstName: p.FirstName, LastName: p.LastName, Email: p.Email, Profession: nullable(p.Profession), Address: a,
	})
}

// addContact records a contact note on a candidate.
func (s *Server) addContact(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.cfg.Dataset.IndexOf(id); !ok {
		writeProblem(w, http.StatusNotFound, fmt.Sprintf("Candidate %s was not found.", id))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	var obj map[string]any
	if err != nil || json.Unmarshal(body, &obj) != nil {
		writeProblem(w, http.StatusBadRequest, "The request body must be a JSON object.")
		return
	}
	a := s.Writes.Apply(r, body, func() sandbox.Answer {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.contacts[id] = append(s.contacts[id], json.RawMessage(body))
		return sandbox.Answer{Status: http.StatusCreated, Body: map[string]any{"id": len(s.contacts[id]), "candidateId": id}}
	})
	sandbox.WriteJSON(w, a.Status, a.Body)
}

func candidateID(d sandbox.Dataset, i int) int {
	n, _ := strconv.Atoi(d.ExternalID(i))
	return n
}

// paging reads the page asked (0 for the first, whatever the base) and
// its size (default DefaultPageSize, at most maxSize), answering 400 when
// they are invalid. PageNumber absent means the first page.
func (s *Server) paging(w http.ResponseWriter, q url.Values, maxSize int) (page, size int, ok bool) {
	base := s.cfg.PageBase
	page, size = 0, min(DefaultPageSize, maxSize)
	if v := q.Get("PageNumber"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < base {
			writeInvalid(w, "PageNumber", fmt.Sprintf("The field PageNumber must be between %d and %d.", base, math.MaxInt32))
			return 0, 0, false
		}
		page = n - base
	}
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxSize {
			writeInvalid(w, "PageSize", fmt.Sprintf("The field PageSize must be between 1 and %d.", maxSize))
			return 0, 0, false
		}
		size = n
	}
	return page, size, true
}

// listPaging is paging for departments and v1 candidates: with
// UnpagedLists, everything is one page, whatever was asked.
func (s *Server) listPaging(w http.ResponseWriter, q url.Values) (page, size int, ok bool) {
	if s.cfg.UnpagedLists {
		return 0, math.MaxInt, true
	}
	return s.paging(w, q, MaxPageSize)
}

// parseTime reads a date-time with or without offset (without: UTC).
func parseTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02T15:04:05.999999999", v)
}
