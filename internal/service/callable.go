package service

import (
	"context"
	"fmt"
	"slices"
	"time"

	"entgo.io/contrib/entgql"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/contact"
	"github.com/intake/intake/ent/donotcall"
	"github.com/intake/intake/internal/phone"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/schema/schematype"
)

// MaxCallingWindows bounds a campaign's calling hours.
const MaxCallingWindows = 50

// checkCallingHours validates calling hours: "HH:MM" times, each window
// ending after it starts, the windows of a day not overlapping.
func checkCallingHours(field string, ws []schematype.CallingWindow) ([]schematype.CallingWindow, error) {
	if len(ws) > MaxCallingWindows {
		return nil, invalid(field, "at most %d windows", MaxCallingWindows)
	}
	type span struct{ from, to, i int }
	byDay := map[schematype.Weekday][]span{}
	out := make([]schematype.CallingWindow, len(ws))
	for i, w := range ws {
		f := fmt.Sprintf("%s[%d]", field, i)
		if !slices.Contains(schematype.Weekday("").Values(), string(w.Day)) {
			return nil, invalid(f+".day", "%q is not a weekday", w.Day)
		}
		from, ok := minuteOfDay(w.Start)
		if !ok || from >= 24*60 {
			return nil, invalid(f+".start", "must be a time of day as HH:MM, from 00:00 to 23:59")
		}
		to, ok := minuteOfDay(w.End)
		if !ok || to <= from {
			return nil, invalid(f+".end", "must be a time of day as HH:MM after start, at most 24:00")
		}
		for _, o := range byDay[w.Day] {
			if from < o.to && o.from < to {
				return nil, invalid(f, "overlaps window %d of %s", o.i, w.Day)
			}
		}
		byDay[w.Day] = append(byDay[w.Day], span{from, to, i})
		out[i] = schematype.CallingWindow{Day: w.Day, Start: fmt.Sprintf("%02d:%02d", from/60, from%60), End: fmt.Sprintf("%02d:%02d", to/60, to%60)}
	}
	return out, nil
}

// minuteOfDay reads "HH:MM" (00:00 to 24:00).
func minuteOfDay(s string) (int, bool) {
	var h, m int
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	if _, err := fmt.Sscanf(s, "%02d:%02d", &h, &m); err != nil || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, false
	}
	return h*60 + m, true
}

// CallingHours is when a campaign calls (Campaign.callingHours).
func CallingHours(c *ent.Campaign) []schematype.CallingWindow {
	if c.CallingHours == nil {
		return schematype.DefaultCallingHours()
	}
	return c.CallingHours
}

// callableAt reports whether local time t falls within one of ws.
func callableAt(ws []schematype.CallingWindow, t time.Time) bool {
	day, minute := schematype.WeekdayOf(t.Weekday()), t.Hour()*60+t.Minute()
	for _, w := range ws {
		from, _ := minuteOfDay(w.Start)
		to, _ := minuteOfDay(w.End)
		if w.Day == day && minute >= from && minute < to {
			return true
		}
	}
	return false
}

// localClocks tells a contact's local time: the zone of its number, else,
// when its number's area spans zones that keep different clocks (a United
// States toll-free number) or names none, each of the candidate zones, the
// campaign's region's when the number gives none. A contact whose local
// time is uncertain is called only when it is within the hours in every
// zone it may be in.
type localClocks struct {
	region []*time.Location
	zones  map[string]*time.Location // loaded zones by name; nil for unknown
}

func newLocalClocks(region string) *localClocks {
	lc := &localClocks{zones: map[string]*time.Location{}}
	lc.region = lc.load(phone.RegionZones(region))
	if len(lc.region) == 0 {
		lc.region = []*time.Location{time.UTC}
	}
	return lc
}

func (lc *localClocks) load(names []string) []*time.Location {
	locs := make([]*time.Location, 0, len(names))
	for _, n := range names {
		loc, ok := lc.zones[n]
		if !ok {
			loc, _ = time.LoadLocation(n)
			lc.zones[n] = loc
		}
		if loc != nil {
			locs = append(locs, loc)
		}
	}
	return locs
}

// within reports whether at is within hours in c's local time.
func (lc *localClocks) within(hours []schematype.CallingWindow, at time.Time, c *ent.Contact) bool {
	var locs []*time.Location
	if c.TimeZone != nil && *c.TimeZone != "" {
		locs = lc.load([]string{*c.TimeZone})
	}
	if len(locs) == 0 {
		locs = lc.load(phone.Zones(c.PhoneE164))
	}
	if len(locs) == 0 {
		locs = lc.region
	}
	for _, loc := range locs {
		if !callableAt(hours, at.In(loc)) {
			return false
		}
	}
	return true
}

// callableBatch is how many contacts CallableContacts reads at a time.
const callableBatch = 500

// CallableContacts returns a page of the campaign's contacts the dialer may
// call at at: not erased, not on the do-not-call list, and within the
// campaign's calling hours in their number's local time. Contacts are in
// ID order (oldest first); withTotal counts all of them, which reads the
// whole campaign.
func (s *Service) CallableContacts(ctx context.Context, campaignID pulid.ID, at time.Time, first int, after *entgql.Cursor[pulid.ID], withTotal bool) (*ent.ContactConnection, error) {
	if err := checkID("campaignID", campaignID, "cmp", "campaign"); err != nil {
		return nil, err
	}
	if first < 1 || first > 100 {
		return nil, invalid("first", "must be between 1 and 100")
	}
	camp, err := s.db.Campaign.Get(ctx, campaignID)
	if ent.IsNotFound(err) {
		return nil, notFound("campaignID", "campaign")
	}
	if err != nil {
		return nil, err
	}
	hours := CallingHours(camp)
	clocks := newLocalClocks(camp.PhoneRegion)
	conn := &ent.ContactConnection{Edges: []*ent.ContactEdge{}}
	var from, pageAfter pulid.ID
	if after != nil {
		pageAfter = after.ID
		if !withTotal {
			from = after.ID // the contacts before the page need no reading
		}
	}
	pageDone := false
	for {
		q := s.db.Contact.Query().Where(contact.CampaignID(campaignID), contact.ErasedAtIsNil()).Order(ent.Asc(contact.FieldID)).Limit(callableBatch)
		if from != "" {
			q.Where(contact.IDGT(from))
		}
		batch, err := q.All(ctx)
		if err != nil {
			return nil, err
		}
		if len(batch) == 0 {
			break
		}
		phones := make([]string, len(batch))
		for i, c := range batch {
			phones[i] = c.PhoneE164
		}
		numbers, err := s.db.DoNotCall.Query().Where(donotcall.PhoneE164In(phones...)).Select(donotcall.FieldPhoneE164).Strings(ctx)
		if err != nil {
			return nil, err
		}
		listed := make(map[string]bool, len(numbers))
		for _, n := range numbers {
			listed[n] = true
		}
		for _, c := range batch {
			if listed[c.PhoneE164] || !clocks.within(hours, at, c) {
				continue
			}
			conn.TotalCount++
			switch {
			case pageDone, c.ID <= pageAfter:
			case len(conn.Edges) == first:
				conn.PageInfo.HasNextPage, pageDone = true, true
			default:
				conn.Edges = append(conn.Edges, &ent.ContactEdge{Node: c, Cursor: entgql.Cursor[pulid.ID]{ID: c.ID}})
			}
		}
		from = batch[len(batch)-1].ID
		if (pageDone && !withTotal) || len(batch) < callableBatch {
			break
		}
	}
	conn.PageInfo.HasPreviousPage = after != nil
	if n := len(conn.Edges); n > 0 {
		conn.PageInfo.StartCursor, conn.PageInfo.EndCursor = &conn.Edges[0].Cursor, &conn.Edges[n-1].Cursor
	}
	if !withTotal {
		conn.TotalCount = 0 // not asked for: not counted
	}
	return conn, nil
}
