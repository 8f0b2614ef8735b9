package pulid

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestMarshalGQL: an ID is written as the JSON string json.Marshal writes,
// whatever a client put in it, and a made ID costs no allocation.
func TestMarshalGQL(t *testing.T) {
	for _, id := range []ID{
		New("cmp"), "", "run_01JDQ3Z5V6R8W9X0Y1Z2A3B4C5", `quote"d`, `back\slash`, "new\nline", "nul\x00",
		"tab\t", "del\x7f", "<script>&", "ünïcödé", "bad utf-8 \xff", "emoji 🦫",
	} {
		var buf bytes.Buffer
		id.MarshalGQL(&buf)
		want, _ := json.Marshal(string(id))
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("MarshalGQL(%q) = %s, want %s", id, buf.Bytes(), want)
		}
		if !json.Valid(buf.Bytes()) {
			t.Errorf("MarshalGQL(%q) = %s: not JSON", id, buf.Bytes())
		}
	}

	id := New("cmp")
	buf := bytes.NewBuffer(make([]byte, 0, 64))
	if n := testing.AllocsPerRun(100, func() {
		buf.Reset()
		id.MarshalGQL(buf)
	}); n != 0 {
		t.Errorf("MarshalGQL of a made ID: %v allocations, want 0", n)
	}
}
