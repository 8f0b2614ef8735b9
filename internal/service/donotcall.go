package service

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/donotcall"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
)

// MaxDoNotCallNote is the longest note addDoNotCall keeps.
const MaxDoNotCallNote = 500

// AddDoNotCall puts a number on the organization's do-not-call list: syncs
// skip it and contacts with it are not callable, in every campaign. A
// number already listed is returned as it is.
func (s *Service) AddDoNotCall(ctx context.Context, phone string, note *string) (*ent.DoNotCall, error) {
	e164, err := e164Only("phone", phone)
	if err != nil {
		return nil, err
	}
	create := s.db.DoNotCall.Create().SetPhoneE164(e164).SetSource(schematype.DoNotCallAPI)
	if note != nil {
		n, err := checkText("note", *note, false, MaxDoNotCallNote)
		if err != nil {
			return nil, err
		}
		if n != "" {
			create.SetNote(n)
		}
	}
	d, err := create.Save(ctx)
	if ent.IsConstraintError(err) { // listed before, or racing in
		return s.db.DoNotCall.Query().Where(donotcall.PhoneE164(e164)).Only(ctx)
	}
	return d, err
}

// RemoveDoNotCall takes a number off the list; it reports whether it was
// listed.
func (s *Service) RemoveDoNotCall(ctx context.Context, phone string) (bool, error) {
	e164, err := e164Only("phone", phone)
	if err != nil {
		return false, err
	}
	n, err := s.db.DoNotCall.Delete().Where(donotcall.PhoneE164(e164)).Exec(ctx)
	return n > 0, err
}

// doNotCallFromCall lists the number of a contact whose call result asked
// for it, in the call result's transaction.
func (s *Service) doNotCallFromCall(ctx context.Context, tx *sql.Tx, contactID pulid.ID) error {
	v := viewer.FromContext(ctx)
	_, err := tx.ExecContext(ctx, `INSERT INTO do_not_calls (id, organization_id, created_at, phone_e164, source)
		SELECT `+s.ph(1)+`, organization_id, `+s.ph(2)+`, phone_e164, `+s.ph(3)+` FROM contacts
		WHERE id = `+s.ph(4)+` AND organization_id = `+s.ph(5)+` AND phone_e164 <> ''
		ON CONFLICT (organization_id, phone_e164) DO NOTHING`,
		pulid.New("dnc"), time.Now().UTC(), string(schematype.DoNotCallCallResult), contactID, v.OrgID)
	if err != nil {
		return fmt.Errorf("adding the number to the do-not-call list: %w", err)
	}
	return nil
}
