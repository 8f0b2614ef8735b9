package hubspotfake

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/intake/intake/sync/sandbox"
)

var listNames = []string{"Warehouse applicants", "Forklift drivers", "Nursing staff", "Office talent pool", "Event staff"}

// ListID is the HubSpot list ID of the data set's reference group g.
func ListID(group int) string { return strconv.Itoa(group + 1) }

// ListName is the name of the data set's reference group g's list.
func ListName(group int) string {
	if group < len(listNames) {
		return listNames[group]
	}
	return fmt.Sprintf("Talent pool %d", group+1)
}

// group returns the reference group of a list ID.
func (s *Server) group(listID string) (int, bool) {
	n, err := strconv.Atoi(listID)
	if err != nil || strconv.Itoa(n) != listID {
		return 0, false
	}
	return n - 1, n >= 1 && n <= s.groups
}

// members counts the people of group g.
func (s *Server) members(g int) int {
	if g >= s.data.Size {
		return 0
	}
	return (s.data.Size-1-g)/s.groups + 1
}

type listJSON struct {
	ListID               string            `json:"listId"`
	Name                 string            `json:"name"`
	ObjectTypeID         string            `json:"objectTypeId"`
	ProcessingType       string            `json:"processingType"`
	AdditionalProperties map[string]string `json:"additionalProperties"`
}

type listSearchRequest struct {
	Query           string   `json:"query"`
	Offset          int      `json:"offset"`
	Count           int      `json:"count"`
	ListIDs         []string `json:"listIds"`
	ProcessingTypes []string `json:"processingTypes"`
}

type listSearchResponse struct {
	Lists   []listJSON `json:"lists"`
	Offset  int        `json:"offset"`
	HasMore bool       `json:"hasMore"`
	Total   int        `json:"total"`
}

// POST /crm/v3/lists/search (path and shape ASSUMED): the lists whose name
// contains query, case-insensitively. Every list of the sandbox is a
// static (MANUAL) contact list.
func (s *Server) searchLists(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var req listSearchRequest
	if !decodeBody(w, body, &req) {
		return
	}
	if req.Count == 0 {
		req.Count = 20
	}
	if req.Count < 0 || req.Count > MaxListSearchCount || req.Offset < 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("count must be between 1 and %d and offset at least 0", MaxListSearchCount))
		return
	}
	if len(req.ProcessingTypes) > 0 && !slices.Contains(req.ProcessingTypes, "MANUAL") {
		sandbox.WriteJSON(w, http.StatusOK, listSearchResponse{Lists: []listJSON{}, Offset: req.Offset})
		return
	}
	query := strings.ToLower(req.Query)
	var matched []int
	for g := range s.groups {
		if strings.Contains(strings.ToLower(ListName(g)), query) &&
			(len(req.ListIDs) == 0 || slices.Contains(req.ListIDs, ListID(g))) {
			matched = append(matched, g)
		}
	}
	start := min(req.Offset, len(matched))
	end := min(start+req.Count, len(matched))
	resp := listSearchResponse{Lists: []listJSON{}, Offset: end, HasMore: end < len(matched), Total: len(matched)}
	for _, g := range matched[start:end] {
		resp.Lists = append(resp.Lists, listJSON{
			ListID:               ListID(g),
			Name:                 ListName(g),
			ObjectTypeID:         ContactObjectTypeID,
			ProcessingType:       "MANUAL",
			AdditionalProperties: map[string]string{"hs_list_size": strconv.Itoa(s.members(g))},
		})
	}
	sandbox.WriteJSON(w, http.StatusOK, resp)
}

type membership struct {
	RecordID            string `json:"recordId"`
	MembershipTimestamp string `json:"membershipTimestamp"`
}

type membershipPage struct {
	Results []membership `json:"results"`
	Paging  *paging      `json:"paging,omitempty"`
}

// GET /crm/v3/lists/{listId}/memberships, ordered by record ID.
func (s *Server) listMemberships(w http.ResponseWriter, r *http.Request) {
	listID := r.PathValue("listId")
	g, ok := s.group(listID)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("List %s does not exist.", listID))
		return
	}
	q := r.URL.Query()
	limit, err := intParam(q.Get("limit"), 100, 1, MaxMembershipLimit, "limit")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	after, err := intParam(q.Get("after"), 0, 0, 1<<31-1, "after")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	n := s.members(g)
	end := min(after+limit, n)
	page := membershipPage{Results: []membership{}, Paging: pagingAt(end, end < n)}
	for k := after; k < end; k++ {
		i := g + k*s.groups
		page.Results = append(page.Results, membership{
			RecordID:            s.data.ExternalID(i),
			MembershipTimestamp: formatTime(s.data.CreatedAt(i)),
		})
	}
	sandbox.WriteJSON(w, http.StatusOK, page)
}
