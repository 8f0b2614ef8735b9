package ratebudget

import (
	"slices"
	"time"

	"github.com/intake/intake/sync/connector"
)

// Class is who spends a request; classes are served in this order.
type Class int

const (
	// Pushback: a delivery of a call result (a call just ended).
	Pushback Class = iota
	// Interactive: a Test Sync, reference browsing, a connection check:
	// someone is waiting.
	Interactive
	// Background: scheduled and webhook-started syncs.
	Background
	classes
)

func (c Class) String() string {
	switch c {
	case Pushback:
		return "pushback"
	case Interactive:
		return "interactive"
	}
	return "background"
}

// ShareFloor is the share of an account's window (percent) a class may
// always use while a class before it waits: a busy class goes first, but
// never takes the whole window from the ones after it.
const ShareFloor = 25

// demandFresh is how long a class counts as waiting after a replica last
// said it had waiters; a replica with waiters says so at least every
// maxPoll.
const demandFresh = 500 * time.Millisecond

// keepGrants is how long grants are kept after their request ended: for
// usedLastMinute, and longer than any window.
const keepGrants = 2 * time.Minute

// outFor is how long after its grant a request that has not ended is
// counted as reaching the account at the latest: a request counts from
// when it ended (its answer arrived, or it failed), and one that never
// reports it (its process stopped, or it is still out) from its grant's
// time plus outFor. Longer than any attempt's timeout by default.
const outFor = time.Minute

// grant is one request the budget allowed.
type grant struct {
	id int64
	// at is when the request ended, or, while it is out, its grant's time
	// plus outFor: the account counts the request in its window (and its
	// second, for a search) until at plus the window.
	at     time.Time
	class  Class
	search bool
}

// finish is a granted request that ended: its grant's at moves by shift,
// from its grant's time plus outFor to when it ended.
type finish struct {
	id    int64
	shift time.Duration
}

// finish moves the ended requests' grants to when they ended.
func (st *state) finish(fs []finish) {
	if len(fs) == 0 {
		return
	}
	shift := make(map[int64]time.Duration, len(fs))
	for _, f := range fs {
		shift[f.id] = f.shift
	}
	// The moved grants leave their places and go back in order.
	var moved []grant
	st.grants = slices.DeleteFunc(st.grants, func(g grant) bool {
		d, ok := shift[g.id]
		if ok {
			g.at = g.at.Add(d)
			moved = append(moved, g)
		}
		return ok
	})
	for _, g := range moved {
		i, _ := slices.BinarySearchFunc(st.grants, g.at, func(e grant, t time.Time) int {
			if e.at.After(t) {
				return 1
			}
			return -1 // after the grants of the same time
		})
		st.grants = slices.Insert(st.grants, i, g)
	}
}

// state is what the budget knows of one account, as both stores keep it.
type state struct {
	grants []grant // ascending at, the last keepGrants and those still out
	// demand is when each class was last refused.
	demand [classes]time.Time
	// blockedUntil: the account answered 429 (or no requests remaining);
	// nothing is sent before. searchBlockedUntil: a search answered 429;
	// no search is sent before.
	blockedUntil       time.Time
	searchBlockedUntil time.Time
	// day is the UTC day dayUsed counts.
	day     string
	dayUsed int
	// The account's own figures, from its answers' headers (0: none).
	observedMax      int
	observedInterval time.Duration
	dailyRemaining   int // -1: unknown
	dailyDay         string
	// throttled is how long granted requests waited, in seconds by unix
	// minute, for the last hour.
	throttled map[int64]float64
}

// markDemand records that the classes in waiting have waiters at now.
func (st *state) markDemand(waiting [classes]bool, now time.Time) {
	for c, w := range waiting {
		if w {
			st.demand[c] = now
		}
	}
}

// noteWait adds a granted request's wait to the throttled time.
func (st *state) noteWait(now time.Time, waited time.Duration) {
	if waited < 10*time.Millisecond {
		return
	}
	minute := now.Unix() / 60
	if st.throttled == nil {
		st.throttled = map[int64]float64{}
	}
	st.throttled[minute] += waited.Seconds()
	for m := range st.throttled {
		if m <= minute-60 {
			delete(st.throttled, m)
		}
	}
}

// effective are the limits that apply: the configured ones, raised or
// lowered to what the account's answers say unless the integration sets
// its own (fixed).
func (st *state) effective(lim connector.RateLimits, fixed bool) connector.RateLimits {
	if !fixed && st.observedMax > 0 && st.observedInterval > 0 {
		lim.Requests, lim.Interval = st.observedMax, st.observedInterval
	}
	return lim
}

// decide grants a request of class c at now, or says when to try again.
func (st *state) decide(lim connector.RateLimits, c Class, search bool, now time.Time) (ok bool, retry time.Time) {
	st.prune(now)
	if now.Before(st.blockedUntil) {
		return false, st.blockedUntil
	}
	day := now.UTC().Format(time.DateOnly)
	if st.day != day {
		st.day, st.dayUsed = day, 0
	}
	tomorrow := now.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	if lim.Daily > 0 && st.dayUsed >= lim.Daily || st.dailyDay == day && st.dailyRemaining == 0 {
		return false, tomorrow
	}
	// The window is counted a little longer than the account's. Requests
	// count from when they ended, which is after they arrived, however
	// late they went out; the margin is for the account's own counting
	// (when it starts a request's time, and its clock).
	window := lim.Interval + min(max(lim.Interval/50, 100*time.Millisecond), 200*time.Millisecond)
	from := now.Add(-window)
	total, own := 0, 0
	var oldest, oldestOwn time.Time
	for _, g := range st.grants {
		if !g.at.After(from) {
			continue
		}
		if total == 0 {
			oldest = g.at
		}
		total++
		if g.class == c {
			if own == 0 {
				oldestOwn = g.at
			}
			own++
		}
	}
	if total >= lim.Requests {
		return false, oldest.Add(window)
	}
	if search && now.Before(st.searchBlockedUntil) {
		return false, st.searchBlockedUntil
	}
	if search && lim.SearchesPerSecond > 0 {
		// As the window, counted a little longer than the account's
		// second.
		const second = time.Second + 100*time.Millisecond
		n := 0
		var first time.Time
		for _, g := range st.grants {
			if g.search && g.at.After(now.Add(-second)) {
				if n == 0 {
					first = g.at
				}
				n++
			}
		}
		if n >= lim.SearchesPerSecond {
			return false, first.Add(second)
		}
	}
	floor := max(1, lim.Requests*ShareFloor/100)
	// A class yields beyond its floor to a waiting class before it ...
	for h := Class(0); h < c; h++ {
		if now.Sub(st.demand[h]) < demandFresh && own >= floor {
			return false, oldestOwn.Add(window)
		}
	}
	// ... and leaves room for the floors of the waiting classes after it.
	reserved := 0
	for l := c + 1; l < classes; l++ {
		if now.Sub(st.demand[l]) < demandFresh {
			n := 0
			for _, g := range st.grants {
				if g.class == l && g.at.After(from) {
					n++
				}
			}
			reserved += max(0, floor-n)
		}
	}
	if total+reserved >= lim.Requests {
		return false, oldest.Add(window)
	}
	st.grants = append(st.grants, grant{at: now, class: c, search: search})
	st.dayUsed++
	return true, time.Time{}
}

// request is one waiter's request as the store decides it.
type request struct {
	lim    connector.RateLimits
	fixed  bool
	search bool
	waited time.Duration // how long it has waited, added to the throttled time when granted
}

// decideAll decides reqs, requests of class c, in order at now: each is
// granted until one is refused, except that a refused search only stops
// the searches after it (the search limit, not the window, may be what
// refused it). It returns what was granted, and when to try again for
// the first refused.
func (st *state) decideAll(c Class, reqs []request, now time.Time) ([]bool, time.Time) {
	granted := make([]bool, len(reqs))
	var retry time.Time
	searchRefused := false
	for i, r := range reqs {
		if r.search && searchRefused {
			continue
		}
		ok, again := st.decide(st.effective(r.lim, r.fixed), c, r.search, now)
		if ok {
			granted[i] = true
			st.noteWait(now, r.waited)
			continue
		}
		if retry.IsZero() || again.Before(retry) {
			retry = again
		}
		if !r.search {
			break
		}
		searchRefused = true
	}
	return granted, retry
}

// prune drops the grants older than keepGrants.
func (st *state) prune(now time.Time) {
	k := 0
	for k < len(st.grants) && now.Sub(st.grants[k].at) > keepGrants {
		k++
	}
	if k > 0 {
		st.grants = append(st.grants[:0], st.grants[k:]...)
	}
}

// usedSince counts the grants after t.
func (st *state) usedSince(t time.Time) int {
	n := 0
	for _, g := range st.grants {
		if g.at.After(t) {
			n++
		}
	}
	return n
}
