// Package ratebudget paces the requests Intake sends to each external
// account so that, together, they stay within the account's limits:
// syncs, reference browsing, connection checks and pushbacks of every
// integration on that account, on every replica.
//
// An account is named by a key derived from its credentials (AccountKey).
// Each request waits for a grant. A grant is given when the account's
// rolling window (connector.RateLimits: HubSpot's 100 requests per 10 s)
// has room, its search limit too for a search, and its day is not used up;
// PostgreSQL holds the grants of the last two minutes and each account's
// row, locked for every decision, so replicas share one budget exactly.
// On SQLite (one process) the same decisions are made in memory.
//
// Classes are served in order (Pushback, Interactive, Background), each
// class's callers in turn by key (the trigger): within a replica a waiting
// request of an earlier class goes first, and across replicas a class that
// waits caps the classes after it at ShareFloor percent of the window, so
// a pushback goes first but never starves syncs, and a Test Sync goes
// ahead of scheduled syncs.
package ratebudget

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
)

// Budgets are the rate budgets of every account one process reaches.
type Budgets struct {
	store store
	// Metrics, if set, is told of every grant and wait.
	Metrics Metrics
	now     func() time.Time

	mu       sync.Mutex
	accounts map[string]*account
}

// Metrics receives what the budgets do.
type Metrics interface {
	Granted(provider schematype.ProviderKey, c Class, waited time.Duration)
}

// NewMemory returns budgets kept in the process: for one process.
func NewMemory() *Budgets { return newBudgets(newMemStore(time.Now), time.Now) }

// NewPostgres returns budgets kept in PostgreSQL (tables rate_accounts and
// rate_grants), shared by every process on db.
func NewPostgres(db *sql.DB) *Budgets { return newBudgets(&pgStore{db: db}, time.Now) }

func newBudgets(s store, now func() time.Time) *Budgets {
	return &Budgets{store: s, now: now, accounts: map[string]*account{}}
}

// AccountKey names the external account that credentials reach: a hash of
// the provider, the base URL and the descriptor's AccountKeys, never a
// secret itself.
func AccountKey(d connector.Descriptor, creds connector.Credentials) string {
	h := sha256.New()
	h.Write([]byte(d.Key))
	for _, k := range append([]string{"baseURL"}, d.AccountKeys...) {
		h.Write([]byte{0})
		h.Write([]byte(strings.TrimRight(creds[k], "/")))
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// Limiter returns the limiter of account acct of provider p under limits
// lim; fixed keeps lim whatever the account's answers say (an
// integration's own rateLimit).
func (b *Budgets) Limiter(p schematype.ProviderKey, acct string, lim connector.RateLimits, fixed bool) connector.Limiter {
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.accounts[acct]
	if a == nil {
		a = &account{b: b, key: acct, provider: p, wake: make(chan struct{}, 1)}
		b.accounts[acct] = a
	}
	return &limiter{a: a, lim: lim, fixed: fixed}
}

// caller is what a context says about who spends a request.
type caller struct {
	class   Class
	key     string
	waiting func(bool)
}

type callerKey struct{}

// WithCaller marks ctx's requests as spent by class c for key (a trigger
// or integration ID: callers of one class are served in turn by key).
// waiting, if set, is told when a request starts (true) and stops
// (false) waiting noticeably for the budget.
func WithCaller(ctx context.Context, c Class, key string, waiting func(bool)) context.Context {
	return context.WithValue(ctx, callerKey{}, caller{class: c, key: key, waiting: waiting})
}

// callerOf is ctx's caller; Interactive when unmarked (someone asked).
func callerOf(ctx context.Context) caller {
	if c, ok := ctx.Value(callerKey{}).(caller); ok {
		return c
	}
	return caller{class: Interactive}
}

// Noticeable is how long a request waits before its caller is told.
const Noticeable = time.Second

type limiter struct {
	a     *account
	lim   connector.RateLimits
	fixed bool
}

func (l *limiter) Wait(ctx context.Context, search bool) (func(int, http.Header), error) {
	g, err := l.a.wait(ctx, l.lim, l.fixed, callerOf(ctx), search)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoGrant, err)
	}
	done := func(status int, h http.Header) {
		l.a.ended(g)
		if status != 0 {
			l.observe(search, status, h)
		}
	}
	if check, ok := ctx.Value(preconditionKey{}).(func(context.Context) error); ok {
		if err := check(ctx); err != nil {
			done(0, nil) // not sent
			return nil, err
		}
	}
	return done, nil
}

// ErrNoGrant is the error of a request whose context ended while it
// waited for the budget: no fault of the external system.
var ErrNoGrant = errors.New("no grant of the rate budget")

type preconditionKey struct{}

// WithPrecondition makes every request of ctx, once granted and right
// before it is sent, ask check whether it should still go: what it was
// for may have ended since its attempt began, however briefly it waited
// (a pushback whose contact was erased must not send the call result).
// check's error ends the request unsent; the grant is spent.
func WithPrecondition(ctx context.Context, check func(context.Context) error) context.Context {
	return context.WithValue(ctx, preconditionKey{}, check)
}

// observe learns from the answer to a request (search: one that counted
// against the search limit): its status and the limit headers the
// provider sends.
func (l *limiter) observe(search bool, status int, h http.Header) {
	if !l.a.news(status, h) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = l.a.b.store.update(ctx, l.a.key, func(st *state, now time.Time) { observe(st, now, search, status, h) })
}

// account serves the waiters of one account in this process.
type account struct {
	b        *Budgets
	key      string
	provider schematype.ProviderKey

	mu      sync.Mutex
	queues  [classes]queue
	serving bool
	// finished are the requests that ended since the store was last told.
	finished []finish
	// wake cuts short the server's pause between rounds: a request ended,
	// which may have made room.
	wake chan struct{}

	// What this process last wrote from the account's answers (news).
	obsMu      sync.Mutex
	obsLimit   string
	obsDailyAt time.Time
}

// observeEvery is how often the daily count an account's answers report is
// written: HubSpot reports it on every answer, and a write per request
// would cost more than the request.
const observeEvery = time.Second

// news reports whether an answer says something the budget has not been
// told: a 429, no requests remaining, a limit other than the one last
// written, or the day's remaining count, at most every observeEvery.
func (a *account) news(status int, h http.Header) bool {
	daily := h.Get("X-HubSpot-RateLimit-Daily-Remaining")
	if status == http.StatusTooManyRequests || h.Get("X-HubSpot-RateLimit-Remaining") == "0" || daily == "0" {
		return true
	}
	limit := h.Get("X-HubSpot-RateLimit-Max")
	if limit != "" {
		limit += "/" + h.Get("X-HubSpot-RateLimit-Interval-Milliseconds")
	}
	a.obsMu.Lock()
	defer a.obsMu.Unlock()
	now := a.b.now()
	news := limit != "" && limit != a.obsLimit || daily != "" && now.Sub(a.obsDailyAt) >= observeEvery
	if news {
		if limit != "" {
			a.obsLimit = limit
		}
		if daily != "" {
			a.obsDailyAt = now
		}
	}
	return news
}

// waiter is one request waiting for a grant.
type waiter struct {
	lim    connector.RateLimits
	fixed  bool
	search bool
	since  time.Time
	done   chan outcome // buffered: the server never blocks on it
}

// outcome is what a waiter is given: a grant, or the error that ended
// its wait.
type outcome struct {
	g   issued
	err error
}

// issued is a grant given to a request: its id in the store, and the
// time (this process's clock) right before its decision was asked for.
// The store's time of the grant is later, so the grant's time plus how
// long ago asked was is after the request ended.
type issued struct {
	id    int64
	asked time.Time
}

// ended records that g's request ended now (answered, failed or not
// sent): the store learns it on the server's next round, started now if
// none is due.
func (a *account) ended(g issued) {
	f := finish{id: g.id, shift: a.b.now().Sub(g.asked) - outFor}
	a.mu.Lock()
	a.finished = append(a.finished, f)
	if !a.serving {
		a.serving = true
		go a.serve()
	}
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// queue holds a class's waiters by key, served in turn.
type queue struct {
	keys []string // keys with waiters, in turn order
	by   map[string][]*waiter
}

func (q *queue) push(key string, w *waiter) {
	if q.by == nil {
		q.by = map[string][]*waiter{}
	}
	if len(q.by[key]) == 0 {
		q.keys = append(q.keys, key)
	}
	q.by[key] = append(q.by[key], w)
}

// remove takes w from key's waiters; false if it is not there (given its
// outcome meanwhile).
func (q *queue) remove(key string, w *waiter) bool {
	ws := q.by[key]
	i := slices.Index(ws, w)
	if i >= 0 {
		q.by[key] = slices.Delete(ws, i, i+1)
	}
	if len(q.by[key]) == 0 {
		delete(q.by, key)
		if i := slices.Index(q.keys, key); i >= 0 {
			q.keys = slices.Delete(q.keys, i, i+1)
		}
	}
	return i >= 0
}

// candidates returns up to n waiters in turn: each key's first waiter in
// turn order, then each key's second, and so on.
func (q *queue) candidates(n int) []candidate {
	var out []candidate
	for depth := 0; len(out) < n; depth++ {
		added := false
		for _, key := range q.keys {
			if ws := q.by[key]; depth < len(ws) {
				out = append(out, candidate{key: key, w: ws[depth]})
				added = true
				if len(out) == n {
					break
				}
			}
		}
		if !added {
			break
		}
	}
	return out
}

// served removes w, granted, from key's waiters and moves key to the end
// of the turn; false if w is gone (its context ended meanwhile).
func (q *queue) served(key string, w *waiter) bool {
	ws := q.by[key]
	i := slices.Index(ws, w)
	if i < 0 {
		return false
	}
	ws = slices.Delete(ws, i, i+1)
	if j := slices.Index(q.keys, key); j >= 0 {
		q.keys = slices.Delete(q.keys, j, j+1)
	}
	if len(ws) == 0 {
		delete(q.by, key)
		return true
	}
	q.by[key] = ws
	q.keys = append(q.keys, key)
	return true
}

func (a *account) wait(ctx context.Context, lim connector.RateLimits, fixed bool, c caller, search bool) (issued, error) {
	w := &waiter{lim: lim, fixed: fixed, search: search, since: a.b.now(), done: make(chan outcome, 1)}
	a.mu.Lock()
	a.queues[c.class].push(c.key, w)
	if !a.serving {
		a.serving = true
		go a.serve()
	}
	a.mu.Unlock()

	var notice <-chan time.Time
	if c.waiting != nil {
		t := time.NewTimer(Noticeable)
		defer t.Stop()
		notice = t.C
	}
	told := false
	defer func() {
		if told {
			c.waiting(false)
		}
	}()
	for {
		select {
		case o := <-w.done:
			return o.g, o.err
		case <-notice:
			told = true
			c.waiting(true)
		case <-ctx.Done():
			a.mu.Lock()
			waiting := a.queues[c.class].remove(c.key, w)
			a.mu.Unlock()
			if !waiting {
				// Given its outcome meanwhile: a grant is spent, its
				// request not sent.
				if o := <-w.done; o.err == nil {
					a.ended(o.g)
				}
			}
			return issued{}, ctx.Err()
		}
	}
}

// serve hands out grants until no one waits, and tells the store of the
// requests that ended. Each round tries the classes in order and, within
// a class, the keys in turn: the first grant ends the round; a full
// window or a blocked account ends it too; a class refused its share, or
// a search refused the search limit, lets the next one try.
func (a *account) serve() {
	ctx := context.Background()
	for {
		a.mu.Lock()
		empty := len(a.finished) == 0
		for c := range a.queues {
			empty = empty && len(a.queues[c].keys) == 0
		}
		if empty {
			a.serving = false
			a.mu.Unlock()
			return
		}
		a.mu.Unlock()

		granted, next := a.round(ctx)
		if granted {
			continue
		}
		d := time.Until(next)
		// Other replicas change the window too: look again soon.
		d = min(max(d, 5*time.Millisecond), maxPoll)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-a.wake:
			t.Stop()
		}
	}
}

// maxPoll is the longest a replica with waiters goes without asking.
const maxPoll = 200 * time.Millisecond

// maxBatch is the most grants one decision gives: a replica with many
// waiters of a class takes their grants in one transaction, not one each.
const maxBatch = 32

// candidate is a waiter a round asks a grant for.
type candidate struct {
	key string
	w   *waiter
}

// round tries to grant waiters; it returns whether it granted any, or when
// to try again. Classes are tried in order; a class's waiters are asked
// for together, taken by key in turn (each key's first waiter, then each
// key's second, ...), and the store grants a prefix of them, skipping
// searches once one is refused. The first class granted anything ends the
// round; a class refused lets the next one try.
func (a *account) round(ctx context.Context) (bool, time.Time) {
	next := a.b.now().Add(time.Second)
	var waiting [classes]bool
	a.mu.Lock()
	for c := range a.queues {
		waiting[c] = len(a.queues[c].keys) > 0
	}
	// The ended requests go with the round's first decision, or alone.
	fs := a.finished
	a.finished = nil
	a.mu.Unlock()
	defer func() {
		if len(fs) > 0 {
			// Without the store told, the requests count until their
			// grants' time plus outFor: room is lost, never overspent.
			_ = a.b.store.finish(ctx, a.key, fs)
		}
	}()
	for c := Class(0); c < classes; c++ {
		if !waiting[c] {
			continue
		}
		a.mu.Lock()
		cands := a.queues[c].candidates(maxBatch)
		a.mu.Unlock()
		if len(cands) == 0 {
			continue
		}
		now := a.b.now()
		reqs := make([]request, len(cands))
		for i, cd := range cands {
			reqs[i] = request{lim: cd.w.lim, fixed: cd.w.fixed, search: cd.w.search, waited: now.Sub(cd.w.since)}
		}
		granted, retry, err := a.b.store.take(ctx, a.key, c, reqs, waiting, fs)
		fs = nil
		if err != nil {
			// The database failed: the requests fail rather than going
			// out unpaced.
			var gone []*waiter
			a.mu.Lock()
			for _, cd := range cands {
				if a.queues[c].remove(cd.key, cd.w) {
					gone = append(gone, cd.w)
				}
			}
			a.mu.Unlock()
			for _, w := range gone {
				w.done <- outcome{err: err}
			}
			return true, time.Time{}
		}
		n := 0
		served := make([]bool, len(cands))
		a.mu.Lock()
		for i, cd := range cands {
			if granted[i] != 0 {
				n++
				served[i] = a.queues[c].served(cd.key, cd.w)
			}
		}
		a.mu.Unlock()
		for i, cd := range cands {
			if granted[i] == 0 {
				continue
			}
			g := issued{id: granted[i], asked: now}
			if !served[i] {
				a.ended(g) // its context ended meanwhile: not sent
				continue
			}
			if a.b.Metrics != nil {
				a.b.Metrics.Granted(a.provider, c, reqs[i].waited)
			}
			cd.w.done <- outcome{g: g}
		}
		if n > 0 {
			return true, time.Time{}
		}
		if retry.Before(next) {
			next = retry
		}
	}
	return false, next
}

// Usage is how an account's budget stands.
type Usage struct {
	// LimitPerMinute is the window's limit scaled to a minute.
	LimitPerMinute int
	// UsedLastMinute counts the grants of the last minute, on every replica.
	UsedLastMinute int
	// ThrottledSecondsLastHour is how long requests to the account waited
	// for the budget in the last hour, on every replica.
	ThrottledSecondsLastHour float64
	// DailyRemaining is what is left of the day: the account's own figure
	// when its answers say, else the daily limit less today's grants; -1
	// without a daily limit.
	DailyRemaining int
}

// PerMinute is lim's window scaled to a minute (0 without a window).
func PerMinute(lim connector.RateLimits) int {
	if lim.Interval <= 0 {
		return 0
	}
	return int(int64(lim.Requests) * int64(time.Minute) / int64(lim.Interval))
}

// Usage reads how account acct stands under limits lim (fixed as for
// Limiter).
func (b *Budgets) Usage(ctx context.Context, acct string, lim connector.RateLimits, fixed bool) (Usage, error) {
	st, now, err := b.store.read(ctx, acct)
	if err != nil {
		return Usage{}, err
	}
	eff := st.effective(lim, fixed)
	u := Usage{UsedLastMinute: st.usedSince(now.Add(-time.Minute)), DailyRemaining: -1}
	u.LimitPerMinute = PerMinute(eff)
	today := now.UTC().Format(time.DateOnly)
	switch {
	case st.dailyDay == today && st.dailyRemaining >= 0:
		u.DailyRemaining = st.dailyRemaining
	case eff.Daily > 0:
		used := 0
		if st.day == today {
			used = st.dayUsed
		}
		u.DailyRemaining = max(eff.Daily-used, 0)
	}
	minute := now.Unix() / 60
	for m, secs := range st.throttled {
		if m > minute-60 {
			u.ThrottledSecondsLastHour += secs
		}
	}
	return u, nil
}
