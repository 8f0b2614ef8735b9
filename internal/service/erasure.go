package service

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/sync/engine"
)

// Erasure is what an erasure removed.
type Erasure struct {
	// Contacts are the contacts erased (they stay, without personal data).
	Contacts []pulid.ID
	// CallResults lost their transcripts and answers; Pushbacks were
	// CANCELLED; ImportIssues naming the person were deleted.
	CallResults, Pushbacks, ImportIssues int
}

// EraseContact erases one contact's personal data (see engine.EraseTx),
// and keeps syncs from importing the person again from the integration it
// came from. Erasing an erased contact erases nothing.
func (s *Service) EraseContact(ctx context.Context, id pulid.ID) (Erasure, error) {
	if err := checkID("id", id, "con", "contact"); err != nil {
		return Erasure{}, err
	}
	if _, err := s.db.Contact.Get(ctx, id); ent.IsNotFound(err) {
		return Erasure{}, notFound("id", "contact")
	} else if err != nil {
		return Erasure{}, err
	}
	return s.erase(ctx, engine.EraseRequest{ContactIDs: []pulid.ID{id}, Reason: "eraseContact"})
}

// ErasePerson erases every contact of the organization with the number
// phone, in every campaign. phone must be in E.164 form.
func (s *Service) ErasePerson(ctx context.Context, phone string) (Erasure, error) {
	e164, err := e164Only("phone", phone)
	if err != nil {
		return Erasure{}, err
	}
	return s.erase(ctx, engine.EraseRequest{Phone: e164, Reason: "erasePerson"})
}

// EraseFromSource erases the people an integration's external system
// reports deleted or anonymised (a webhook), with reason.
func (s *Service) EraseFromSource(ctx context.Context, in *ent.Integration, externalIDs []string, reason string) (Erasure, error) {
	ctx = viewer.ForOrg(ctx, in.OrganizationID)
	return s.erase(ctx, engine.EraseRequest{IntegrationID: in.ID, ExternalIDs: externalIDs, Reason: reason})
}

func (s *Service) erase(ctx context.Context, r engine.EraseRequest) (Erasure, error) {
	if s.jobs == nil {
		return Erasure{}, errNoEngine
	}
	v := viewer.FromContext(ctx)
	if v == nil {
		return Erasure{}, errors.New("erasure: the request has no organization")
	}
	r.OrgID = v.OrgID
	var done engine.Erased
	err := s.store.InTx(ctx, func(tx *sql.Tx, _ *ent.Client) error {
		var err error
		done, err = s.jobs.EraseTx(ctx, tx, r)
		return err
	})
	if err != nil {
		return Erasure{}, err
	}
	s.jobs.Announce(ctx, done)
	return Erasure{Contacts: done.Contacts, CallResults: done.CallResults, Pushbacks: done.Pushbacks, ImportIssues: done.Issues}, nil
}

// e164Only reads a phone number that must be in E.164 form ("+49...").
func e164Only(field, phone string) (string, error) {
	p := strings.TrimSpace(phone)
	if !strings.HasPrefix(p, "+") || len(p) > 32 {
		return "", invalid(field, "must be a phone number in E.164 form, such as +4915112345678")
	}
	num, err := phonenumbers.Parse(p, "")
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", invalid(field, "is not a valid phone number in E.164 form")
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}
