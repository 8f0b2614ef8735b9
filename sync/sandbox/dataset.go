package sandbox

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"
)

// PhoneKind is what the sync should make of a person's phones.
type PhoneKind int

const (
	// PhoneValid: the first valid phone is new and unique in the data set.
	PhoneValid PhoneKind = iota
	// PhoneDuplicate: the phone is DuplicateOf's number in another format.
	PhoneDuplicate
	// PhoneMissing: the person has no phone at all.
	PhoneMissing
	// PhoneInvalid: every phone the person has is invalid.
	PhoneInvalid
)

// Person is one generated candidate or contact.
type Person struct {
	Index      int
	ID         string // stable external ID
	FirstName  string
	LastName   string
	Email      string
	Phones     []string // raw, in the provider's preference order
	E164       string   // the number the phones normalise to ("" unless valid or duplicate)
	Kind       PhoneKind
	DupOf      int // index of the person whose number this is, for PhoneDuplicate
	Group      int // reference group (office, job, list) in [0, Dataset.Groups)
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Attributes map[string]string

	// Fit data: what the external systems know of the person besides
	// contact details (see Dataset for the distribution). "" (or no tags)
	// means the systems have no value.
	Profession     string   // trade or job title, e.g. "Nurse"
	Industry       string   // the industry of Profession, e.g. "Hospital & Health Care"
	Company        string   // current employer, in Industry
	City           string   // e.g. "Berlin", "Wien", "Zürich"
	Country        string   // ISO 3166-1 alpha-2 code: "DE", "AT" or "CH"
	CountryName    string   // Country in English: "Germany", "Austria" or "Switzerland"
	Source         string   // where the application or lead came from, e.g. "Referral"
	Tags           []string // 0 to 2 distinct labels, nil for none
	LifecycleStage string   // a HubSpot lifecycle stage, e.g. "lead"
}

// Dataset generates people deterministically from a seed: Person(i) is a pure
// function, so a fake can serve a million people without holding them.
//
// Phones come in realistic variety (German national and international
// formats, Austrian, Swiss and UK numbers), and in fixed proportions:
// every 10th person (i%10 == 7) repeats person i-1's number in another
// format, every 25th (i%25 == 3) has none, every 40th (i%40 == 11) has only
// invalid ones, and every 50th (i%50 == 13) lists an invalid phone before a
// valid one. Those rules never overlap for the same i.
//
// Fit data (Person.Profession, City, ...) is drawn from a second hash of
// (Seed, i), independent of the one behind names and phones, so it does not
// follow Group or the phone rules; adding it changed no other field. Tests
// count it by looping over Person(i). Per person:
//
//   - Profession is one of Professions() (fit hash % 10), except every
//     30th person (i%30 == 29), who has none. Industry is the profession's
//     industry and Company one of its employers (both "" without a
//     profession).
//   - City is one of Cities() ((fit hash >> 8) % len), with its Country and
//     CountryName; every 30th person (i%30 == 14) has no City but keeps
//     the country.
//   - Source is one of Sources() ((fit hash >> 16) % 4), except every 30th
//     person (i%30 == 24), who has none.
//   - Tags: (fit hash >> 24) % 3 distinct labels of TagLabels(), in order
//     of drawing; nil for none.
//   - LifecycleStage is one of LifecycleStages() ((fit hash >> 56) % 5).
//
// The empty-value rules pick indices ending in 4 or 9, so they never
// overlap the phone rules: those people have a valid phone.
type Dataset struct {
	Seed   uint64
	Size   int
	Groups int           // number of reference groups; default 5
	Start  time.Time     // CreatedAt of person 0; default 2026-01-01T00:00:00Z
	Step   time.Duration // CreatedAt(i) = Start + i*Step; default 10s
}

func (d Dataset) groups() int {
	if d.Groups <= 0 {
		return 5
	}
	return d.Groups
}

func (d Dataset) start() time.Time {
	if d.Start.IsZero() {
		return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return d.Start
}

func (d Dataset) step() time.Duration {
	if d.Step <= 0 {
		return 10 * time.Second
	}
	return d.Step
}

// CreatedAt is person i's creation time; it grows with i.
func (d Dataset) CreatedAt(i int) time.Time { return d.start().Add(time.Duration(i) * d.step()) }

// UpdatedAtLag is how long after its creation a person was last changed.
const UpdatedAtLag = 6 * time.Hour

// UpdatedAt is person i's last change; it grows with i, so "changed since t"
// is a suffix of the data set (see FirstCreatedAtOrAfter).
func (d Dataset) UpdatedAt(i int) time.Time { return d.CreatedAt(i).Add(UpdatedAtLag) }

// FirstUpdatedAtOrAfter returns the smallest index changed at or after t.
func (d Dataset) FirstUpdatedAtOrAfter(t time.Time) int {
	return d.FirstCreatedAtOrAfter(t.Add(-UpdatedAtLag))
}

// AnchoredAt returns the data set shifted so that its last person was
// created at end (for demos that should look recent).
func (d Dataset) AnchoredAt(end time.Time) Dataset {
	d.Start = end.Add(-time.Duration(max(d.Size-1, 0)) * d.step())
	return d
}

// FirstCreatedAtOrAfter returns the smallest index created at or after t
// (Size when none is).
func (d Dataset) FirstCreatedAtOrAfter(t time.Time) int {
	if !t.After(d.start()) {
		return 0
	}
	delta := t.Sub(d.start())
	i := int(delta / d.step())
	if delta%d.step() != 0 {
		i++
	}
	return min(i, d.Size)
}

// ExternalID is person i's stable external ID.
func (d Dataset) ExternalID(i int) string { return fmt.Sprintf("%d", 100000+i) }

// IndexOf reverses ExternalID; ok is false for IDs outside the data set.
func (d Dataset) IndexOf(id string) (int, bool) {
	var n int
	if _, err := fmt.Sscanf(id, "%d", &n); err != nil || fmt.Sprint(n) != id {
		return 0, false
	}
	i := n - 100000
	return i, i >= 0 && i < d.Size
}

// Kind classifies person i's phones without generating the person.
func (d Dataset) Kind(i int) PhoneKind {
	switch {
	case i%10 == 7:
		return PhoneDuplicate
	case i%25 == 3:
		return PhoneMissing
	case i%40 == 11:
		return PhoneInvalid
	}
	return PhoneValid
}

var (
	firstNames = []string{"Anna", "Ben", "Clara", "David", "Elif", "Felix", "Greta", "Hannah", "Ismail", "Jonas", "Katarzyna", "Lukas", "Mia", "Noah", "Olga", "Paul", "Sophie", "Tim", "Yusuf", "Zoe"}
	lastNames  = []string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Yılmaz", "Kowalski", "Nowak", "Schröder", "Neumann", "Braun"}
	// German mobile prefixes with 8 subscriber digits (national "0" + prefix).
	mobilePrefixes = []string{"151", "152", "157", "159", "160", "162", "163", "170", "171", "172", "173", "174", "175", "176", "177", "178", "179"}
	invalidPhones  = []string{"12345", "n/a", "+49 0000", "call me maybe", "+999 123 456 789", strings.Repeat("0", 260)}
)

// trade is a profession with its industry and some employers in it. No
// fit value contains a first or last name of the data set.
type trade struct {
	profession, industry string
	companies            []string
}

type city struct{ name, country string }

var (
	trades = []trade{
		{"Nurse", "Hospital & Health Care", []string{"Klinikum Nordstadt", "Vivantes Pflege GmbH", "Caritas Krankenhaus St. Josef"}},
		{"Forklift driver", "Logistics & Supply Chain", []string{"Lagerlogistik Rheinland GmbH", "Rhein Cargo Services", "Nordlog Spedition"}},
		{"Electrician", "Construction", []string{"Elektro Lindner GmbH", "Voltwerk Installationen", "Stadtwerke Technik Service"}},
		{"Warehouse worker", "Logistics & Supply Chain", []string{"Versandzentrum Süd", "Lagerlogistik Rheinland GmbH", "Alpen Fulfillment AG"}},
		{"Software developer", "Computer Software", []string{"Softwerk Berlin GmbH", "Datenbrücke AG", "Alpencode Solutions"}},
		{"Welder", "Mechanical or Industrial Engineering", []string{"Stahlbau Krüger GmbH", "Metallwerk Ost", "Anlagenbau Steiner AG"}},
		{"Truck driver", "Transportation/Trucking/Railroad", []string{"Nordlog Spedition", "Fernverkehr Huber", "Rhein Cargo Services"}},
		{"Care assistant", "Hospital & Health Care", []string{"Seniorenresidenz Am Park", "Caritas Krankenhaus St. Josef", "Pflegedienst Sonnenschein"}},
		{"Accountant", "Accounting", []string{"Treuhand Alpina & Partner", "Steuerkanzlei am Markt", "Finanzkontor Zürich AG"}},
		{"Chef", "Restaurants", []string{"Gasthaus zur Linde", "Hotel Alpenblick", "Kantine Service Nord GmbH"}},
	}
	cities = []city{
		{"Berlin", "DE"}, {"Hamburg", "DE"}, {"München", "DE"}, {"Köln", "DE"}, {"Frankfurt am Main", "DE"},
		{"Leipzig", "DE"}, {"Stuttgart", "DE"}, {"Düsseldorf", "DE"}, {"Dresden", "DE"}, {"Nürnberg", "DE"},
		{"Wien", "AT"}, {"Graz", "AT"}, {"Linz", "AT"}, {"Zürich", "CH"}, {"Basel", "CH"}, {"Bern", "CH"},
	}
	countryNames    = map[string]string{"DE": "Germany", "AT": "Austria", "CH": "Switzerland"}
	sources         = []string{"Job board", "Referral", "Career site", "Agency"}
	tagLabels       = []string{"Driving licence", "Night shifts", "Part-time", "Immediate start", "German B2", "Forklift licence", "Experienced", "Willing to relocate"}
	lifecycleStages = []string{"subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity"}
)

// Professions lists the professions of the data set, in the order the fit
// hash indexes them.
func Professions() []string {
	out := make([]string, len(trades))
	for k, t := range trades {
		out[k] = t.profession
	}
	return out
}

// Cities lists the cities of the data set.
func Cities() []string {
	out := make([]string, len(cities))
	for k, c := range cities {
		out[k] = c.name
	}
	return out
}

// Sources lists the sources of applications and leads.
func Sources() []string { return slices.Clone(sources) }

// TagLabels lists the labels Person.Tags are drawn from.
func TagLabels() []string { return slices.Clone(tagLabels) }

// LifecycleStages lists the lifecycle stages of CRM contacts.
func LifecycleStages() []string { return slices.Clone(lifecycleStages) }

// Person generates person i.
func (d Dataset) Person(i int) Person {
	h := d.hash(i)
	p := Person{
		Index:     i,
		ID:        d.ExternalID(i),
		FirstName: firstNames[h%uint64(len(firstNames))],
		LastName:  lastNames[(h>>8)%uint64(len(lastNames))],
		Group:     i % d.groups(),
		CreatedAt: d.CreatedAt(i),
		Kind:      d.Kind(i),
	}
	p.UpdatedAt = d.UpdatedAt(i)
	p.Email = strings.ToLower(fmt.Sprintf("%s.%s.%d@example.com", ascii(p.FirstName), ascii(p.LastName), i))
	switch p.Kind {
	case PhoneValid:
		p.E164 = d.number(i)
		p.Phones = []string{format(p.E164, h>>24)}
		if i%50 == 13 {
			p.Phones = []string{invalidPhones[(h>>32)%uint64(len(invalidPhones)-1)], p.Phones[0]}
		}
	case PhoneDuplicate:
		p.DupOf = i - 1
		for d.Kind(p.DupOf) != PhoneValid {
			p.DupOf--
		}
		p.E164 = d.number(p.DupOf)
		// Another format than the original's.
		p.Phones = []string{format(p.E164, (d.hash(p.DupOf)>>24)+1+(h>>24)%5)}
	case PhoneMissing:
	case PhoneInvalid:
		p.Phones = []string{invalidPhones[(h>>32)%uint64(len(invalidPhones))]}
	}
	d.fit(&p)
	return p
}

// fit fills in person p's fit data; see Dataset.
func (d Dataset) fit(p *Person) {
	i := p.Index
	f := fnv.New64a()
	fmt.Fprintf(f, "fit/%d/%d", d.Seed, i)
	// FNV's high bits change little between neighbouring i: mix them
	// (the SplitMix64 finaliser) before slicing the hash.
	h := f.Sum64()
	h = (h ^ h>>30) * 0xbf58476d1ce4e5b9
	h = (h ^ h>>27) * 0x94d049bb133111eb
	h ^= h >> 31
	if i%30 != 29 {
		t := trades[h%uint64(len(trades))]
		p.Profession, p.Industry = t.profession, t.industry
		p.Company = t.companies[(h>>40)%uint64(len(t.companies))]
	}
	c := cities[(h>>8)%uint64(len(cities))]
	p.Country, p.CountryName = c.country, countryNames[c.country]
	if i%30 != 14 {
		p.City = c.name
	}
	if i%30 != 24 {
		p.Source = sources[(h>>16)%uint64(len(sources))]
	}
	n := int((h >> 24) % 3)
	for k := 0; len(p.Tags) < n; k++ {
		label := tagLabels[((h>>32)+uint64(k)*((h>>48)%7+1))%uint64(len(tagLabels))]
		if !slices.Contains(p.Tags, label) {
			p.Tags = append(p.Tags, label)
		}
	}
	p.LifecycleStage = lifecycleStages[(h>>56)%uint64(len(lifecycleStages))]
}

func (d Dataset) hash(i int) uint64 {
	f := fnv.New64a()
	fmt.Fprintf(f, "%d/%d", d.Seed, i)
	return f.Sum64()
}

// number is person i's E.164 number, unique per i: most are German mobiles
// (prefix chosen by i, subscriber a bijection of i), some Berlin landlines
// and Austrian, Swiss and UK mobiles.
func (d Dataset) number(i int) string {
	n := uint64(i)
	switch n % 20 {
	case 5:
		return fmt.Sprintf("+4930%08d", (n/20*7919+d.Seed)%1e8)
	case 9:
		return fmt.Sprintf("+43660%07d", (n/20*7919+d.Seed)%1e7)
	case 15:
		return fmt.Sprintf("+4179%07d", (n/20*7919+d.Seed)%1e7)
	case 19:
		return fmt.Sprintf("+447912%06d", (n/20*7919+d.Seed)%1e6)
	}
	prefix := mobilePrefixes[n%uint64(len(mobilePrefixes))]
	sub := (n/uint64(len(mobilePrefixes))*7919 + d.Seed) % 1e8
	return fmt.Sprintf("+49%s%08d", prefix, sub)
}

// format writes a German E.164 number in one of the ways people type it;
// other countries stay international.
func format(e164 string, variant uint64) string {
	if !strings.HasPrefix(e164, "+49") {
		cc, rest := splitCC(e164)
		switch variant % 3 {
		case 0:
			return e164
		case 1:
			return "00" + cc + " " + rest
		default:
			return "+" + cc + " " + rest[:3] + " " + rest[3:]
		}
	}
	national := e164[3:]
	area, sub := national[:3], national[3:]
	if strings.HasPrefix(national, "30") {
		area, sub = national[:2], national[2:]
	}
	switch variant % 7 {
	case 0:
		return e164
	case 1:
		return "+49 " + area + " " + sub
	case 2:
		return "0" + area + " " + sub
	case 3:
		return "0049 " + area + " " + sub
	case 4:
		return "(0" + area + ") " + sub[:3] + "-" + sub[3:]
	case 5:
		return "0" + area + "/" + sub
	default:
		return "+49 (0)" + area + " " + sub[:4] + " " + sub[4:]
	}
}

func splitCC(e164 string) (cc, rest string) {
	for _, c := range []string{"43", "41", "44"} {
		if strings.HasPrefix(e164[1:], c) {
			return c, e164[1+len(c):]
		}
	}
	return e164[1:3], e164[3:]
}

func ascii(s string) string {
	r := strings.NewReplacer("ü", "ue", "ö", "oe", "ä", "ae", "ı", "i", "ß", "ss")
	return r.Replace(s)
}
