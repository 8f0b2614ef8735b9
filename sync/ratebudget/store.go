package ratebudget

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"

	"github.com/intake/intake/sync/connector"
)

// store keeps the accounts' states where every replica that spends them
// sees them: in the process for one process (SQLite), in PostgreSQL for
// several.
type store interface {
	// take records that the requests fs ended and that the classes in
	// waiting have waiters (demand), then decides reqs, requests of class
	// c, in order (see decideAll), and records the grants, out, in one
	// step. granted holds each request's grant id, 0 if refused.
	take(ctx context.Context, acct string, c Class, reqs []request, waiting [classes]bool, fs []finish) (granted []int64, retry time.Time, err error)
	// finish records that the requests fs ended.
	finish(ctx context.Context, acct string, fs []finish) error
	// update changes an account's state under its lock.
	update(ctx context.Context, acct string, fn func(st *state, now time.Time)) error
	// read returns a copy of an account's state and the time.
	read(ctx context.Context, acct string) (state, time.Time, error)
}

// memStore keeps the states in the process.
type memStore struct {
	mu       sync.Mutex
	accounts map[string]*state
	now      func() time.Time
	lastID   int64
}

func newMemStore(now func() time.Time) *memStore {
	return &memStore{accounts: map[string]*state{}, now: now}
}

func (m *memStore) get(acct string) *state {
	st := m.accounts[acct]
	if st == nil {
		st = &state{dailyRemaining: -1}
		m.accounts[acct] = st
	}
	return st
}

func (m *memStore) take(_ context.Context, acct string, c Class, reqs []request, waiting [classes]bool, fs []finish) ([]int64, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, now := m.get(acct), m.now()
	st.finish(fs)
	st.markDemand(waiting, now)
	granted, retry := st.decideAll(c, reqs, now)
	// decideAll appended the grants, in order: they are out.
	ids := make([]int64, len(reqs))
	k := len(st.grants) - countTrue(granted)
	for i, ok := range granted {
		if ok {
			m.lastID++
			ids[i] = m.lastID
			st.grants[k].id, st.grants[k].at = m.lastID, now.Add(outFor)
			k++
		}
	}
	return ids, retry, nil
}

func (m *memStore) finish(_ context.Context, acct string, fs []finish) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.get(acct).finish(fs)
	return nil
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

func (m *memStore) update(_ context.Context, acct string, fn func(*state, time.Time)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	fn(m.get(acct), m.now())
	return nil
}

func (m *memStore) read(_ context.Context, acct string) (state, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := *m.get(acct)
	st.grants = append([]grant(nil), st.grants...)
	st.throttled = maps.Clone(st.throttled)
	return st, m.now(), nil
}

// pgStore keeps the states in PostgreSQL: the account's row
// (rate_accounts), locked for each decision, holds everything but the
// grants, which are rows of rate_grants. Times are the database's clock,
// the one clock all replicas share.
type pgStore struct {
	db *sql.DB

	mu sync.Mutex
	// known holds the accounts whose row exists; pruned, when each
	// account's old grants were last deleted.
	known  map[string]bool
	pruned map[string]time.Time
}

// pruneEvery is how often a process deletes an account's grants past
// keeping: a statement per grant would cost more than the grant.
const pruneEvery = 5 * time.Second

// accountRow is rate_accounts.state: the state without its grants.
type accountRow struct {
	Demand           [classes]time.Time `json:"demand"`
	BlockedUntil     time.Time          `json:"blockedUntil"`
	Day              string             `json:"day"`
	DayUsed          int                `json:"dayUsed"`
	ObservedMax      int                `json:"observedMax,omitempty"`
	ObservedInterval time.Duration      `json:"observedInterval,omitempty"`
	DailyRemaining   int                `json:"dailyRemaining"`
	DailyDay         string             `json:"dailyDay,omitempty"`
	Throttled        map[int64]float64  `json:"throttled,omitempty"`
	SearchBlocked    time.Time          `json:"searchBlocked"`
}

// lock opens a transaction holding acct's row, and reads the state and the
// database's time, with the grants of the last lookback(state) (none for
// 0): a decision needs only its window's, and reading all that are kept
// would make every decision slower the faster grants are given.
func (p *pgStore) lock(ctx context.Context, acct string, lookback func(*state) time.Duration) (*sql.Tx, *state, time.Time, error) {
	return p.open(ctx, acct, lookback, true, nil)
}

// open is lock, or with write false a look that locks nothing and
// creates no row (Usage: a reader must not hold up the decisions). With
// write, the requests fs are recorded as ended before the grants are
// read.
func (p *pgStore) open(ctx context.Context, acct string, lookback func(*state) time.Duration, write bool, fs []finish) (*sql.Tx, *state, time.Time, error) {
	tx, err := p.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: !write})
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	fail := func(err error) (*sql.Tx, *state, time.Time, error) {
		_ = tx.Rollback()
		return nil, nil, time.Time{}, fmt.Errorf("rate budget: %w", err)
	}
	var raw string
	var now time.Time
	known := true
	if !write {
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE((SELECT state FROM rate_accounts WHERE id = $1), '{"dailyRemaining":-1}'), clock_timestamp()`, acct).Scan(&raw, &now); err != nil {
			return fail(err)
		}
	} else {
		p.mu.Lock()
		known = p.known[acct]
		p.mu.Unlock()
		if !known {
			if _, err := tx.ExecContext(ctx, `INSERT INTO rate_accounts (id, state) VALUES ($1, '{"dailyRemaining":-1}') ON CONFLICT (id) DO NOTHING`, acct); err != nil {
				return fail(err)
			}
		}
		// The clock is read once the row is locked: in the locking
		// query's own select list it would be read before the wait for
		// another replica's decision.
		if err := tx.QueryRowContext(ctx, `SELECT state, clock_timestamp() FROM (SELECT state FROM rate_accounts WHERE id = $1 FOR UPDATE) a`, acct).Scan(&raw, &now); err != nil {
			if errors.Is(err, sql.ErrNoRows) && known {
				// The row was deleted since this process saw it: make it anew.
				_ = tx.Rollback()
				p.mu.Lock()
				delete(p.known, acct)
				p.mu.Unlock()
				return p.open(ctx, acct, lookback, write, fs)
			}
			return fail(err)
		}
		if err := finishGrants(ctx, tx, fs); err != nil {
			return fail(err)
		}
	}
	var row accountRow
	if err := json.Unmarshal([]byte(raw), &row); err != nil {
		return fail(err)
	}
	if !known {
		p.mu.Lock()
		if p.known == nil {
			p.known = map[string]bool{}
		}
		p.known[acct] = true
		p.mu.Unlock()
	}
	st := &state{demand: row.Demand, blockedUntil: row.BlockedUntil, day: row.Day, dayUsed: row.DayUsed,
		observedMax: row.ObservedMax, observedInterval: row.ObservedInterval, dailyRemaining: row.DailyRemaining, dailyDay: row.DailyDay,
		throttled: row.Throttled, searchBlockedUntil: row.SearchBlocked}
	back := lookback(st)
	if back <= 0 {
		return tx, st, now, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT at, class, search FROM rate_grants WHERE account = $1 AND at > $2 ORDER BY at`, acct, now.Add(-back))
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	for rows.Next() {
		var g grant
		if err := rows.Scan(&g.at, &g.class, &g.search); err != nil {
			return fail(err)
		}
		st.grants = append(st.grants, g)
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	return tx, st, now, nil
}

// save writes st's row and commits.
func (p *pgStore) save(ctx context.Context, tx *sql.Tx, acct string, st *state) error {
	raw, err := json.Marshal(accountRow{Demand: st.demand, BlockedUntil: st.blockedUntil, Day: st.day, DayUsed: st.dayUsed,
		ObservedMax: st.observedMax, ObservedInterval: st.observedInterval, DailyRemaining: st.dailyRemaining, DailyDay: st.dailyDay,
		Throttled: st.throttled, SearchBlocked: st.searchBlockedUntil})
	if err == nil {
		_, err = tx.ExecContext(ctx, `UPDATE rate_accounts SET state = $1 WHERE id = $2`, string(raw), acct)
	}
	if err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("rate budget: %w", err)
	}
	return tx.Commit()
}

// finishGrants moves the ended requests' grants to when they ended.
func finishGrants(ctx context.Context, q interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, fs []finish) error {
	if len(fs) == 0 {
		return nil
	}
	ids, shifts := make(pq.Int64Array, len(fs)), make(pq.Int64Array, len(fs))
	for i, f := range fs {
		ids[i], shifts[i] = f.id, f.shift.Microseconds()
	}
	_, err := q.ExecContext(ctx, `UPDATE rate_grants g SET at = g.at + f.shift * interval '1 microsecond'
		FROM unnest($1::bigint[], $2::bigint[]) AS f(id, shift) WHERE g.id = f.id`, ids, shifts)
	return err
}

func (p *pgStore) finish(ctx context.Context, _ string, fs []finish) error {
	if err := finishGrants(ctx, p.db, fs); err != nil {
		return fmt.Errorf("rate budget: %w", err)
	}
	return nil
}

func (p *pgStore) take(ctx context.Context, acct string, c Class, reqs []request, waiting [classes]bool, fs []finish) ([]int64, time.Time, error) {
	tx, st, now, err := p.open(ctx, acct, func(st *state) time.Duration {
		// The longest window, as decide counts it, or the search limit's
		// second.
		back := 1200 * time.Millisecond
		for _, r := range reqs {
			back = max(back, st.effective(r.lim, r.fixed).Interval+200*time.Millisecond)
		}
		return back
	}, true, fs)
	if err != nil {
		return nil, time.Time{}, err
	}
	st.markDemand(waiting, now)
	granted, retry := st.decideAll(c, reqs, now)
	var searches []bool
	for i, ok := range granted {
		if ok {
			searches = append(searches, reqs[i].search)
		}
	}
	ids := make([]int64, len(reqs))
	if len(searches) > 0 {
		// The grants are out: they count from now plus outFor until
		// their requests end.
		var got []int64
		got, err = insertGrants(ctx, tx, acct, now.Add(outFor), c, searches)
		if err == nil {
			k := 0
			for i, ok := range granted {
				if ok {
					ids[i] = got[k]
					k++
				}
			}
		}
		if err == nil && p.prune(acct, now) {
			// The account's grants past keeping go, found through the
			// index.
			_, err = tx.ExecContext(ctx, `DELETE FROM rate_grants WHERE account = $1 AND at <= $2`, acct, now.Add(-keepGrants))
		}
		if err != nil {
			_ = tx.Rollback()
			return nil, time.Time{}, fmt.Errorf("rate budget: %w", err)
		}
	}
	if err := p.save(ctx, tx, acct, st); err != nil {
		return nil, time.Time{}, err
	}
	return ids, retry, nil
}

// insertGrants records grants of class c at at, one per element of
// searches, and returns their ids in that order: identities are drawn in
// the order the rows are inserted, which is unnest's.
func insertGrants(ctx context.Context, tx *sql.Tx, acct string, at time.Time, c Class, searches []bool) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, `INSERT INTO rate_grants (account, at, class, search) SELECT $1, $2, $3, unnest($4::boolean[]) RETURNING id`,
		acct, at, int(c), pq.BoolArray(searches))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := make([]int64, 0, len(searches))
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(ids) != len(searches) {
		return nil, fmt.Errorf("%d grants recorded of %d", len(ids), len(searches))
	}
	slices.Sort(ids)
	return ids, nil
}

// prune reports whether acct's old grants are due to be deleted at now,
// and if so notes that they are.
func (p *pgStore) prune(acct string, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Sub(p.pruned[acct]) < pruneEvery {
		return false
	}
	if p.pruned == nil {
		p.pruned = map[string]time.Time{}
	}
	p.pruned[acct] = now
	return true
}

func (p *pgStore) update(ctx context.Context, acct string, fn func(*state, time.Time)) error {
	tx, st, now, err := p.lock(ctx, acct, func(*state) time.Duration { return 0 })
	if err != nil {
		return err
	}
	fn(st, now)
	return p.save(ctx, tx, acct, st)
}

func (p *pgStore) read(ctx context.Context, acct string) (state, time.Time, error) {
	tx, st, now, err := p.open(ctx, acct, func(*state) time.Duration { return time.Minute }, false, nil) // Usage's last minute
	if err != nil {
		return state{}, time.Time{}, err
	}
	_ = tx.Rollback()
	return *st, now, nil
}

// maxBlock is the longest a 429 holds every request to the account: long
// enough for a burst to stop, short enough that a few odd answers (an
// account shared with other clients, a vendor's hiccup) do not stall
// every sync and pushback; a longer Retry-After is the refused request's
// own retry policy's to wait.
const maxBlock = time.Second

// observe learns from an answer's status and headers (search: the answer
// to a search).
func observe(st *state, now time.Time, search bool, status int, h http.Header) {
	num := func(name string) (int, bool) {
		n, err := strconv.Atoi(h.Get(name))
		return n, err == nil && n >= 0
	}
	if m, ok := num("X-HubSpot-RateLimit-Max"); ok && m > 0 {
		if ms, ok := num("X-HubSpot-RateLimit-Interval-Milliseconds"); ok && ms > 0 {
			st.observedMax, st.observedInterval = m, time.Duration(ms)*time.Millisecond
		}
	}
	if d, ok := num("X-HubSpot-RateLimit-Daily-Remaining"); ok {
		st.dailyRemaining, st.dailyDay = d, now.UTC().Format(time.DateOnly)
	}
	block := time.Duration(0)
	if r, ok := num("X-HubSpot-RateLimit-Remaining"); ok && r == 0 {
		block = time.Second
	}
	if status == http.StatusTooManyRequests && search && h.Get("Retry-After") == "" {
		// A search refused (HubSpot's search endpoints send no limit
		// headers): the search limit's second, not the account's window,
		// is used up. Only searches wait.
		if until := now.Add(time.Second); until.After(st.searchBlockedUntil) {
			st.searchBlockedUntil = until
		}
		return
	}
	if status == http.StatusTooManyRequests {
		// The account is out of budget: nothing goes for a moment. A
		// longer Retry-After is the refused request's to wait (its retry
		// policy decides); holding every caller of the account for it
		// would let one odd answer stall pushbacks and syncs alike.
		// A Retry-After of 0 (or a date passed) says the account may be
		// asked again at once: only the refused request waits, as its
		// retry policy says.
		block = maxBlock
		if ra := strings.TrimSpace(h.Get("Retry-After")); ra != "" && retryAfterValid(ra) {
			block = min(connector.ParseRetryAfter(ra, now), maxBlock)
		}
	}
	if until := now.Add(block); block > 0 && until.After(st.blockedUntil) {
		st.blockedUntil = until
	}
}

// retryAfterValid reports whether v is a Retry-After value: seconds or an
// HTTP date.
func retryAfterValid(v string) bool {
	if _, err := strconv.ParseUint(v, 10, 64); err == nil {
		return true
	}
	_, err := http.ParseTime(v)
	return err == nil
}
