package service

import (
	"context"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/ratebudget"
)

// checkRateLimit validates an integration's own rate limit (nil: none).
func checkRateLimit(field string, rl *schematype.RateLimit) (*schematype.RateLimit, error) {
	if rl == nil {
		return nil, nil
	}
	switch {
	case rl.Requests < 1 || rl.Requests > 100000:
		return nil, invalid(field+".requests", "must be between 1 and 100000")
	case rl.IntervalSeconds < 1 || rl.IntervalSeconds > 86400:
		return nil, invalid(field+".intervalSeconds", "must be between 1 and 86400")
	case rl.SearchesPerSecond < 0 || rl.SearchesPerSecond > 1000:
		return nil, invalid(field+".searchesPerSecond", "must be between 0 and 1000")
	case rl.Daily < 0 || rl.Daily > 100000000:
		return nil, invalid(field+".daily", "must be between 0 and 100000000")
	}
	out := *rl
	return &out, nil
}

// SetIntegrationRateLimit sets an integration's own limit of requests to
// its external account, or with nil returns it to the provider's default.
func (s *Service) SetIntegrationRateLimit(ctx context.Context, id pulid.ID, rl *schematype.RateLimit) (*ent.Integration, error) {
	if err := checkID("id", id, "int", "integration"); err != nil {
		return nil, err
	}
	rl, err := checkRateLimit("rateLimit", rl)
	if err != nil {
		return nil, err
	}
	up := s.db.Integration.UpdateOneID(id)
	if rl == nil {
		up.ClearRateLimit()
	} else {
		up.SetRateLimit(rl)
	}
	in, err := up.Save(ctx)
	if ent.IsNotFound(err) {
		return nil, notFound("id", "integration")
	}
	return in, err
}

// RateBudget tells how the rate budget of an integration's external
// account stands; without budgets (a process that sends no requests), the
// limit with nothing used.
func (s *Service) RateBudget(ctx context.Context, in *ent.Integration) (ratebudget.Usage, error) {
	p, ok := s.providers.Get(in.Provider)
	if !ok {
		return ratebudget.Usage{}, nil
	}
	lim, fixed := s.opener.limitsOf(p.Descriptor(), in.RateLimit)
	acct, err := s.opener.Account(in)
	if err != nil || acct == "" || s.opener.budgets == nil {
		u := ratebudget.Usage{LimitPerMinute: ratebudget.PerMinute(lim), DailyRemaining: -1}
		if lim.Daily > 0 {
			u.DailyRemaining = lim.Daily
		}
		return u, err
	}
	return s.opener.budgets.Usage(ctx, acct, lim, fixed)
}
