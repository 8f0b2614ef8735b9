package phone

import (
	"fmt"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // calling hours need the zones wherever the binary runs

	"github.com/nyaruka/phonenumbers"

	"github.com/intake/intake/schema/schematype"
)

// Info is what a valid number is, from the phone library's offline data.
type Info struct {
	Type schematype.NumberType
	// TimeZone is the IANA time zone of the number's area, e.g.
	// "Europe/Berlin"; "" when the data names none, or names several that
	// keep different clocks (a United States toll-free number: Zones then
	// lists them). Where it names several that keep the same clock all year
	// (a British mobile: Guernsey, Isle of Man, Jersey, London), the first.
	TimeZone string
	// Region is the ISO 3166-1 alpha-2 region the number belongs to, e.g.
	// "DE"; "" for non-geographic numbers.
	Region string
}

var numberTypes = map[phonenumbers.PhoneNumberType]schematype.NumberType{
	phonenumbers.FIXED_LINE:           schematype.NumberFixedLine,
	phonenumbers.MOBILE:               schematype.NumberMobile,
	phonenumbers.FIXED_LINE_OR_MOBILE: schematype.NumberFixedLineOrMobile,
	phonenumbers.TOLL_FREE:            schematype.NumberTollFree,
	phonenumbers.PREMIUM_RATE:         schematype.NumberPremiumRate,
	phonenumbers.SHARED_COST:          schematype.NumberSharedCost,
	phonenumbers.VOIP:                 schematype.NumberVoIP,
	phonenumbers.PERSONAL_NUMBER:      schematype.NumberPersonal,
	phonenumbers.PAGER:                schematype.NumberPager,
	phonenumbers.UAN:                  schematype.NumberUAN,
	phonenumbers.VOICEMAIL:            schematype.NumberVoicemail,
}

// Describe tells what the valid E.164 number e164 is (as Normalize
// returns it). A number it cannot read is of type UNKNOWN.
func Describe(e164 string) Info {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	sc.num.Reset()
	if err := phonenumbers.ParseToNumber(e164, "", &sc.num); err != nil {
		return Info{Type: schematype.NumberUnknown}
	}
	var info Info
	describe(&sc.num, phonenumbers.GetNumberType(&sc.num), []byte(e164), &info)
	return info
}

// describe fills info from a parsed valid number, its type and its E.164
// form.
func describe(num *phonenumbers.PhoneNumber, typ phonenumbers.PhoneNumberType, e164 []byte, info *Info) {
	*info = Info{Type: schematype.NumberUnknown}
	if t, ok := numberTypes[typ]; ok {
		info.Type = t
	}
	if r := phonenumbers.GetRegionCodeForNumber(num); len(r) == 2 && r != "ZZ" {
		info.Region = r
	}
	info.TimeZone = oneClock(zonesOf(string(e164)))
}

// Zones are the IANA time zones the phone library names for the area of the
// E.164 number e164; nil when it names none.
func Zones(e164 string) []string { return zonesOf(e164) }

func zonesOf(prefix string) []string {
	zones, err := phonenumbers.GetTimezonesForPrefix(prefix)
	if err != nil || len(zones) == 0 || zones[0] == phonenumbers.UNKNOWN_TIMEZONE {
		return nil
	}
	return zones
}

// oneClock is the first of zones when they all keep the same clock all
// year, else "".
func oneClock(zones []string) string {
	switch len(zones) {
	case 0:
		return ""
	case 1:
		return zones[0]
	}
	key := strings.Join(zones, ",")
	if z, ok := sameClock.Load(key); ok {
		return z.(string)
	}
	z := zones[0]
	if !keepSameClock(zones) {
		z = ""
	}
	sameClock.Store(key, z)
	return z
}

// sameClock caches oneClock per list of zones: there are few distinct
// lists, and loading zones is slow.
var sameClock sync.Map

// keepSameClock reports whether zones have the same UTC offset at noon UTC
// of every day of a year: zones that differ in offset or in their daylight
// saving dates differ on some day. Unknown zones never agree.
func keepSameClock(zones []string) bool {
	locs := make([]*time.Location, len(zones))
	for i, z := range zones {
		loc, err := time.LoadLocation(z)
		if err != nil {
			return false
		}
		locs[i] = loc
	}
	start := time.Date(time.Now().Year(), 1, 1, 12, 0, 0, 0, time.UTC)
	for d := range 366 {
		t := start.AddDate(0, 0, d)
		_, want := t.In(locs[0]).Zone()
		for _, loc := range locs[1:] {
			if _, off := t.In(loc).Zone(); off != want {
				return false
			}
		}
	}
	return true
}

// FirstAccepted is First, keeping only numbers whose type accept accepts
// (nil accepts every type): the first usable number of raws of an accepted
// type, with what it is. When raws hold usable numbers but none of an
// accepted type, p is schematype.IssueUnsupportedNumberType, raw the first
// of them and msg names its type.
func FirstAccepted(raws []string, region string, accept func(schematype.NumberType) bool) (e164, raw string, info Info, p schematype.ImportIssueCode, msg string) {
	return first(raws, region, accept, true)
}

// first is First, describing each usable number when describe is set and
// keeping only those accept accepts (nil: all).
func first(raws []string, region string, accept func(schematype.NumberType) bool, describe bool) (e164, raw string, info Info, p schematype.ImportIssueCode, msg string) {
	var (
		found                   bool
		badRaw, badMsg          string
		badCount                int
		refused                 Info
		refusedE164, refusedRaw string
	)
	for _, r := range raws {
		var in *Info
		if describe {
			in = &Info{}
		}
		e, p, m := normalize(r, region, in)
		switch p {
		case "":
			if in == nil {
				return e, r, Info{}, "", ""
			}
			if accept == nil || accept(in.Type) {
				return e, r, *in, "", ""
			}
			if refusedRaw == "" {
				refused, refusedE164, refusedRaw = *in, e, r
			}
		case schematype.IssueInvalidPhone:
			if !found {
				found, badRaw, badMsg = true, r, m
			}
			badCount++
		}
	}
	switch {
	case refusedRaw != "":
		return "", refusedRaw, refused, schematype.IssueUnsupportedNumberType,
			fmt.Sprintf("phone number %s (%s) is a %s number, which the campaign does not call", quote(refusedRaw), refusedE164, refused.Type)
	case !found:
		return "", "", Info{}, schematype.IssueMissingPhone, "no phone number given"
	case badCount > 1:
		badMsg = fmt.Sprintf("%s (none of the %d phone numbers given is usable)", badMsg, badCount)
	}
	return "", badRaw, Info{}, schematype.IssueInvalidPhone, badMsg
}

// RegionZones are the IANA time zones the phone library names for a
// region's country code ("DE": ["Europe/Berlin"]; "US": every zone of the
// North American numbering plan); nil when it names none.
func RegionZones(region string) []string {
	cc := phonenumbers.GetCountryCodeForRegion(canonicalRegion(region))
	if cc == 0 {
		return nil
	}
	return zonesOf(fmt.Sprintf("+%d", cc))
}
