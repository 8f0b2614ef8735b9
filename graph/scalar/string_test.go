package scalar

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// stringCases are strings with every kind of byte WriteString treats
// apart: quotes, backslashes, each control character, multi-byte and
// invalid UTF-8, U+2028 (which JSON strings may hold as it is).
var stringCases = []string{
	"", "plain", `"quoted"`, `back\slash`, "tab\there", "cr\rlf\n", "\x00\x01\x1f\x7f",
	"ünïcödé", "\u2028\u2029", "\xff\xfe invalid", "half \xe2\x82", "€ – “dashes”", `\"\\"`,
	strings.Repeat("a\x05", 100),
}

// TestWriteString: WriteString writes what graphql.MarshalString writes,
// into an answer's buffer after what it holds and into any other writer.
func TestWriteString(t *testing.T) {
	t.Parallel()
	cases := slices.Clone(stringCases)
	for c := range 0x80 {
		cases = append(cases, "x"+string(rune(c))+"y")
	}
	for _, s := range cases {
		checkWriteString(t, s)
	}
}

func checkWriteString(t *testing.T, s string) {
	t.Helper()
	var want bytes.Buffer
	graphql.MarshalString(s).MarshalGQL(&want)
	got := bytes.NewBufferString(`{"s":`)
	WriteString(got, s)
	if got.String() != `{"s":`+want.String() {
		t.Errorf("%q: wrote %s, want %s", s, got.String()[5:], want.String())
	}
	var other strings.Builder
	WriteString(&other, s)
	if other.String() != want.String() {
		t.Errorf("%q into a strings.Builder: wrote %s, want %s", s, other.String(), want.String())
	}
}

// FuzzWriteString: for any string, WriteString writes what
// graphql.MarshalString writes.
func FuzzWriteString(f *testing.F) {
	for _, s := range stringCases {
		f.Add(s)
	}
	f.Fuzz(checkWriteString)
}
