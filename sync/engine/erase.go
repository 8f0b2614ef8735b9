package engine

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"time"

	"entgo.io/ent/dialect"

	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/sync/progress"
)

// Erasure: a person's data is removed from every campaign of an
// organization, and a tombstone (the erasures table: a hash, no personal
// data) keeps syncs from importing them again.
//
// An erased contact keeps its ID, campaign, trigger and times and loses
// everything else: number (phone_e164 and phone_raw become empty, which
// the unique index of live numbers ignores), names, e-mail, external ID,
// attributes and screening reason. Its call results lose their transcripts
// and answers, its undelivered pushbacks (PENDING, RETRYING, DEAD) become
// CANCELLED, and the import issues of its records (by external ID, and
// every message naming its number) are deleted.
//
// Imports and erasures of one integration exclude each other on
// PostgreSQL: a page's transaction holds a shared advisory lock on its
// integration, an erasure an exclusive one on every integration it touches.
// So an erasure either sees the contact a page inserts, or the page sees the
// tombstone. On SQLite, write transactions are serialized anyway.

// ErasureRef is the tombstone of the person externalID of an integration's
// external system: a hash that names nobody.
func ErasureRef(integrationID pulid.ID, externalID string) string {
	h := sha256.Sum256([]byte(string(integrationID) + "\x00" + externalID))
	return hex.EncodeToString(h[:])
}

// EraseRequest says whose data to erase; exactly one of ContactIDs, Phone
// and ExternalIDs is set.
type EraseRequest struct {
	OrgID pulid.ID
	// ContactIDs: these contacts (eraseContact).
	ContactIDs []pulid.ID
	// Phone: every contact with this E.164 number (erasePerson).
	Phone string
	// IntegrationID and ExternalIDs: the people the integration's external
	// system reports gone; tombstones are made even for those never
	// imported.
	IntegrationID pulid.ID
	ExternalIDs   []string
	// Reason is recorded with the erasure; it must hold no personal data.
	Reason string
}

// Erased is what an erasure did.
type Erased struct {
	Contacts    []pulid.ID
	CallResults int
	Pushbacks   int
	Issues      int
	// notices for subscribers, sent by Announce after the commit.
	notices []progress.Notice
}

// EraseTx erases in the caller's transaction tx (see the Erasure comment
// above). Call Announce after the commit.
func (e *Engine) EraseTx(ctx context.Context, tx *sql.Tx, r EraseRequest) (Erased, error) {
	var out Erased
	var where string
	args := []any{r.OrgID}
	switch {
	case len(r.ContactIDs) > 0:
		where = "c.id IN (" + e.phs(2, len(r.ContactIDs)) + ")"
		for _, id := range r.ContactIDs {
			args = append(args, id)
		}
	case r.Phone != "":
		// Through the organization's campaigns, so that the index of live
		// numbers per campaign finds them.
		where = "c.campaign_id IN (SELECT id FROM campaigns WHERE organization_id = " + e.ph(2) + ") AND c.phone_e164 = " + e.ph(3)
		args = append(args, r.OrgID, r.Phone)
	case r.IntegrationID != "" && len(r.ExternalIDs) > 0:
		where = "t.integration_id = " + e.ph(2) + " AND c.external_id IN (" + e.phs(3, len(r.ExternalIDs)) + ")"
		args = append(args, r.IntegrationID)
		for _, x := range r.ExternalIDs {
			args = append(args, x)
		}
	default:
		return out, fmt.Errorf("erasure: nothing to erase")
	}
	from := ` FROM contacts c LEFT JOIN triggers t ON t.id = c.trigger_id WHERE c.organization_id = ` + e.ph(1) +
		` AND c.erased_at IS NULL AND ` + where

	// Lock the integrations the contacts came from, then read them again:
	// a page committed meanwhile is seen.
	integs := []string{}
	if r.IntegrationID != "" {
		integs = append(integs, string(r.IntegrationID))
	}
	if err := e.scanTx(ctx, tx, `SELECT DISTINCT COALESCE(t.integration_id, '')`+from, args, func(v []string) {
		if v[0] != "" {
			integs = append(integs, v[0])
		}
	}); err != nil {
		return out, fmt.Errorf("erasure: %w", err)
	}
	slices.Sort(integs)
	for _, in := range slices.Compact(integs) {
		if err := e.lockIntegration(ctx, tx, pulid.ID(in), true); err != nil {
			return out, err
		}
	}
	type victim struct{ id, integ, ext, e164 string }
	var victims []victim
	if err := e.scanTx(ctx, tx, `SELECT c.id, COALESCE(t.integration_id, ''), c.external_id, c.phone_e164`+from, args, func(v []string) {
		victims = append(victims, victim{v[0], v[1], v[2], v[3]})
	}); err != nil {
		return out, fmt.Errorf("erasure: %w", err)
	}

	now := time.Now().UTC()
	refs := map[string]bool{}
	for _, x := range r.ExternalIDs {
		refs[ErasureRef(r.IntegrationID, x)] = true
	}
	for _, v := range victims {
		if v.integ != "" && v.ext != "" {
			refs[ErasureRef(pulid.ID(v.integ), v.ext)] = true
		}
	}
	if err := e.tombstones(ctx, tx, r.OrgID, slices.Sorted(maps.Keys(refs)), r.Reason, now); err != nil {
		return out, err
	}
	if len(victims) == 0 {
		return out, nil
	}
	ids := make([]any, len(victims))
	for i, v := range victims {
		ids[i] = v.id
		out.Contacts = append(out.Contacts, pulid.ID(v.id))
	}
	in := "(" + e.phs(1, len(ids)) + ")"

	// The contacts first: their row locks order this erasure with a call
	// result being recorded for one of them (which locks its contact).
	cargs := append([]any{now, r.Reason}, ids...)
	if _, err := tx.ExecContext(ctx, `UPDATE contacts SET first_name = NULL, last_name = NULL, email = NULL, phone_raw = '', phone_e164 = '',
		external_id = '', attributes = '{}', screening_reason = NULL, number_type = NULL, time_zone = NULL, region = NULL, erased_at = `+e.ph(1)+`, erasure_reason = `+e.ph(2)+`
		WHERE id IN (`+e.phs(3, len(ids))+`)`, cargs...); err != nil {
		return out, fmt.Errorf("erasure: contacts: %w", err)
	}

	// Undelivered pushbacks end, visibly; the transcripts they would
	// carry go.
	var cancelled []string
	if err := e.scanTx(ctx, tx, `SELECT p.id, t.campaign_id FROM pushbacks p JOIN call_results cr ON cr.id = p.call_result_id
		JOIN triggers t ON t.id = p.trigger_id
		WHERE cr.contact_id IN `+in+` AND p.status IN ('PENDING', 'RETRYING', 'DEAD')`, ids, func(v []string) {
		cancelled = append(cancelled, v[0])
		out.notices = append(out.notices, progress.Notice{Kind: progress.KindPushback, ID: pulid.ID(v[0]), CampaignID: pulid.ID(v[1])})
	}); err != nil {
		return out, fmt.Errorf("erasure: %w", err)
	}
	if len(cancelled) > 0 {
		pargs := []any{"not delivered: the contact was erased (" + r.Reason + ")", now}
		for _, id := range cancelled {
			pargs = append(pargs, id)
		}
		res, err := tx.ExecContext(ctx, `UPDATE pushbacks SET status = 'CANCELLED', last_error = `+e.ph(1)+`, next_attempt_at = NULL, updated_at = `+e.ph(2)+`
			WHERE status IN ('PENDING', 'RETRYING', 'DEAD') AND id IN (`+e.phs(3, len(cancelled))+`)`, pargs...)
		if err != nil {
			return out, fmt.Errorf("erasure: cancelling pushbacks: %w", err)
		}
		n, _ := res.RowsAffected()
		out.Pushbacks = int(n)
	}
	// Placeholders in textual order: SQLite binds ? by position.
	res, err := tx.ExecContext(ctx, `UPDATE call_results SET transcript = '', question_results = '[]',
		transcript_purged_at = COALESCE(transcript_purged_at, `+e.ph(1)+`) WHERE contact_id IN (`+e.phs(2, len(ids))+`)`,
		append([]any{now}, ids...)...)
	if err != nil {
		return out, fmt.Errorf("erasure: call results: %w", err)
	}
	n, _ := res.RowsAffected()
	out.CallResults = int(n)

	// Import issues of the person's records, and those naming the number.
	var conds []string
	var iargs []any
	iargs = append(iargs, r.OrgID)
	for _, v := range victims {
		if v.ext != "" && v.integ != "" {
			conds = append(conds, fmt.Sprintf("(i.external_id = %s AND i.run_id IN (SELECT sr.id FROM sync_runs sr JOIN triggers tt ON tt.id = sr.trigger_id WHERE tt.integration_id = %s))",
				e.ph(len(iargs)+1), e.ph(len(iargs)+2)))
			iargs = append(iargs, v.ext, v.integ)
		}
		if v.e164 != "" {
			conds = append(conds, "i.message LIKE "+e.ph(len(iargs)+1))
			iargs = append(iargs, "%"+v.e164+"%")
		}
	}
	if len(conds) > 0 {
		res, err := tx.ExecContext(ctx, `DELETE FROM import_issues WHERE id IN (SELECT i.id FROM import_issues i WHERE i.organization_id = `+e.ph(1)+
			` AND (`+strings.Join(conds, " OR ")+`))`, iargs...)
		if err != nil {
			return out, fmt.Errorf("erasure: import issues: %w", err)
		}
		n, _ := res.RowsAffected()
		out.Issues = int(n)
	}

	return out, nil
}

// Announce tells subscribers what an erasure changed, after its commit.
func (e *Engine) Announce(ctx context.Context, er Erased) {
	for _, n := range er.notices {
		e.publish(ctx, n)
	}
}

// tombstones records refs as erased; refs erased before keep their row.
func (e *Engine) tombstones(ctx context.Context, tx *sql.Tx, orgID pulid.ID, refs []string, reason string, now time.Time) error {
	for chunk := range slices.Chunk(refs, rowsPerStatement) {
		var q strings.Builder
		q.WriteString(`INSERT INTO erasures (id, organization_id, created_at, ref, reason) VALUES `)
		args := make([]any, 0, len(chunk)*5)
		for i, ref := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(" + e.phs(len(args)+1, 5) + ")")
			args = append(args, pulid.New("era"), orgID, now, ref, reason)
		}
		q.WriteString(` ON CONFLICT (organization_id, ref) DO NOTHING`)
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("erasure: tombstones: %w", err)
		}
	}
	return nil
}

// erasedRefs returns which of refs the organization has tombstones for,
// read in tx or on the engine's pool.
func (e *Engine) erasedRefs(ctx context.Context, tx queryer, orgID pulid.ID, refs []string) (map[string]bool, error) {
	out := map[string]bool{}
	for chunk := range slices.Chunk(refs, rowsPerStatement) {
		args := []any{orgID}
		for _, r := range chunk {
			args = append(args, r)
		}
		if err := e.scanTx(ctx, tx, `SELECT ref FROM erasures WHERE organization_id = `+e.ph(1)+` AND ref IN (`+e.phs(2, len(chunk))+`)`, args,
			func(v []string) { out[v[0]] = true }); err != nil {
			return nil, fmt.Errorf("reading erasures: %w", err)
		}
	}
	return out, nil
}

// listedNumbers returns which of numbers are on the organization's
// do-not-call list, read in tx or on the engine's pool.
func (e *Engine) listedNumbers(ctx context.Context, tx queryer, orgID pulid.ID, numbers []string) (map[string]bool, error) {
	out := map[string]bool{}
	for chunk := range slices.Chunk(numbers, rowsPerStatement) {
		args := []any{orgID}
		for _, n := range chunk {
			args = append(args, n)
		}
		if err := e.scanTx(ctx, tx, `SELECT phone_e164 FROM do_not_calls WHERE organization_id = `+e.ph(1)+` AND phone_e164 IN (`+e.phs(2, len(chunk))+`)`, args,
			func(v []string) { out[v[0]] = true }); err != nil {
			return nil, fmt.Errorf("reading the do-not-call list: %w", err)
		}
	}
	return out, nil
}

// lockIntegration takes the transaction-scoped advisory lock of an
// integration on PostgreSQL: shared for a page's import, exclusive for an
// erasure.
func (e *Engine) lockIntegration(ctx context.Context, tx *sql.Tx, id pulid.ID, exclusive bool) error {
	if e.dia != dialect.Postgres {
		return nil
	}
	h := fnv.New64a()
	h.Write([]byte("intake-erasure/" + string(id)))
	fn := "pg_advisory_xact_lock_shared"
	if exclusive {
		fn = "pg_advisory_xact_lock"
	}
	if _, err := tx.ExecContext(ctx, `SELECT `+fn+`($1)`, int64(h.Sum64())); err != nil {
		return fmt.Errorf("locking integration %s: %w", id, err)
	}
	return nil
}

// phs is n placeholders from the from-th, comma-separated.
func (e *Engine) phs(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(e.ph(from + i))
	}
	return b.String()
}

// queryer is a transaction or a pool.
type queryer interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// scanTx is scanStrings in a transaction (or on a pool).
func (e *Engine) scanTx(ctx context.Context, tx queryer, q string, args []any, row func([]string)) error {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	return scanRows(rows, row)
}
