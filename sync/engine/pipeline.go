package engine

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"entgo.io/ent/dialect"
	"github.com/lib/pq"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/internal/phone"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/schema/schematype"
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
	integID    pulid.ID
	// providerName names the external system in erasure reasons.
	providerName string
	region       string
	refs         map[string]bool // the trigger's reference IDs; empty: no filter
	// accept tells the number types the campaign calls.
	accept  func(schematype.NumberType) bool
	cursor  string // the checkpoint after the last imported page
	fetched int    // records fetched by this worker
	// importUnsure: candidates the screening model could not judge
	// (UNSURE) are imported.
	importUnsure bool
	// tokens reports the screening tokens spent so far; tokensCounted is
	// the part already added to the run.
	tokens        func() int64
	tokensCounted int64
}

func newImporter(e *Engine, run *ent.SyncRun, t *ent.Trigger) *importer {
	im := &importer{
		e: e, runID: run.ID, orgID: run.OrganizationID, campaignID: t.CampaignID, triggerID: t.ID, integID: t.IntegrationID,
		region: t.Edges.Campaign.PhoneRegion, refs: map[string]bool{}, cursor: run.Cursor,
		fetched: run.Fetched, importUnsure: t.ImportUnsure,
	}
	if t.Edges.Integration != nil {
		im.providerName = string(t.Edges.Integration.Provider)
	}
	for _, r := range t.Edges.References {
		im.refs[r.ExternalID] = true
	}
	accepted := t.Edges.Campaign.AcceptedNumberTypes
	if accepted == nil {
		accepted = schematype.DefaultAcceptedNumberTypes()
	}
	im.accept = func(nt schematype.NumberType) bool { return slices.Contains(accepted, nt) }
	return im
}

// candidate is a record that passed validation, waiting for insertion.
type candidate struct {
	id   pulid.ID // the contact it becomes
	rec  *connector.Record
	e164 string
	raw  string
	info phone.Info
	// Set by screening, before the page is imported: known when the
	// campaign already had the number (the candidate is not screened and
	// becomes a DUPLICATE); else the decision and its reason ("" when
	// the run does not screen).
	known    bool
	decision schematype.ScreeningDecision
	reason   string
}

// pageDup is a record whose number an earlier record of the page has.
type pageDup struct {
	rec   *connector.Record
	raw   string
	first *candidate
}

// goneRecord is a person the external system reports deleted or
// anonymised.
type goneRecord struct{ externalID, status string }

// issue is a record that will not be imported, and why.
type issue struct {
	externalID string
	code       schematype.ImportIssueCode
	message    string
	rawPhone   string
}

// counts are a page's contribution to the run's counters.
type counts struct {
	fetched, imported, duplicates, invalidPhone, filteredOut, failed int
	screened, screenedOut, unsure, tokens, erased, doNotCall         int
}

func (c *counts) add(code schematype.ImportIssueCode) {
	switch code {
	case schematype.IssueDuplicate:
		c.duplicates++
	case schematype.IssueMissingPhone, schematype.IssueInvalidPhone, schematype.IssueUnsupportedNumberType:
		c.invalidPhone++
	case schematype.IssueFilteredOut:
		c.filteredOut++
	case schematype.IssueScreenedOut:
		c.screenedOut++
	case schematype.IssueErased:
		c.erased++
	case schematype.IssueDoNotCall:
		c.doNotCall++
	default:
		c.failed++
	}
}

// prepared is a fetched page, classified and ready to import.
type prepared struct {
	page     *connector.Page
	cands    []*candidate
	pageDups []pageDup
	issues   []issue
	gone     []goneRecord // records of people the external system reports gone
	err      error        // the fetch ended with this error instead of a page

	// Screening (screen.go): done is closed once every candidate has a
	// decision or failed to get one; left counts those still waiting.
	done chan struct{}
	left atomic.Int32
	mu   sync.Mutex
	// notJudged candidates got no decision, the last failure being
	// screenErr: the page must not be imported.
	notJudged int
	screenErr error
	// internalErr: reading what screening needs from the database failed.
	internalErr error
}

// fetch fetches and classifies pages ahead of its caller, so that the next
// page's request and phone validation overlap the current page's work.
// Nothing is written here: a page counts only once its import commits.
// The channel closes after the last page or the page carrying the fetch's
// error; stop ends the fetch early and waits for it.
func (im *importer) fetch(ctx context.Context, conn connector.Connector, req connector.FetchRequest) (<-chan *prepared, func()) {
	ctx, cancel := context.WithCancel(ctx)
	ready := make(chan *prepared, 1)
	go func() {
		defer close(ready)
		for page, err := range conn.Fetch(ctx, req) {
			p := &prepared{page: page, err: err, done: make(chan struct{})}
			if err == nil {
				p.cands, p.pageDups, p.issues, p.gone = im.classify(page.Records)
			}
			select {
			case ready <- p:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	var once sync.Once
	return ready, func() {
		once.Do(func() {
			cancel()
			for range ready { // let the fetch end before returning
			}
		})
	}
}

// inOrder yields the pages of a channel.
func inOrder(ch <-chan *prepared) iter.Seq[*prepared] {
	return func(yield func(*prepared) bool) {
		for p := range ch {
			if !yield(p) {
				return
			}
		}
	}
}

// importPage inserts a prepared page's contacts and issues, finds which
// candidates the campaign already had, and checkpoints the cursor and
// counters, all in one transaction that commits only while this worker owns
// the running run.
func (im *importer) importPage(ctx context.Context, p *prepared) error {
	now := time.Now().UTC()
	c := counts{fetched: len(p.page.Records)}
	insert, screenedOut := im.screened(p.cands, &c)
	spent := im.tokensCounted
	if im.tokens != nil {
		spent = im.tokens()
		c.tokens = int(spent - im.tokensCounted)
	}
	var byCode map[string]int
	before := c
	err := im.e.inTx(ctx, func(tx *sql.Tx, _ *ent.Client) error {
		c = before // counted again if the transaction runs again
		insert, pageDups, erased, err := im.erasures(ctx, tx, p, insert)
		if err != nil {
			return err
		}
		insert, pageDups, listed, err := im.doNotCall(ctx, tx, insert, pageDups)
		if err != nil {
			return err
		}
		erased = append(erased, listed...)
		inserted, err := im.insertContacts(ctx, tx, insert, now)
		if err != nil {
			return err
		}
		dups, err := im.duplicatesInCampaign(ctx, tx, insert, pageDups, inserted)
		if err != nil {
			return err
		}
		issues := append(append(append(slices.Clip(p.issues), screenedOut...), erased...), dups...)
		c.imported = len(inserted)
		byCode = make(map[string]int, 4)
		for _, is := range issues {
			c.add(is.code)
			byCode[string(is.code)]++
		}
		if err := im.insertIssues(ctx, tx, issues, now); err != nil {
			return err
		}
		return im.checkpoint(ctx, tx, c, p.page, now)
	})
	if err != nil {
		return err
	}
	im.tokensCounted = spent
	im.cursor = p.page.Cursor
	im.fetched += c.fetched
	im.e.obs.PageImported(c.imported, byCode)
	return nil
}

// erasures applies erasure to a page, in its transaction: it erases the
// people the external system reports gone, and keeps from import anyone
// erased before (a tombstone of this integration). It returns the
// candidates and page duplicates left, and an ERASED issue, without
// external ID or number, for each record dropped.
func (im *importer) erasures(ctx context.Context, tx *sql.Tx, p *prepared, cands []*candidate) ([]*candidate, []pageDup, []issue, error) {
	if err := im.e.lockIntegration(ctx, tx, im.integID, len(p.gone) > 0); err != nil {
		return nil, nil, nil, err
	}
	var out []issue
	if len(p.gone) > 0 {
		byStatus := map[string][]string{}
		for _, g := range p.gone {
			byStatus[g.status] = append(byStatus[g.status], g.externalID)
			out = append(out, issue{"", schematype.IssueErased, "the external system reports the person " + g.status + ": erased", ""})
		}
		for _, status := range slices.Sorted(maps.Keys(byStatus)) {
			if _, err := im.e.EraseTx(ctx, tx, EraseRequest{
				OrgID: im.orgID, IntegrationID: im.integID, ExternalIDs: byStatus[status],
				Reason: im.providerName + " reports the person " + status,
			}); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	if len(cands) == 0 && len(p.pageDups) == 0 {
		return cands, p.pageDups, out, nil
	}
	refs := make([]string, 0, len(cands)+len(p.pageDups))
	for _, c := range cands {
		refs = append(refs, ErasureRef(im.integID, c.rec.ExternalID))
	}
	for _, d := range p.pageDups {
		refs = append(refs, ErasureRef(im.integID, d.rec.ExternalID))
	}
	erased, err := im.e.erasedRefs(ctx, tx, im.orgID, refs)
	if err != nil || len(erased) == 0 {
		return cands, p.pageDups, out, err
	}
	const msg = "the person was erased: not imported again"
	keep := cands[:0:0]
	for _, c := range cands {
		if erased[ErasureRef(im.integID, c.rec.ExternalID)] {
			out = append(out, issue{"", schematype.IssueErased, msg, ""})
			continue
		}
		keep = append(keep, c)
	}
	dups := p.pageDups[:0:0]
	for _, d := range p.pageDups {
		if erased[ErasureRef(im.integID, d.rec.ExternalID)] {
			out = append(out, issue{"", schematype.IssueErased, msg, ""})
			continue
		}
		dups = append(dups, d)
	}
	return keep, dups, out, nil
}

// doNotCall drops the candidates and page duplicates whose number is on
// the organization's do-not-call list, as DO_NOT_CALL issues.
func (im *importer) doNotCall(ctx context.Context, tx *sql.Tx, cands []*candidate, dups []pageDup) ([]*candidate, []pageDup, []issue, error) {
	numbers := make([]string, 0, len(cands)+len(dups))
	for _, c := range cands {
		numbers = append(numbers, c.e164)
	}
	for _, d := range dups {
		numbers = append(numbers, d.first.e164)
	}
	listed, err := im.e.listedNumbers(ctx, tx, im.orgID, numbers)
	if err != nil || len(listed) == 0 {
		return cands, dups, nil, err
	}
	const msg = "the number is on the organization's do-not-call list"
	var out []issue
	keep := cands[:0:0]
	for _, c := range cands {
		if listed[c.e164] {
			out = append(out, issue{c.rec.ExternalID, schematype.IssueDoNotCall, msg, truncate(c.raw, 250)})
			continue
		}
		keep = append(keep, c)
	}
	keepDups := dups[:0:0]
	for _, d := range dups {
		if listed[d.first.e164] {
			out = append(out, issue{d.rec.ExternalID, schematype.IssueDoNotCall, msg, truncate(d.raw, 250)})
			continue
		}
		keepDups = append(keepDups, d)
	}
	return keep, keepDups, out, nil
}

// screened applies the screening decisions of a page's candidates: it
// returns the candidates to insert (matches, unsure ones when the trigger
// imports them, unscreened ones, and those whose number the campaign has,
// which become duplicates) and the SCREENED_OUT issues of the others,
// and counts them in c.
func (im *importer) screened(cands []*candidate, c *counts) ([]*candidate, []issue) {
	insert := cands[:0:0]
	var out []issue
	for _, cd := range cands {
		switch cd.decision {
		case "":
		case schematype.DecisionNoMatch:
			c.screened++
			out = append(out, issue{cd.rec.ExternalID, schematype.IssueScreenedOut,
				"does not fit the trigger's description (NO_MATCH): " + cd.reason, truncate(cd.raw, 250)})
			continue
		case schematype.DecisionUnsure:
			c.screened++
			c.unsure++
			if !im.importUnsure {
				out = append(out, issue{cd.rec.ExternalID, schematype.IssueScreenedOut,
					"the model could not tell whether it fits the description (UNSURE) and the trigger imports only matches: " + cd.reason, truncate(cd.raw, 250)})
				continue
			}
		default:
			c.screened++
		}
		insert = append(insert, cd)
	}
	return insert, out
}

// classify applies, in order: the connector's verdict, phone normalisation
// (campaign region), the trigger's references, and de-duplication within
// the page.
func (im *importer) classify(recs []connector.Record) ([]*candidate, []pageDup, []issue, []goneRecord) {
	var cands []*candidate
	var dups []pageDup
	var issues []issue
	var gone []goneRecord
	first := map[string]*candidate{} // E.164 -> the page's first record with it
	for i := range recs {
		r := &recs[i]
		dropNUL(r)
		if r.Gone != "" {
			gone = append(gone, goneRecord{r.ExternalID, r.Gone})
			continue
		}
		if r.Problem != "" {
			issues = append(issues, issue{r.ExternalID, schematype.IssueInvalidRecord, r.Problem, ""})
			continue
		}
		e164, raw, info, prob, msg := phone.FirstAccepted(r.Phones, im.region, im.accept)
		if prob != "" { // the issue's code; raw is "" when the phone is missing
			issues = append(issues, issue{r.ExternalID, prob, msg, truncate(raw, 250)})
			continue
		}
		if len(im.refs) > 0 && !slices.ContainsFunc(r.ReferenceIDs, func(id string) bool { return im.refs[id] }) {
			issues = append(issues, issue{r.ExternalID, schematype.IssueFilteredOut, "belongs to none of the trigger's references", ""})
			continue
		}
		if prev, dup := first[e164]; dup {
			dups = append(dups, pageDup{rec: r, raw: raw, first: prev})
			continue
		}
		c := &candidate{id: pulid.New("con"), rec: r, e164: e164, raw: raw, info: info}
		first[e164] = c
		cands = append(cands, c)
	}
	return cands, dups, issues, gone
}

// rowsPerStatement keeps multi-row statements under SQLite's parameter
// limit. PostgreSQL takes a page's rows as arrays in one statement.
const rowsPerStatement = 500

// insertContacts inserts the candidates, skipping numbers the campaign
// already has, and returns the E.164 numbers actually inserted.
func (im *importer) insertContacts(ctx context.Context, tx *sql.Tx, cands []*candidate, now time.Time) (map[string]bool, error) {
	inserted := make(map[string]bool, len(cands))
	scan := func(rows *sql.Rows, err error) error {
		if err != nil {
			return fmt.Errorf("inserting contacts: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var e164 string
			if err := rows.Scan(&e164); err != nil {
				return err
			}
			inserted[e164] = true
		}
		return rows.Err()
	}
	if slices.ContainsFunc(cands, func(c *candidate) bool { return c.known }) {
		// The campaign has their numbers: they become duplicates.
		cands = slices.DeleteFunc(slices.Clone(cands), func(c *candidate) bool { return c.known })
	}
	if len(cands) == 0 {
		return inserted, nil
	}
	if im.e.dia == dialect.Postgres {
		// One statement whatever the page size: unnest plans in constant
		// time, where thousands of VALUES parameters do not.
		cols := make([]pq.StringArray, 13)
		for i := range cols {
			cols[i] = make(pq.StringArray, len(cands))
		}
		for i, c := range cands {
			cols[0][i], cols[1][i], cols[2][i] = string(c.id), c.e164, truncate(c.raw, 250)
			cols[3][i], cols[4][i], cols[5][i] = c.rec.FirstName, c.rec.LastName, c.rec.Email
			cols[6][i], cols[7][i] = truncate(c.rec.ExternalID, 200), attributes(c.rec)
			cols[8][i], cols[9][i] = string(c.decision), noNUL(c.reason)
			cols[10][i], cols[11][i], cols[12][i] = string(c.info.Type), c.info.TimeZone, c.info.Region
		}
		return inserted, scan(tx.QueryContext(ctx, `INSERT INTO contacts (id, organization_id, created_at, phone_e164, phone_raw,
			first_name, last_name, email, external_id, attributes, screening_decision, screening_reason, number_type, time_zone, region, campaign_id, trigger_id)
		SELECT u.id, $1, $2, u.e164, u.raw, NULLIF(u.first, ''), NULLIF(u.last, ''), NULLIF(u.email, ''), u.ext, u.attrs::jsonb,
			NULLIF(u.decision, ''), CASE WHEN u.decision = '' THEN NULL ELSE u.reason END, NULLIF(u.ntype, ''), NULLIF(u.tz, ''), NULLIF(u.region, ''), $3, $4
		FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[],
			$15::text[], $16::text[], $17::text[])
			AS u(id, e164, raw, first, last, email, ext, attrs, decision, reason, ntype, tz, region)
		ON CONFLICT (campaign_id, phone_e164) WHERE erased_at IS NULL DO NOTHING RETURNING phone_e164`,
			im.orgID, now, im.campaignID, im.triggerID,
			cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], cols[8], cols[9], cols[10], cols[11], cols[12]))
	}
	for chunk := range slices.Chunk(cands, rowsPerStatement) {
		var q strings.Builder
		q.WriteString(`INSERT INTO contacts (id, organization_id, created_at, phone_e164, phone_raw, first_name, last_name, email, external_id, attributes,
			screening_decision, screening_reason, number_type, time_zone, region, campaign_id, trigger_id) VALUES `)
		args := make([]any, 0, len(chunk)*17)
		for i, c := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			im.values(&q, len(args), 17)
			reason := sql.NullString{String: c.reason, Valid: c.decision != ""}
			args = append(args, c.id, im.orgID, now, c.e164, truncate(c.raw, 250),
				nullable(c.rec.FirstName), nullable(c.rec.LastName), nullable(c.rec.Email),
				truncate(c.rec.ExternalID, 200), attributes(c.rec), nullable(string(c.decision)), reason,
				nullable(string(c.info.Type)), nullable(c.info.TimeZone), nullable(c.info.Region), im.campaignID, im.triggerID)
		}
		q.WriteString(` ON CONFLICT (campaign_id, phone_e164) WHERE erased_at IS NULL DO NOTHING RETURNING phone_e164`)
		if err := scan(tx.QueryContext(ctx, q.String(), args...)); err != nil {
			return nil, err
		}
	}
	return inserted, nil
}

// attributes is a record's attributes as a JSON object.
func attributes(r *connector.Record) string {
	if r.Attributes == nil {
		return "{}"
	}
	b, err := json.Marshal(r.Attributes)
	if err != nil {
		return "{}"
	}
	if bytes.Contains(b, []byte(`\u0000`)) { // a NUL, or a backslash before "u0000": clean either way
		if b, err = json.Marshal(withoutNUL(r.Attributes)); err != nil {
			return "{}"
		}
	}
	return string(b)
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
		q.WriteString(`SELECT phone_e164, id, external_id FROM contacts WHERE campaign_id = ` + im.e.ph(1) + ` AND phone_e164 IN (`)
		args := []any{im.campaignID}
		for i, c := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString(im.e.ph(len(args) + 1))
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
		out = append(out, issue{rec.ExternalID, schematype.IssueDuplicate, msg, raw})
	}
	for _, c := range skipped {
		dup(c.rec, c.e164, c.raw)
	}
	for _, d := range pageDups {
		if _, ok := existing[d.first.e164]; !ok && d.first.decision != "" {
			// The page's first record with the number was screened out.
			out = append(out, issue{d.rec.ExternalID, schematype.IssueDuplicate, fmt.Sprintf(
				"number %s is also the number of record %s earlier in the page, which was screened out", d.first.e164, d.first.rec.ExternalID), d.raw})
			continue
		}
		dup(d.rec, d.first.e164, d.raw)
	}
	return out, nil
}

func (im *importer) insertIssues(ctx context.Context, tx *sql.Tx, issues []issue, now time.Time) error {
	if len(issues) == 0 {
		return nil
	}
	if im.e.dia == dialect.Postgres {
		cols := make([]pq.StringArray, 5)
		for i := range cols {
			cols[i] = make(pq.StringArray, len(issues))
		}
		for i, is := range issues {
			cols[0][i], cols[1][i], cols[2][i] = string(pulid.New("iss")), truncate(is.externalID, 200), string(is.code)
			cols[3][i], cols[4][i] = truncate(is.message, 1000), is.rawPhone
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO import_issues (id, organization_id, created_at, external_id, code, message, raw_phone, run_id)
		SELECT u.id, $1, $2, u.ext, u.code, u.msg, NULLIF(u.raw, ''), $3
		FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) AS u(id, ext, code, msg, raw)`,
			im.orgID, now, im.runID, cols[0], cols[1], cols[2], cols[3], cols[4])
		if err != nil {
			return fmt.Errorf("inserting import issues: %w", err)
		}
		return nil
	}
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
		screened = screened + %[7]s, screened_out = screened_out + %[8]s, unsure = unsure + %[9]s, screening_tokens = screening_tokens + %[10]s,
		erased = erased + %[11]s, do_not_call = do_not_call + %[12]s,
		total = COALESCE(%[13]s, total), cursor = %[14]s, lease_expires_at = %[15]s, updated_at = %[16]s
		WHERE id = %[17]s AND lease_owner = %[18]s AND status = 'RUNNING'`, // placeholders in textual order: SQLite binds ? by position
		im.e.ph(1), im.e.ph(2), im.e.ph(3), im.e.ph(4), im.e.ph(5), im.e.ph(6), im.e.ph(7), im.e.ph(8),
		im.e.ph(9), im.e.ph(10), im.e.ph(11), im.e.ph(12), im.e.ph(13), im.e.ph(14), im.e.ph(15), im.e.ph(16), im.e.ph(17), im.e.ph(18))
	res, err := tx.ExecContext(ctx, q, c.fetched, c.imported, c.duplicates, c.invalidPhone, c.filteredOut, c.failed,
		c.screened, c.screenedOut, c.unsure, c.tokens, c.erased, c.doNotCall,
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
		q.WriteString(im.e.ph(from + i))
	}
	q.WriteByte(')')
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

// dropNUL removes NUL characters from a record's text, which PostgreSQL
// cannot store: one stray NUL in an external system would otherwise fail
// its page on every retry. Attributes are cleaned when they are encoded.
func dropNUL(r *connector.Record) {
	r.ExternalID, r.FirstName, r.LastName, r.Email, r.Problem = noNUL(r.ExternalID), noNUL(r.FirstName), noNUL(r.LastName), noNUL(r.Email), noNUL(r.Problem)
	for i := range r.Phones {
		r.Phones[i] = noNUL(r.Phones[i])
	}
	for i := range r.ReferenceIDs {
		r.ReferenceIDs[i] = noNUL(r.ReferenceIDs[i])
	}
}

func noNUL(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "")
}

// withoutNUL is v with NUL characters removed from every string in it.
func withoutNUL(v any) any {
	switch v := v.(type) {
	case string:
		return noNUL(v)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[noNUL(k)] = withoutNUL(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = withoutNUL(x)
		}
		return out
	}
	return v
}
