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
	now := s.now()
	s.mu.Lock()
	c := Call{ID: strconv.Itoa(firstCallID + len(s.calls)), ContactIDs: contacts, Properties: props, CreatedAt: now}
	s.calls = append(s.calls, c)
	s.mu.Unlock()
	return sandbox.Answer{Status: http.StatusCreated, Body: callJSON{
		ID: c.ID, Properties: maps.Clone(props), CreatedAt: formatTime(now), UpdatedAt: formatTime(now),
	}}
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
