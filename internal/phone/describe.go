package phone

import (
	"fmt"

	"github.com/nyaruka/phonenumbers"

	"github.com/intake/intake/schema/schematype"
)

// Info is what a valid number is, from the phone library's offline data.
type Info struct {
	Type schematype.NumberType
	// TimeZone is the IANA time zone of the number's area, e.g.
	// "Europe/Berlin"; "" when the data names none. Where it names several
	// (a number of a country with several zones and no geographic prefix),
	// the first.
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
	info := Info{Type: schematype.NumberUnknown}
	if t, ok := numberTypes[phonenumbers.GetNumberType(&sc.num)]; ok {
		info.Type = t
	}
	if r := phonenumbers.GetRegionCodeForNumber(&sc.num); len(r) == 2 && r != "ZZ" {
		info.Region = r
	}
	if zones, err := phonenumbers.GetTimezonesForPrefix(e164); err == nil && len(zones) > 0 && zones[0] != phonenumbers.UNKNOWN_TIMEZONE {
		info.TimeZone = zones[0]
	}
	return info
}

// FirstAccepted is First, keeping only numbers whose type accept accepts
// (nil accepts every type): the first usable number of raws of an accepted
// type, with what it is. When raws hold usable numbers but none of an
// accepted type, p is schematype.IssueUnsupportedNumberType, raw the first
// of them and msg names its type.
func FirstAccepted(raws []string, region string, accept func(schematype.NumberType) bool) (e164, raw string, info Info, p schematype.ImportIssueCode, msg string) {
	if accept == nil {
		e, r, p, m := First(raws, region)
		if p != "" {
			return "", r, Info{}, p, m
		}
		return e, r, Describe(e), "", ""
	}
	var refused Info
	var refusedE164, refusedRaw string
	rest := raws
	for {
		e, r, p, m := First(rest, region)
		if p != "" {
			if refusedRaw != "" {
				return "", refusedRaw, refused, schematype.IssueUnsupportedNumberType,
					fmt.Sprintf("phone number %s (%s) is a %s number, which the campaign does not call", quote(refusedRaw), refusedE164, refused.Type)
			}
			return "", r, Info{}, p, m
		}
		in := Describe(e)
		if accept(in.Type) {
			return e, r, in, "", ""
		}
		if refusedRaw == "" {
			refused, refusedE164, refusedRaw = in, e, r
		}
		// Look on after the refused number.
		for i, x := range rest {
			if x == r {
				rest = rest[i+1:]
				break
			}
		}
	}
}
