package engine

import (
	"strings"
	"testing"

	"github.com/intake/intake/sync/connector"
)

// PostgreSQL stores no NUL in text or jsonb: a record carrying one must
// import without it instead of failing its page on every retry.
func TestRecordsLoseNUL(t *testing.T) {
	r := connector.Record{
		ExternalID: "c\x001", FirstName: "A\x00na", LastName: "B", Email: "a\x00@b.de",
		Phones: []string{"030\x00 1234567"}, ReferenceIDs: []string{"job\x001"},
		Attributes: map[string]any{"cv\x00": "x\x00y", "list": []any{"a\x00", map[string]any{"k": "v\x00"}}, "n": 1.5},
	}
	dropNUL(&r)
	for _, s := range []string{r.ExternalID, r.FirstName, r.Email, r.Phones[0], r.ReferenceIDs[0]} {
		if strings.ContainsRune(s, 0) {
			t.Errorf("%q still holds a NUL", s)
		}
	}
	if r.FirstName != "Ana" || r.Phones[0] != "030 1234567" {
		t.Errorf("first name %q, phone %q: want the text without the NUL", r.FirstName, r.Phones[0])
	}
	got := attributes(&r)
	if want := `{"cv":"xy","list":["a",{"k":"v"}],"n":1.5}`; got != want {
		t.Errorf("attributes %s, want %s", got, want)
	}
	// A literal backslash before u0000 is text, not a NUL, and survives.
	r.Attributes = map[string]any{"path": `C:\u0000`}
	if got, want := attributes(&r), `{"path":"C:\\u0000"}`; got != want {
		t.Errorf("attributes %s, want %s", got, want)
	}
}
