package sandbox

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// The data set's promises are what sync tests count on: check them with the
// same library the sync uses.
func TestDatasetPhonesNormaliseAsClassified(t *testing.T) {
	t.Parallel()
	d := Dataset{Seed: 42, Size: 5000}
	seen := map[string]int{}
	for i := range d.Size {
		p := d.Person(i)
		valid := ""
		for _, raw := range p.Phones {
			if len(raw) > 250 {
				continue
			}
			num, err := phonenumbers.Parse(raw, "DE")
			if err == nil && phonenumbers.IsValidNumber(num) {
				valid = phonenumbers.Format(num, phonenumbers.E164)
				break
			}
		}
		switch p.Kind {
		case PhoneValid:
			if valid != p.E164 {
				t.Fatalf("person %d: phones %q normalise to %q, want %q", i, p.Phones, valid, p.E164)
			}
			if j, dup := seen[valid]; dup {
				t.Fatalf("person %d: number %s already belongs to person %d", i, valid, j)
			}
			seen[valid] = i
		case PhoneDuplicate:
			if valid != p.E164 || seen[valid] != p.DupOf {
				t.Fatalf("person %d: phones %q normalise to %q, want duplicate of %d (%s)", i, p.Phones, valid, p.DupOf, p.E164)
			}
			if orig := d.Person(p.DupOf); orig.Phones[len(orig.Phones)-1] == p.Phones[0] {
				t.Fatalf("person %d: duplicate uses the same format %q as person %d", i, p.Phones[0], p.DupOf)
			}
		case PhoneMissing:
			if len(p.Phones) != 0 {
				t.Fatalf("person %d: want no phones, got %q", i, p.Phones)
			}
		case PhoneInvalid:
			if len(p.Phones) == 0 || valid != "" {
				t.Fatalf("person %d: phones %q should all be invalid, got %q", i, p.Phones, valid)
			}
		}
	}
}

func TestDatasetIsDeterministic(t *testing.T) {
	t.Parallel()
	a, b := Dataset{Seed: 7, Size: 100}, Dataset{Seed: 7, Size: 100}
	for i := range 100 {
		pa, pb := a.Person(i), b.Person(i)
		if pa.ID != pb.ID || pa.E164 != pb.E164 || pa.Email != pb.Email || len(pa.Phones) != len(pb.Phones) {
			t.Fatalf("person %d differs between runs: %+v vs %+v", i, pa, pb)
		}
	}
	if i, ok := a.IndexOf(a.ExternalID(42)); !ok || i != 42 {
		t.Fatalf("IndexOf(ExternalID(42)) = %d, %v", i, ok)
	}
	if _, ok := a.IndexOf("abc"); ok {
		t.Fatal("IndexOf accepted a foreign ID")
	}
	if got := a.FirstCreatedAtOrAfter(a.CreatedAt(10)); got != 10 {
		t.Fatalf("FirstCreatedAtOrAfter(CreatedAt(10)) = %d", got)
	}
	if got := a.FirstCreatedAtOrAfter(a.CreatedAt(10).Add(1)); got != 11 {
		t.Fatalf("FirstCreatedAtOrAfter(CreatedAt(10)+1ns) = %d", got)
	}
}

// digitRun finds what could be part of a phone number.
var digitRun = regexp.MustCompile(`[0-9]{3}`)

func TestDatasetFitData(t *testing.T) {
	t.Parallel()
	d := Dataset{Seed: 42, Size: 3000}
	counts := map[string]int{}
	for i := range d.Size {
		p := d.Person(i)
		if q := d.Person(i); !slices.Equal(p.Tags, q.Tags) || p.Profession != q.Profession || p.City != q.City || p.Source != q.Source {
			t.Fatalf("person %d: fit data differs between calls", i)
		}
		if (p.Profession == "") != (i%30 == 29) || (p.City == "") != (i%30 == 14) || (p.Source == "") != (i%30 == 24) {
			t.Fatalf("person %d: profession %q, city %q, source %q break the empty-value rules", i, p.Profession, p.City, p.Source)
		}
		if (i%30 == 29 || i%30 == 14 || i%30 == 24) && p.Kind != PhoneValid {
			t.Fatalf("person %d: a person without some fit value has phone kind %v", i, p.Kind)
		}
		if (p.Company == "") != (p.Profession == "") || (p.Industry == "") != (p.Profession == "") {
			t.Fatalf("person %d: company %q and industry %q do not follow profession %q", i, p.Company, p.Industry, p.Profession)
		}
		if p.Country == "" || p.CountryName == "" || p.LifecycleStage == "" {
			t.Fatalf("person %d: country %q (%q), lifecycle stage %q", i, p.Country, p.CountryName, p.LifecycleStage)
		}
		if len(p.Tags) > 2 || len(p.Tags) == 2 && p.Tags[0] == p.Tags[1] || p.Tags != nil && len(p.Tags) == 0 {
			t.Fatalf("person %d: tags %q", i, p.Tags)
		}
		counts["profession:"+p.Profession]++
		counts["city:"+p.City]++
		counts["source:"+p.Source]++
		counts["stage:"+p.LifecycleStage]++
		counts[fmt.Sprint("tags:", len(p.Tags))]++
		for _, v := range append([]string{p.Profession, p.Industry, p.Company, p.City, p.Source, p.LifecycleStage}, p.Tags...) {
			if strings.Contains(v, "@") || digitRun.MatchString(v) {
				t.Fatalf("person %d: fit value %q looks like contact data", i, v)
			}
			for _, name := range slices.Concat(firstNames, lastNames) {
				if strings.Contains(v, name) {
					t.Fatalf("person %d: fit value %q contains the name %q", i, v, name)
				}
			}
		}
	}
	// Every value occurs, none dominates.
	var all []string
	for _, v := range Professions() {
		all = append(all, "profession:"+v)
	}
	for _, v := range Cities() {
		all = append(all, "city:"+v)
	}
	for _, v := range Sources() {
		all = append(all, "source:"+v)
	}
	for _, v := range LifecycleStages() {
		all = append(all, "stage:"+v)
	}
	all = append(all, "tags:0", "tags:1", "tags:2")
	for _, k := range all {
		if n := counts[k]; n < 100 || n > 1200 {
			t.Errorf("%s occurs %d times among %d people", k, n, d.Size)
		}
	}
}
