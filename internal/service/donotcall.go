package service

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/donotcall"
	"github.com/intake/intake/internal/phone"
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

// MaxDoNotCallImport is the most numbers one importDoNotCall takes.
const MaxDoNotCallImport = 10000

// ImportDoNotCallInput is a list of numbers to put on the do-not-call
// list at once, as an existing blocklist is brought in.
type ImportDoNotCallInput struct {
	Phones []string
	Note   *string
	// PhoneRegion reads numbers without a country code ("0151 ...") as
	// numbers of that region; nil requires E.164.
	PhoneRegion *string
}

// DoNotCallImport is what ImportDoNotCall did.
type DoNotCallImport struct {
	Added, AlreadyListed int
}

// ImportDoNotCall lists every number of in.Phones (source IMPORT) in one
// transaction: either every number is valid and all are listed, or the
// first invalid one is a VALIDATION_FAILED naming its index and nothing is
// listed. Numbers listed before keep their entry.
func (s *Service) ImportDoNotCall(ctx context.Context, in ImportDoNotCallInput) (DoNotCallImport, error) {
	var res DoNotCallImport
	if len(in.Phones) == 0 || len(in.Phones) > MaxDoNotCallImport {
		return res, invalid("input.phones", "must hold 1 to %d numbers", MaxDoNotCallImport)
	}
	region := ""
	if in.PhoneRegion != nil {
		var err error
		if region, err = checkRegion("input.phoneRegion", *in.PhoneRegion); err != nil {
			return res, err
		}
	}
	var note string
	if in.Note != nil {
		n, err := checkText("input.note", *in.Note, false, MaxDoNotCallNote)
		if err != nil {
			return res, err
		}
		note = n
	}
	seen := make(map[string]bool, len(in.Phones))
	numbers := make([]string, 0, len(in.Phones))
	for i, p := range in.Phones {
		field := fmt.Sprintf("input.phones[%d]", i)
		var e164 string
		if region == "" {
			var err error
			if e164, err = e164Only(field, p); err != nil {
				return res, err
			}
		} else {
			var code schematype.ImportIssueCode
			var msg string
			if e164, _, code, msg = phone.First([]string{p}, region); code != "" {
				return res, invalid(field, "%s", msg)
			}
		}
		if !seen[e164] {
			seen[e164] = true
			numbers = append(numbers, e164)
		}
	}
	org := viewer.FromContext(ctx).OrgID
	now := time.Now().UTC()
	err := s.store.InTx(ctx, func(tx *sql.Tx, _ *ent.Client) error {
		// Counted again if the transaction runs again (store.InTx).
		res.Added = 0
		const perStatement = 500 // 7 parameters a row: within SQLite's and PostgreSQL's limits
		for chunk := range slices.Chunk(numbers, perStatement) {
			var q strings.Builder
			q.WriteString(`INSERT INTO do_not_calls (id, organization_id, created_at, phone_e164, source, note) VALUES `)
			args := make([]any, 0, len(chunk)*6)
			for k, e164 := range chunk {
				if k > 0 {
					q.WriteString(", ")
				}
				n := len(args)
				fmt.Fprintf(&q, "(%s, %s, %s, %s, %s, %s)", s.ph(n+1), s.ph(n+2), s.ph(n+3), s.ph(n+4), s.ph(n+5), s.ph(n+6))
				var notePtr *string
				if note != "" {
					notePtr = &note
				}
				args = append(args, pulid.New("dnc"), org, now, e164, string(schematype.DoNotCallImport), notePtr)
			}
			q.WriteString(` ON CONFLICT (organization_id, phone_e164) DO NOTHING`)
			r, err := tx.ExecContext(ctx, q.String(), args...)
			if err != nil {
				return fmt.Errorf("listing numbers: %w", err)
			}
			added, err := r.RowsAffected()
			if err != nil {
				return err
			}
			res.Added += int(added)
		}
		return nil
	})
	if err != nil {
		return DoNotCallImport{}, err
	}
	res.AlreadyListed = len(numbers) - res.Added
	return res, nil
}
