package scalar

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/internal/pulid"
)

// TestMarshalCursor: MarshalCursor writes the bytes ent.Cursor's own
// MarshalGQL writes, for IDs of every length the fast path takes and
// beyond, and for cursors with a value, and so does WriteCursor, into an
// answer's buffer after what it holds already and into any other writer;
// UnmarshalCursor reads them back.
func TestMarshalCursor(t *testing.T) {
	t.Parallel()
	cursors := []ent.Cursor{
		{ID: pulid.New("ctc")},
		{ID: ""},
		{ID: "run_01JDQ3Z5V6R8W9X0Y1Z2A3B4C5"},
		{ID: pulid.ID(strings.Repeat("x", 31))},
		{ID: pulid.ID(strings.Repeat("x", 32))},
		{ID: pulid.ID(strings.Repeat("y", maxFastID))},
		{ID: pulid.ID(strings.Repeat("z", maxFastID+1))},
		{ID: pulid.ID(strings.Repeat("z", 300))},
		{ID: "ünïcödé \" \\ \x00"},
		{ID: pulid.New("cmp"), Value: "name"},
		{ID: pulid.New("cmp"), Value: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC).Unix()},
	}
	for _, c := range cursors {
		var got, want bytes.Buffer
		MarshalCursor(c).MarshalGQL(&got)
		c.MarshalGQL(&want)
		if got.String() != want.String() {
			t.Errorf("cursor %+v: %s, want %s", c, got.String(), want.String())
		}
		answer := bytes.NewBufferString(`{"cursor":`)
		WriteCursor(answer, &c)
		if answer.String() != `{"cursor":`+want.String() {
			t.Errorf("cursor %+v written into a buffer: %s, want it after {\"cursor\":", c, answer.String())
		}
		var other strings.Builder
		WriteCursor(&other, &c)
		if other.String() != want.String() {
			t.Errorf("cursor %+v written into a strings.Builder: %s", c, other.String())
		}
		back, err := UnmarshalCursor(strings.Trim(got.String(), `"`))
		if err != nil || back.ID != c.ID {
			t.Errorf("cursor %+v read back as %+v, %v", c, back, err)
		}
	}
	if _, err := UnmarshalCursor("not a cursor!"); err == nil {
		t.Error("a cursor that is not one was read")
	}
}
