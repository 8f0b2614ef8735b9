package zvoove

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
)

// id is a zvoove integer ID; it decodes from a JSON number or string and
// keeps its decimal form. null leaves it empty.
type id string

func (v *id) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*v = ""
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return errors.New("invalid ID: want a non-negative integer")
	}
	*v = id(strconv.FormatInt(n, 10))
	return nil
}

// department is an office.
type department struct {
	ID     id     `json:"id"`
	Name   string `json:"name"`
	Name2  string `json:"name2"`
	Active *bool  `json:"active"`
}

func (d department) name() string {
	switch {
	case strings.TrimSpace(d.Name) != "":
		return d.Name
	case strings.TrimSpace(d.Name2) != "":
		return d.Name2
	}
	return "Office " + string(d.ID)
}

// listEntry is one candidate of GET /v1/candidates.
type listEntry struct {
	CandidateID id     `json:"candidateId"`
	Name        string `json:"name"`
	Status      string `json:"status"`
	OfficeID    id     `json:"officeId"`
	EntryDate   string `json:"entryDate"`
}

// changelogPage is one page of GET /v2/candidates/changelog. Entries are
// decoded one by one, so that one bad entry does not hide the others. The
// metadata are pointers: an absent number must not read as 0, which is a
// page number and a count.
type changelogPage struct {
	Metadata struct {
		PageNumber   *int `json:"pageNumber"`
		PageSize     *int `json:"pageSize"`
		TotalPages   *int `json:"totalPages"`
		TotalRecords *int `json:"totalRecords"`
	} `json:"metadata"`
	Data []json.RawMessage `json:"data"`
}

// changeEntry is one change of a candidate.
type changeEntry struct {
	ID           id     `json:"id"`
	CandidateID  id     `json:"candidateId"`
	Status       string `json:"status"`
	LastEditDate string `json:"lastEditDate"`
}

// removed reports whether a change-log status means the candidate is no
// longer a contact.
func removed(status string) bool {
	switch strings.ToLower(status) {
	case "deleted", "anonymized", "removed_due_to_legal_reasons":
		return true
	}
	return false
}

// candidateDetail is GET /v2/candidates/{id}, as far as it is used.
type candidateDetail struct {
	ID            id     `json:"id"`
	CandidateGUID string `json:"candidateGuid"`
	OfficeID      id     `json:"officeId"`
	FirstName     string `json:"firstName"`
	LastName      string `json:"lastName"`
	Email         string `json:"email"`
	Profession    text   `json:"profession"`
	// Address also has zipCode and streetAddress, which are not read:
	// nothing of the street address goes to screening.
	Address *struct {
		CityName    text   `json:"cityName"`
		CountryCode text   `json:"countryCode"`
		Phone1      string `json:"phone1"`
		Phone2      string `json:"phone2"`
	} `json:"address"`
}

// text is a string that only describes the candidate (a fit attribute): a
// value of another type reads as empty rather than making the whole
// candidate unreadable.
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) != nil {
		s = ""
	}
	*t = text(s)
	return nil
}

// parseTime reads a zvoove date-time. A time without offset is taken as
// UTC; dateOnly is true for a bare date.
func parseTime(s string) (t time.Time, dateOnly bool, ok bool) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, false, true
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
		return t, false, true
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true, true
	}
	return time.Time{}, false, false
}

// errorMessage extracts the message of an RFC 7807 problem details body
// (detail, else title with any validation errors), or of an OAuth2 error
// body (error_description, else error).
func errorMessage(body []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	str := func(key string) string {
		var s string
		if json.Unmarshal(m[key], &s) != nil {
			return ""
		}
		return strings.TrimSpace(s)
	}
	if s := str("detail"); s != "" {
		return s
	}
	if s := str("title"); s != "" {
		if v := validationErrors(m["errors"]); v != "" {
			return s + " " + v
		}
		return s
	}
	for _, k := range []string{"error_description", "error"} {
		if s := str(k); s != "" {
			return s
		}
	}
	return ""
}

// validationErrors renders ASP.NET validation errors {"Field": ["msg"]}.
func validationErrors(raw json.RawMessage) string {
	var errs map[string][]string
	if json.Unmarshal(raw, &errs) != nil || len(errs) == 0 {
		return ""
	}
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+": "+strings.Join(errs[k], " "))
	}
	return "(" + strings.Join(parts, "; ") + ")"
}
