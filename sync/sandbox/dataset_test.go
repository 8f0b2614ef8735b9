package sandbox

import (
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
