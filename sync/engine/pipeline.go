package engine

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"entgo.io/ent/dialect"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/importissue"
	"github.com/intake/intake/internal/phone"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/sync/connector"
)

// importer turns fetched pages into contacts and import issues, one
// transaction per page.
type importer struct {
	e          *Engine
	runID      pulid.ID
	orgID      pulid.ID
	campaignID pulid.ID
	triggerID  pulid.ID
	region     string
	refs       map[string]bool // the trigger's reference IDs; empty: no filter
	cursor     string          // the checkpoint after the last imported page
	fetched    int             // records fetched by this worker
}

func newImporter(e *Engine, run *ent.SyncRun, t *ent.Trigger) *importer {
	im := &importer{
		e: e, runID: run.ID, orgID: run.OrganizationID, campaignID: t.CampaignID, triggerID: t.ID,
		region: t.Edges.Campaign.PhoneRegion, refs: map[string]bool{}, cursor: run.Cursor,
		fetched: run.Fetched,
	}
	for _, r := range t.Edges.References {
		im.refs[r.ExternalID] = true
	}
	return im
}

// candidate is a record that passed validation, waiting for insertion.
type candidate struct {
	id   pulid.ID // the contact it becomes
	rec  *connector.Record
	e164 string
	raw  string
}

// pageDup is a record whose number an earlier record of the page has.
type pageDup struct {
	rec   *connector.Record
	raw   string
	first *candidate
}

// issue is a record that will not be imported, and why.
type issue struct {
	externalID string
	code       importissue.Code
	message    string
	rawPhone   string
}

// counts are a page's contribution to the run's counters.
type counts struct {
	fetched, imported, duplicates, invalidPhone, filteredOut, failed int
}

func (c *counts) add(code importissue.Code) {
	switch code {
	case importissue.CodeDUPLICATE:
		c.duplicates++
	case importissue.CodeMISSING_PHONE, importissue.CodeINVALID_PHONE:
		c.invalidPhone++
	case importissue.CodeFILTERED_OUT:
		c.filteredOut++
	default:
		c.failed++
	}
}

// importPage validates, filters and de-duplicates a page, inserts its
// contacts and issues, and checkpoints the cursor and counters, all in one
// transaction that commits only while this worker owns the running run.
func (im *importer) importPage(ctx context.Context, p *connector.Page) error {
	cands, pageDups, issues := im.classify(p.Records)
	now := time.Now().UTC()
	c := counts{fetched: len(p.Records)}
	err := im.e.inTx(ctx, func(tx *sql.Tx, _ *ent.Client) error {
		inserted, err := im.insertContacts(ctx, tx, cands, now)
		if err != nil {
			return err
		}
		dups, err := im.duplicatesInCampaign(ctx, tx, cands, pageDups, inserted)
		if err != nil {
			return err
		}
		issues := append(issues, dups...)
		c.imported = len(inserted)
		for _, is := range issues {
			c.add(is.code)
		}
		if err := im.insertIssues(ctx, tx, issues, now); err != nil {
			return err
		}
		return im.checkpoint(ctx, tx, c, p, now)
	})
	if err != nil {
		return err
	}
	im.cursor = p.Cursor
	im.fetched += c.fetched
	return nil
}

// classify applies, in order: the connector's verdict, phone normalisation
// (campaign region), the trigger's references, and de-duplication within
// the page.
func (im *importer) classify(recs []connector.Record) ([]*candidate, []pageDup, []issue) {
	var cands []*candidate
	var dups []pageDup
	var issues []issue
	first := map[string]*candidate{} // E.164 -> the page's first record with it
	for i := range recs {
		r := &recs[i]
		if r.Problem != "" {
			issues = append(issues, issue{r.ExternalID, importissue.CodeINVALID_RECORD, r.Problem, ""})
			continue
		}
		e164, raw, prob, msg := phone.First(r.Phones, im.region)
		switch prob {
		case phone.MissingPhone:
			issues = append(issues, issue{r.ExternalID, importissue.CodeMISSING_PHONE, msg, ""})
			continue
		case phone.InvalidPhone:
			issues = append(issues, issue{r.ExternalID, importissue.CodeINVALID_PHONE, msg, truncate(raw, 250)})
			continue
		}
		if len(im.refs) > 0 && !slices.ContainsFunc(r.ReferenceIDs, func(id string) bool { return im.refs[id] }) {
			issues = append(issues, issue{r.ExternalID, importissue.CodeFILTERED_OUT, "belongs to none of the trigger's references", ""})
			continue
		}
		if prev, dup := first[e164]; dup {
			dups = append(dups, pageDup{rec: r, raw: raw, first: prev})
			continue
		}
		c := &candidate{id: pulid.New("con"), rec: r, e164: e164, raw: raw}
		first[e164] = c
		cands = append(cands, c)
	}
	return cands, dups, issues
}

// rowsPerStatement keeps multi-row statements under SQLite's and
// PostgreSQL's parameter limits.
const rowsPerStatement = 500

// insertContacts inserts the candidates, skipping numbers the campaign
// already has, and returns the E.164 numbers actually inserted.
func (im *importer) insertContacts(ctx context.Context, tx *sql.Tx, cands []*candidate, now time.Time) (map[string]bool, error) {
	inserted := make(map[string]bool, len(cands))
	for chunk := range slices.Chunk(cands, rowsPerStatement) {
		var q strings.Builder
		q.WriteString(`INSERT INTO contacts (id, organization_id, created_at, phone_e164, phone_raw, first_name, last_name, email, external_id, attributes, campaign_id, trigger_id) VALUES `)
		args := make([]any, 0, len(chunk)*12)
		for i, c := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			im.values(&q, len(args), 12)
			attrs, err := json.Marshal(c.rec.Attributes)
			if err != nil || c.rec.Attributes == nil {
				attrs = []byte("{}")
			}
			args = append(args, c.id, im.orgID, now, c.e164, truncate(c.raw, 250),
				nullable(c.rec.FirstName), nullable(c.rec.LastName), nullable(c.rec.Email),
				truncate(c.rec.ExternalID, 200), string(attrs), im.campaignID, im.triggerID)
		}
		q.WriteString(` ON CONFLICT (campaign_id, phone_e164) DO NOTHING RETURNING phone_e164`)
		rows, err := tx.QueryContext(ctx, q.String(), args...)
		if err != nil {
			return nil, fmt.Errorf("inserting contacts: %w", err)
		}
		for rows.Next() {
			var e164 string
			if err := rows.Scan(&e164); err != nil {
				rows.Close()
				return nil, err
			}
			inserted[e164] = true
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return inserted, nil
}

// duplicatesInCampaign makes the DUPLICATE issues: of candidates not
// inserted because the campaign has their number, and of records whose
// number an earlier record of the page has. Each names the contact that
// holds the number.
func (im *importer) duplicatesInCampaign(ctx context.Context, tx *sql.Tx, cands []*candidate, pageDups []pageDup, inserted map[string]bool) ([]issue, error) {
	var skipped []*candidate
	for _, c := range cands {
		if !inserted[c.e164] {
			skipped = append(skipped, c)
		}
	}
	existing := map[string][2]string{} // E.164 -> contact ID, external ID
	for _, c := range cands {
		if inserted[c.e164] {
			existing[c.e164] = [2]string{string(c.id), c.rec.ExternalID}
		}
	}
	for chunk := range slices.Chunk(skipped, rowsPerStatement) { // none: no query
		var q strings.Builder
		q.WriteString(`SELECT phone_e164, id, external_id FROM contacts WHERE campaign_id = ` + im.ph(1) + ` AND phone_e164 IN (`)
		args := []any{im.campaignID}
		for i, c := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString(im.ph(len(args) + 1))
			args = append(args, c.e164)
		}
		q.WriteByte(')')
		rows, err := tx.QueryContext(ctx, q.String(), args...)
		if err != nil {
			return nil, fmt.Errorf("finding duplicates: %w", err)
		}
		for rows.Next() {
			var e164, id, ext string
			if err := rows.Scan(&e164, &id, &ext); err != nil {
				rows.Close()
				return nil, err
			}
			existing[e164] = [2]string{id, ext}
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	out := make([]issue, 0, len(skipped)+len(pageDups))
	dup := func(rec *connector.Record, e164, raw string) {
		msg := "number " + e164 + " is already in the campaign"
		if ex, ok := existing[e164]; ok {
			msg = fmt.Sprintf("number %s is already in the campaign as contact %s (external ID %s)", e164, ex[0], ex[1])
		}
		out = append(out, issue{rec.ExternalID, importissue.CodeDUPLICATE, msg, raw})
	}
	for _, c := range skipped {
		dup(c.rec, c.e164, c.raw)
	}
	for _, d := range pageDups {
		dup(d.rec, d.first.e164, d.raw)
	}
	return out, nil
}

func (im *importer) insertIssues(ctx context.Context, tx *sql.Tx, issues []issue, now time.Time) error {
	for chunk := range slices.Chunk(issues, rowsPerStatement) {
		var q strings.Builder
		q.WriteString(`INSERT INTO import_issues (id, organization_id, created_at, external_id, code, message, raw_phone, run_id) VALUES `)
		args := make([]any, 0, len(chunk)*8)
		for i, is := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			im.values(&q, len(args), 8)
			args = append(args, pulid.New("iss"), im.orgID, now, truncate(is.externalID, 200), string(is.code),
				truncate(is.message, 1000), nullable(is.rawPhone), im.runID)
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("inserting import issues: %w", err)
		}
	}
	return nil
}

// checkpoint adds the page's counts and moves the cursor, if and only if
// the run is still RUNNING under this worker's lease.
func (im *importer) checkpoint(ctx context.Context, tx *sql.Tx, c counts, p *connector.Page, now time.Time) error {
	var total any
	if p.Total >= 0 {
		total = p.Total
	}
	q := fmt.Sprintf(`UPDATE sync_runs SET fetched = fetched + %[1]s, imported = imported + %[2]s, duplicates = duplicates + %[3]s,
		invalid_phone = invalid_phone + %[4]s, filtered_out = filtered_out + %[5]s, failed = failed + %[6]s,
		total = COALESCE(%[7]s, total), cursor = %[8]s, lease_expires_at = %[9]s, updated_at = %[10]s
		WHERE id = %[11]s AND lease_owner = %[12]s AND status = 'RUNNING'`,
		im.ph(1), im.ph(2), im.ph(3), im.ph(4), im.ph(5), im.ph(6), im.ph(7), im.ph(8), im.ph(9), im.ph(10), im.ph(11), im.ph(12))
	res, err := tx.ExecContext(ctx, q, c.fetched, c.imported, c.duplicates, c.invalidPhone, c.filteredOut, c.failed,
		total, p.Cursor, now.Add(im.e.cfg.Lease), now, im.runID, im.e.cfg.ID)
	if err != nil {
		return fmt.Errorf("checkpointing: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return errStopped
	}
	return nil
}

// values writes one row of n placeholders starting after the first `from`.
func (im *importer) values(q *strings.Builder, from, n int) {
	q.WriteByte('(')
	for i := 1; i <= n; i++ {
		if i > 1 {
			q.WriteByte(',')
		}
		q.WriteString(im.ph(from + i))
	}
	q.WriteByte(')')
}

// ph is the i-th (1-based) placeholder of the dialect.
func (im *importer) ph(i int) string {
	if im.e.dia == dialect.Postgres {
		return "$" + strconv.Itoa(i)
	}
	return "?"
}

func nullable(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut]
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
