package engine

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/screening"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
)

// MaxPreviewSample is the most records a preview judges.
const MaxPreviewSample = 50

// PreviewRecord is one record of a screening preview.
type PreviewRecord struct {
	Record connector.Record
	// Attributes are the fit attributes the model is shown, redacted.
	Attributes map[string]any
	// Decision and Reason are the model's; Decision is "" when the
	// preview judged nothing (no model configured).
	Decision schematype.ScreeningDecision
	Reason   string
}

// Preview is what a screening preview found.
type Preview struct {
	State   schematype.ScreeningState
	Model   string // "" when no model is configured
	Records []PreviewRecord
	// Tokens the model reported; Cached counts the records decided from
	// earlier decisions on the same data, without asking.
	Tokens, Cached int
}

// PreviewScreening fetches records as a sync of req would (from its
// beginning, over the last InitialLookback for searches of new records),
// keeps the first sample that the connector read completely and that
// belong to one of refs (any, when refs is empty), and judges them
// against description, using and filling orgID's cache of decisions. It
// imports nothing. Phone numbers are not checked: the preview shows what
// the description does.
//
// Without a screening model the records come back undecided with state
// NOT_CONFIGURED. When the model fails for some records, the error is a
// *screening.Error.
func (e *Engine) PreviewScreening(ctx context.Context, conn connector.Connector, orgID pulid.ID, req connector.FetchRequest, description string, sample int) (Preview, error) {
	sample = min(max(sample, 1), MaxPreviewSample)
	refs := map[string]bool{}
	for _, r := range req.References {
		refs[r.ExternalID] = true
	}
	if req.Since.IsZero() {
		req.Since = time.Now().UTC().Add(-InitialLookback)
	}
	var recs []connector.Record
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	for page, err := range conn.Fetch(fctx, req) {
		if err != nil {
			return Preview{}, err
		}
		for _, r := range page.Records {
			dropNUL(&r)
			if r.Problem != "" || (len(refs) > 0 && !slices.ContainsFunc(r.ReferenceIDs, func(id string) bool { return refs[id] })) {
				continue
			}
			recs = append(recs, r)
		}
		if len(recs) >= sample {
			recs = recs[:sample]
			break
		}
	}
	stop()

	pv := Preview{State: e.Screening(description), Records: make([]PreviewRecord, len(recs))}
	keys := make([]string, len(recs))
	for i, r := range recs {
		pv.Records[i] = PreviewRecord{Record: r, Attributes: screening.Redact(connector.FitOf(r.Attributes))}
	}
	if pv.State != schematype.ScreeningActive {
		return pv, nil
	}
	pv.Model = e.screener.Model()
	for i := range pv.Records {
		pr := &pv.Records[i]
		if len(pr.Attributes) == 0 {
			pr.Decision, pr.Reason = schematype.DecisionUnsure, noFitAttributes
			continue
		}
		k, err := e.screener.Key(description, connector.FitOf(pr.Record.Attributes))
		if err != nil {
			return Preview{}, err
		}
		keys[i] = k
	}
	cached, err := e.cachedVerdicts(ctx, orgID, slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return k == "" }))
	if err != nil {
		return Preview{}, err
	}
	// Ask once per key not cached.
	var ask []screening.Record
	var askKeys []string
	asked := map[string]bool{}
	for i, k := range keys {
		if k == "" {
			continue
		}
		if v, ok := cached[k]; ok {
			pv.Records[i].Decision, pv.Records[i].Reason = v.decision, v.reason
			pv.Cached++
			continue
		}
		if !asked[k] {
			asked[k] = true
			ask = append(ask, screening.Record{ID: strconv.Itoa(len(ask) + 1), Attributes: connector.FitOf(pv.Records[i].Record.Attributes)})
			askKeys = append(askKeys, k)
		}
	}
	if len(ask) == 0 {
		return pv, nil
	}
	verdicts, usage, jerr := e.screener.Judge(ctx, description, ask)
	pv.Tokens = usage.PromptTokens + usage.CompletionTokens
	e.obs.Screened(usage.Requests, pv.Tokens)
	got := map[string]verdict{}
	var fresh []verdict
	for i, v := range verdicts {
		if v.Decision != "" {
			vd := verdict{key: askKeys[i], decision: schematype.ScreeningDecision(v.Decision), reason: v.Reason}
			got[vd.key] = vd
			fresh = append(fresh, vd)
		}
	}
	if len(fresh) > 0 {
		if err := e.rememberVerdicts(context.WithoutCancel(ctx), orgID, fresh); err != nil {
			return Preview{}, err
		}
	}
	if jerr != nil {
		return Preview{}, jerr
	}
	for i, k := range keys {
		if v, ok := got[k]; ok && pv.Records[i].Decision == "" {
			pv.Records[i].Decision, pv.Records[i].Reason = v.decision, v.reason
		}
	}
	return pv, nil
}
