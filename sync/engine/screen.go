package engine

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/screening"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
)

// Screening: the step between classification and import that has a
// language model judge each candidate against the trigger's description.
//
// Pages stay in fetch order, but their candidates are judged in batches
// that span pages, so that the model always has Concurrency full batches
// to work on while the fetch runs ahead and earlier pages are imported:
//
//	fetch+classify --pages--> feed --batches--> Concurrency workers (Judge)
//	                           |                      | decisions
//	                           +--pages, in order-----+--> import, page by page
//
// feed looks up, per page, which candidates need the model at all: not
// those whose number the campaign already has (they become duplicates),
// not people erased before (they become ERASED issues),
// not those without fit attributes (UNSURE without asking), not those
// whose decision is cached (screening_verdicts, keyed by model,
// description and the data shown). Candidates showing the same data as
// one already on its way wait for that one's decision instead of being
// asked again. Each decision is cached as soon as it arrives, so that a
// page that is never imported (a crash, a model outage further on) costs
// nothing the next time.
//
// A page is imported once every candidate of it has a decision. When the
// model keeps failing for a candidate, its page is not imported: the run
// ends PARTIAL at the last imported page, and the next run fetches that
// page again and judges what is still undecided.

// maxPagesAhead bounds the pages fetched and waiting for decisions ahead
// of the page being imported.
const maxPagesAhead = 32

// noFitAttributes is the reason of an UNSURE decision made without the
// model, for a record that has no data to judge.
const noFitAttributes = "The record has no data that describes fit (no fit attributes), so it cannot be judged."

// screener judges the candidates of one run.
type screener struct {
	e          *Engine
	client     *screening.Client
	desc       string
	orgID      pulid.ID
	campaignID pulid.ID
	integID    pulid.ID
	tokens     atomic.Int64

	mu sync.Mutex
	// waiting holds, per key on its way to the model, the records that
	// wait for its decision (the first of them is the one sent).
	waiting map[string][]*pending
}

// pending is a candidate waiting for the model's decision.
type pending struct {
	p     *prepared
	c     *candidate
	key   string
	attrs map[string]any
}

func (e *Engine) newScreener(orgID, campaignID, integID pulid.ID, description string) *screener {
	return &screener{
		e: e, client: e.screener, desc: description, orgID: orgID, campaignID: campaignID, integID: integID,
		waiting: map[string][]*pending{},
	}
}

// pages yields the pages of in, in order, each once all its candidates
// have a decision or have failed to get one (prepared.notJudged). A page
// carrying a fetch error comes after every page before it. Stopping the
// iteration stops the work and waits for it; it does not stop in.
func (s *screener) pages(ctx context.Context, in <-chan *prepared) iter.Seq[*prepared] {
	return func(yield func(*prepared) bool) {
		ctx, cancel := context.WithCancel(ctx)
		order := make(chan *prepared, maxPagesAhead)
		batches := make(chan []*pending)
		var wg sync.WaitGroup
		for range s.client.Concurrency() {
			wg.Go(func() {
				for b := range batches {
					s.judge(ctx, b)
				}
			})
		}
		wg.Go(func() { s.feed(ctx, in, order, batches) })
		defer func() {
			cancel()
			for range order { // feed stops on ctx
			}
			wg.Wait()
		}()
		for p := range order {
			select {
			case <-p.done:
			case <-ctx.Done():
				return
			}
			if !yield(p) {
				return
			}
		}
	}
}

// feed reads pages, queues them in order and sends their undecided
// candidates to the workers in batches of BatchSize. A partial batch goes
// out only when a worker is idle and no page is ready to fill it up, or
// when the pages ahead are at their bound.
func (s *screener) feed(ctx context.Context, in <-chan *prepared, order chan<- *prepared, batches chan<- []*pending) {
	defer close(order)
	defer close(batches)
	var buf []*pending
	// partial is batches while buf holds records: a nil channel never
	// sends, which disables the select cases that hand buf over.
	partial := func() chan<- []*pending {
		if len(buf) > 0 {
			return batches
		}
		return nil
	}
	flush := func() bool {
		if len(buf) == 0 {
			return true
		}
		select {
		case batches <- buf:
			buf = nil
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		var (
			p  *prepared
			ok bool
		)
		select {
		case p, ok = <-in:
		default:
			select {
			case p, ok = <-in:
			case partial() <- buf:
				buf = nil
				select {
				case p, ok = <-in:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
		if !ok {
			flush()
			return
		}
		var todo []*pending
		if p.err == nil {
			todo, p.internalErr = s.prefilter(ctx, p)
		}
		p.left.Store(int32(len(todo)))
		if len(todo) == 0 {
			close(p.done)
		}
		for queued := false; !queued; {
			select {
			case order <- p:
				queued = true
			case partial() <- buf: // the pages ahead wait for these
				buf = nil
			case <-ctx.Done():
				return
			}
		}
		if p.err != nil || p.internalErr != nil {
			flush() // the pages before it still need their decisions
			return
		}
		for _, r := range s.dedupe(todo) {
			buf = append(buf, r)
			if len(buf) == s.client.BatchSize() && !flush() {
				return
			}
		}
	}
}

// prefilter decides what it can of a page's candidates without the model
// and returns those that need it.
func (s *screener) prefilter(ctx context.Context, p *prepared) ([]*pending, error) {
	if len(p.cands) == 0 {
		return nil, nil
	}
	known, err := s.e.numbersInCampaign(ctx, s.campaignID, p.cands)
	if err != nil {
		return nil, err
	}
	refs := make([]string, len(p.cands))
	for i, c := range p.cands {
		refs[i] = ErasureRef(s.integID, c.rec.ExternalID)
	}
	erased, err := s.e.erasedRefs(ctx, s.e.db, s.orgID, refs)
	if err != nil {
		return nil, err
	}
	var todo []*pending
	for i, c := range p.cands {
		if known[c.e164] {
			c.known = true
			continue
		}
		if erased[refs[i]] {
			// Dropped at import, never shown to the model: tombstones stay.
			// (A number on the do-not-call list is judged all the same: it
			// may come off the list before the page is imported.)
			continue
		}
		attrs := connector.FitOf(c.rec.Attributes)
		if len(screening.Redact(attrs)) == 0 {
			c.decision, c.reason = schematype.DecisionUnsure, noFitAttributes
			continue
		}
		key, err := s.client.Key(s.desc, attrs)
		if err != nil {
			return nil, fmt.Errorf("screening record %s: %w", c.rec.ExternalID, err)
		}
		todo = append(todo, &pending{p: p, c: c, key: key, attrs: attrs})
	}
	keys := make([]string, len(todo))
	for i, r := range todo {
		keys[i] = r.key
	}
	cached, err := s.e.cachedVerdicts(ctx, s.orgID, keys)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(todo, func(r *pending) bool {
		v, ok := cached[r.key]
		if ok {
			r.c.decision, r.c.reason = v.decision, v.reason
		}
		return ok
	}), nil
}

// dedupe registers records as waiting for their key's decision and
// returns those that must be sent: the first with each key not already on
// its way.
func (s *screener) dedupe(todo []*pending) []*pending {
	s.mu.Lock()
	defer s.mu.Unlock()
	send := todo[:0:0]
	for _, r := range todo {
		w, onItsWay := s.waiting[r.key]
		s.waiting[r.key] = append(w, r)
		if !onItsWay {
			send = append(send, r)
		}
	}
	return send
}

// judge asks the model about one batch, caches the decisions it gets and
// hands every waiting record its decision or the failure.
func (s *screener) judge(ctx context.Context, b []*pending) {
	recs := make([]screening.Record, len(b))
	for i, r := range b {
		recs[i] = screening.Record{ID: strconv.Itoa(i + 1), Attributes: r.attrs}
	}
	verdicts, usage, err := s.client.Judge(ctx, s.desc, recs)
	s.tokens.Add(int64(usage.PromptTokens + usage.CompletionTokens))
	s.e.obs.Screened(usage.Requests, usage.PromptTokens+usage.CompletionTokens)
	var fresh []verdict
	for i, v := range verdicts {
		if v.Decision != "" {
			fresh = append(fresh, verdict{key: b[i].key, decision: schematype.ScreeningDecision(v.Decision), reason: v.Reason})
		}
	}
	if len(fresh) > 0 {
		// Paid for: keep them even when the run is stopping.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		if err := s.e.rememberVerdicts(sctx, s.orgID, fresh); err != nil {
			s.e.log.WarnContext(ctx, "caching screening decisions", slog.Any("err", err))
		}
		cancel()
	}
	if err == nil {
		err = fmt.Errorf("no decision") // not expected: Judge reports every record it leaves undecided
	}
	for i, v := range verdicts {
		s.mu.Lock()
		waiters := s.waiting[b[i].key]
		delete(s.waiting, b[i].key)
		s.mu.Unlock()
		for _, w := range waiters {
			if v.Decision != "" {
				w.c.decision, w.c.reason = schematype.ScreeningDecision(v.Decision), v.Reason
			} else {
				w.p.mu.Lock()
				w.p.notJudged++
				w.p.screenErr = err
				w.p.mu.Unlock()
			}
			if w.p.left.Add(-1) == 0 {
				close(w.p.done)
			}
		}
	}
}

// verdict is a cached decision.
type verdict struct {
	key      string
	decision schematype.ScreeningDecision
	reason   string
}

// numbersInCampaign returns which of the candidates' numbers the campaign
// already has.
func (e *Engine) numbersInCampaign(ctx context.Context, campaignID pulid.ID, cands []*candidate) (map[string]bool, error) {
	known := map[string]bool{}
	for chunk := range slices.Chunk(cands, rowsPerStatement) {
		var q strings.Builder
		q.WriteString(`SELECT phone_e164 FROM contacts WHERE campaign_id = ` + e.ph(1) + ` AND phone_e164 IN (`)
		args := []any{campaignID}
		for i, c := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString(e.ph(len(args) + 1))
			args = append(args, c.e164)
		}
		q.WriteByte(')')
		if err := e.scanStrings(ctx, q.String(), args, func(v []string) { known[v[0]] = true }); err != nil {
			return nil, fmt.Errorf("reading the campaign's numbers: %w", err)
		}
	}
	return known, nil
}

// cachedVerdicts returns the organization's cached decisions of keys.
func (e *Engine) cachedVerdicts(ctx context.Context, orgID pulid.ID, keys []string) (map[string]verdict, error) {
	out := map[string]verdict{}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	for chunk := range slices.Chunk(keys, rowsPerStatement) {
		var q strings.Builder
		q.WriteString(`SELECT key, decision, reason FROM screening_verdicts WHERE organization_id = ` + e.ph(1) + ` AND key IN (`)
		args := []any{orgID}
		for i, k := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString(e.ph(len(args) + 1))
			args = append(args, k)
		}
		q.WriteByte(')')
		err := e.scanStrings(ctx, q.String(), args, func(v []string) {
			out[v[0]] = verdict{key: v[0], decision: schematype.ScreeningDecision(v[1]), reason: v[2]}
		})
		if err != nil {
			return nil, fmt.Errorf("reading cached screening decisions: %w", err)
		}
	}
	return out, nil
}

// rememberVerdicts caches decisions; a key cached already keeps its
// decision.
func (e *Engine) rememberVerdicts(ctx context.Context, orgID pulid.ID, vs []verdict) error {
	now := time.Now().UTC()
	for chunk := range slices.Chunk(vs, rowsPerStatement) {
		var q strings.Builder
		q.WriteString(`INSERT INTO screening_verdicts (id, organization_id, created_at, key, decision, reason) VALUES `)
		args := make([]any, 0, len(chunk)*6)
		for i, v := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteByte('(')
			for j := 1; j <= 6; j++ {
				if j > 1 {
					q.WriteByte(',')
				}
				q.WriteString(e.ph(len(args) + j))
			}
			q.WriteByte(')')
			args = append(args, pulid.New("scv"), orgID, now, v.key, string(v.decision), noNUL(v.reason))
		}
		q.WriteString(` ON CONFLICT (organization_id, key) DO NOTHING`)
		if _, err := e.db.ExecContext(ctx, q.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// scanStrings runs a query whose columns are all text and calls row for
// each row.
func (e *Engine) scanStrings(ctx context.Context, q string, args []any, row func([]string)) error {
	rows, err := e.db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	return scanRows(rows, row)
}

// scanRows reads rows whose columns are all text, calls row for each and
// closes them.
func scanRows(rows *sql.Rows, row func([]string)) error {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]string, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		row(vals)
	}
	return rows.Err()
}

// screeningFailure is the message of a run that stopped at a page the
// model could not judge completely.
func screeningFailure(p *prepared) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("screening: %d record(s) could not be judged (%v); they were neither imported nor dropped, and the next run judges them (it continues from the last imported page)",
		p.notJudged, p.screenErr)
}
