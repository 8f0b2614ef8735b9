package hubspotfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"

	"github.com/intake/intake/sync/sandbox"
)

type callRequest struct {
	Properties   map[string]json.RawMessage `json:"properties"`
	Associations []struct {
		To struct {
			ID json.RawMessage `json:"id"`
		} `json:"to"`
		Types []struct {
			AssociationCategory string `json:"associationCategory"`
			AssociationTypeID   int    `json:"associationTypeId"`
		} `json:"types"`
	} `json:"associations"`
}

type callJSON struct {
	ID         string            `json:"id"`
	Properties map[string]string `json:"properties"`
	CreatedAt  string            `json:"createdAt"`
	UpdatedAt  string            `json:"updatedAt"`
	Archived   bool              `json:"archived"`
}

// firstCallID numbers the calls the fake logs.
const firstCallID = 50000001

// POST /crm/v3/objects/calls: logs a call associated with contacts.
func (s *Server) createCall(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	a := s.Writes.Apply(r, body, func() sandbox.Answer { return s.applyCall(body) })
	sandbox.WriteJSON(w, a.Status, a.Body)
}

func (s *Server) applyCall(body []byte) sandbox.Answer {
	fail := func(msg string) sandbox.Answer {
		return sandbox.Answer{Status: http.StatusBadRequest, Body: newError(http.StatusBadRequest, msg)}
	}
	var req callRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return fail("Invalid input JSON: " + err.Error())
	}
	props := make(map[string]string, len(req.Properties))
	for name, raw := range req.Properties {
		v, err := propertyValue(raw)
		if err != nil {
			return fail(fmt.Sprintf("Property %q: %v", name, err))
		}
		props[name] = v
	}
	if props["hs_timestamp"] == "" {
		return fail("Property hs_timestamp is required.")
	}
	if _, err := millis(props["hs_timestamp"]); err != nil {
		return fail(fmt.Sprintf("Property hs_timestamp: %v", err))
	}
	if st := props["hs_call_status"]; st != "" && !slices.Contains(callStatuses, st) {
		return sandbox.Answer{Status: http.StatusBadRequest, Body: invalidOption("hs_call_status", st, callStatuses)}
	}
	var contacts []string
	for _, as := range req.Associations {
		id, err := propertyValue(as.To.ID)
		if err != nil || id == "" {
			return fail("One or more associations are invalid: to.id is missing.")
		}
		if len(as.Types) == 0 {
			return fail("One or more associations are invalid: types are missing.")
		}
		for _, t := range as.Types {
			if t.AssociationCategory != "HUBSPOT_DEFINED" || t.AssociationTypeID != CallToContactAssociation {
				return fail(fmt.Sprintf("One or more associations are invalid: %s/%d is not supported by the sandbox (only HUBSPOT_DEFINED/%d, call to contact).",
					t.AssociationCategory, t.AssociationTypeID, CallToContactAssociation))
			}
		}
		if _, ok := s.data.IndexOf(id); !ok {
			return fail(fmt.Sprintf("One or more associations are invalid: contact %s does not exist.", id))
		}
		contacts = append(contacts, id)
	}
	c := s.AddCall(props, contacts...)
	created := formatTime(c.CreatedAt)
	return sandbox.Answer{Status: http.StatusCreated, Body: callJSON{
		ID: c.ID, Properties: maps.Clone(props), CreatedAt: created, UpdatedAt: created,
	}}
}

// AddCall logs a call associated with the contacts, as a create through
// the API does, without checking anything; tests use it to give a contact
// calls logged by others.
func (s *Server) AddCall(props map[string]string, contactIDs ...string) Call {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	c := Call{ID: strconv.Itoa(firstCallID + len(s.calls)), ContactIDs: slices.Clone(contactIDs), Properties: maps.Clone(props), CreatedAt: now}
	for _, id := range slices.Compact(slices.Sorted(slices.Values(contactIDs))) {
		s.contactCalls[id] = append(s.contactCalls[id], len(s.calls))
	}
	s.calls = append(s.calls, c)
	return c
}

// propertyValue reads a property value as HubSpot stores it: a string.
func propertyValue(raw json.RawMessage) (string, error) {
	var v any
	if len(raw) == 0 {
		return "", nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case float64, bool:
		return string(raw), nil
	}
	return "", errors.New("must be a string, number or boolean")
}

// call returns the call with the given ID.
func (s *Server) call(id string) (Call, bool) {
	n, err := strconv.Atoi(id)
	if err != nil || strconv.Itoa(n) != id {
		return Call{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := n - firstCallID
	if i < 0 || i >= len(s.calls) {
		return Call{}, false
	}
	return s.calls[i], true
}

// callObject is a call as HubSpot reads it back.
type callObject struct {
	ID         string             `json:"id"`
	Properties map[string]*string `json:"properties"`
	CreatedAt  string             `json:"createdAt"`
	UpdatedAt  string             `json:"updatedAt"`
	Archived   bool               `json:"archived"`
}

// render returns c with the requested properties (null when unset) and
// the ones HubSpot always returns.
func (c Call) render(props []string) callObject {
	created := formatTime(c.CreatedAt)
	o := callObject{ID: c.ID, Properties: map[string]*string{}, CreatedAt: created, UpdatedAt: created}
	for _, name := range props {
		if v, ok := c.Properties[name]; ok {
			o.Properties[name] = &v
		} else {
			o.Properties[name] = nil
		}
	}
	o.Properties["hs_object_id"] = &c.ID
	o.Properties["hs_createdate"] = &created
	o.Properties["hs_lastmodifieddate"] = &created
	return o
}

// GET /crm/v3/objects/calls/{callId}
func (s *Server) getCall(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c, ok := s.call(r.PathValue("callId"))
	if !ok || q.Get("archived") == "true" {
		writeError(w, http.StatusNotFound, "resource not found")
		return
	}
	sandbox.WriteJSON(w, http.StatusOK, c.render(queryProperties(q)))
}

// POST /crm/v3/objects/calls/batch/read: 1 to MaxBatchRead inputs; 207
// with HubSpot's multi-status body when some IDs are unknown.
func (s *Server) batchReadCalls(w http.ResponseWriter, r *http.Request) {
	req, ok := readBatchRead(w, r)
	if !ok {
		return
	}
	if len(req.Inputs) < 1 || len(req.Inputs) > MaxBatchRead {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Batch input must hold 1 to %d ids, got %d.", MaxBatchRead, len(req.Inputs)))
		return
	}
	archived := r.URL.Query().Get("archived") == "true" // nothing is archived
	resp := batchResponse[callObject]{Status: "COMPLETE", Results: []callObject{}, StartedAt: formatTime(s.now())}
	seen := map[string]bool{}
	var missing []string
	for _, in := range req.Inputs {
		if seen[in.ID] {
			continue
		}
		seen[in.ID] = true
		c, ok := s.call(in.ID)
		if !ok || archived {
			missing = append(missing, in.ID)
			continue
		}
		resp.Results = append(resp.Results, c.render(req.Properties))
	}
	resp.CompletedAt = formatTime(s.now())
	status := http.StatusOK
	if len(missing) > 0 {
		status = http.StatusMultiStatus
		e := newError(http.StatusNotFound, "Could not get some CALL objects, they may be deleted or not exist. Check that ids are valid.")
		e.Context = map[string][]string{"ids": missing}
		resp.Errors, resp.NumErrors = []apiError{e}, 1
	}
	sandbox.WriteJSON(w, status, resp)
}

type associationTypeJSON struct {
	Category string  `json:"category"`
	TypeID   int     `json:"typeId"`
	Label    *string `json:"label"`
}

type associatedObject struct {
	ToObjectID       int64                 `json:"toObjectId"`
	AssociationTypes []associationTypeJSON `json:"associationTypes"`
}

type associationPage struct {
	Results []associatedObject `json:"results"`
	Paging  *paging            `json:"paging,omitempty"`
}

// GET /crm/v4/objects/contacts/{contactId}/associations/calls: the calls
// associated with the contact, in creation order (which is the order of
// their IDs), read from the calls themselves, so a call is listed as soon
// as it is created: the associations API is strongly consistent, unlike
// search. A contact without calls, known or not, has an empty listing
// (ASSUMED: HubSpot documents no 404 for it).
func (s *Server) listContactCalls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := intParam(q.Get("limit"), MaxAssociationLimit, 1, MaxAssociationLimit, "limit")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	after, err := intParam(q.Get("after"), 0, 0, 1<<31-1, "after")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	idx := s.contactCalls[r.PathValue("contactId")]
	start := min(after, len(idx))
	end := min(start+limit, len(idx))
	page := associationPage{Results: []associatedObject{}, Paging: pagingAt(end, end < len(idx))}
	for _, i := range idx[start:end] {
		id, _ := strconv.ParseInt(s.calls[i].ID, 10, 64)
		page.Results = append(page.Results, associatedObject{
			ToObjectID:       id,
			AssociationTypes: []associationTypeJSON{{Category: "HUBSPOT_DEFINED", TypeID: ContactToCallAssociation}},
		})
	}
	s.mu.Unlock()
	sandbox.WriteJSON(w, http.StatusOK, page)
}
