package graph

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/graph/scalar"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/schema/schematype"
)

// TestLeavesAsGqlgen: each leaf marshaller writes what the marshaller it
// stands in for writes, into an answer's buffer after what the buffer
// holds (with room to spare and without) and into any other writer.
func TestLeavesAsGqlgen(t *testing.T) {
	t.Parallel()
	check := func(name string, got, want graphql.Marshaler) {
		t.Helper()
		var w bytes.Buffer
		want.MarshalGQL(&w)
		for _, room := range []int{0, 4096} {
			b := bytes.NewBuffer(make([]byte, 0, room))
			b.WriteString(`{"f":`)
			got.MarshalGQL(b)
			if b.String() != `{"f":`+w.String() {
				t.Errorf("%s (room %d): wrote %s, want %s", name, room, b.String()[5:], w.String())
			}
		}
		var other strings.Builder
		got.MarshalGQL(&other)
		if other.String() != w.String() {
			t.Errorf("%s into a strings.Builder: wrote %s, want %s", name, other.String(), w.String())
		}
	}
	for _, s := range []string{"", "Ada", "quote \" and \\ and \n", "\x00\x1f", "ünï\xff"} {
		check("string "+s, (*leafString)(&s), graphql.MarshalString(s))
		check("*string "+s, stringOrNull(&s), graphql.MarshalString(s))
	}
	check("nil *string", stringOrNull(nil), graphql.Null)

	for _, i := range []int{0, 7, -1, 99, 100, 12345, math.MaxInt, math.MinInt} {
		check("int", (*leafInt)(&i), graphql.MarshalInt(i))
		check("*int", intOrNull(&i), graphql.MarshalInt(i))
	}
	check("nil *int", intOrNull(nil), graphql.Null)

	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		berlin = time.FixedZone("CET", 3600)
	}
	for _, tm := range []time.Time{
		time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 7, 10, 0, 0, 123456789, time.UTC),
		time.Date(2026, 6, 1, 8, 30, 15, 100, berlin),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(12345, 1, 1, 0, 0, 0, 0, time.FixedZone("", -5*3600-30*60)),
		time.Unix(0, 0),
	} {
		check("time "+tm.String(), (*leafTime)(&tm), graphql.MarshalTime(tm))
		check("*time "+tm.String(), timeOrNull(&tm), graphql.MarshalTime(tm))
	}
	zero := time.Time{}
	check("zero *time", timeOrNull(&zero), graphql.Null)
	check("nil *time", timeOrNull(nil), graphql.Null)

	for _, o := range []schematype.JSONObject{nil, {}, schematype.JSONObject(`{"a":1,"b":"<&>"}`)} {
		check("object "+string(o), (*leafObject)(&o), scalar.MarshalObject(o))
	}

	for _, c := range []ent.Cursor{
		{ID: pulid.New("ctc")}, {ID: ""}, {ID: pulid.ID(strings.Repeat("z", 300))}, {ID: pulid.New("cmp"), Value: "name"},
	} {
		check("cursor "+string(c.ID), (*leafCursor)(&c), scalar.MarshalCursor(c))
		check("*cursor "+string(c.ID), cursorOrNull(&c), scalar.MarshalCursor(c))
	}
	check("nil *cursor", cursorOrNull(nil), graphql.Null)

	id := pulid.New("ctc")
	check("ID", &id, id)
}

// TestLeavesAllocateNothing: a field written through a leaf marshaller
// into an answer's buffer with room allocates nothing, where gqlgen's
// marshallers allocate a closure each and more for times and cursors.
func TestLeavesAllocateNothing(t *testing.T) {
	c := &ent.Contact{
		ID: pulid.New("ctc"), PhoneRaw: "0151 2345678", ExternalID: "42",
		CreatedAt: time.Date(2026, 12, 7, 10, 0, 0, 123, time.UTC), Attributes: schematype.JSONObject(`{"a":1}`),
	}
	name, n := "Ada", 12
	cursor := ent.Cursor{ID: c.ID}
	var m graphql.Marshaler
	b := bytes.NewBuffer(make([]byte, 0, 1<<16))
	for what, write := range map[string]func(){
		"string":  func() { m = (*leafString)(&c.PhoneRaw) },
		"*string": func() { m = stringOrNull(&name) },
		"int":     func() { m = (*leafInt)(&n) },
		"time":    func() { m = (*leafTime)(&c.CreatedAt) },
		"object":  func() { m = (*leafObject)(&c.Attributes) },
		"cursor":  func() { m = (*leafCursor)(&cursor) },
		"ID":      func() { m = &c.ID },
	} {
		allocs := testing.AllocsPerRun(100, func() {
			write()
			b.Reset()
			m.MarshalGQL(b)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per field", what, allocs)
		}
	}
}
