// Package scalar holds the marshalers gqlgen binds GraphQL scalars to where
// the Go type's own methods cost more than they need to (gqlgen.yml).
package scalar

import (
	"encoding/base64"
	"io"

	"github.com/99designs/gqlgen/graphql"

	"github.com/intake/intake/ent"
)

// MarshalCursor writes a connection cursor: the bytes ent.Cursor's
// MarshalGQL writes (base64 without padding of the cursor in MessagePack),
// but, for a cursor of an ID alone (every cursor of a page not ordered by
// another field), without the base64 and MessagePack encoders it makes
// for each one, about a kilobyte per cursor and fifty cursors to a page.
func MarshalCursor(c ent.Cursor) graphql.Marshaler {
	if c.Value != nil || len(c.ID) > maxFastID {
		return c
	}
	return graphql.WriterFunc(func(w io.Writer) { writeIDCursor(w, string(c.ID)) })
}

// UnmarshalCursor reads a cursor as ent.Cursor's UnmarshalGQL does.
func UnmarshalCursor(v any) (ent.Cursor, error) {
	var c ent.Cursor
	err := c.UnmarshalGQL(v)
	return c, err
}

// maxFastID is the longest ID writeIDCursor writes; IDs are 30-odd bytes.
const maxFastID = 200

// writeIDCursor writes the JSON string of the cursor {"i": id} as
// MessagePack encodes that struct (a map of one entry; the empty "v" is
// left out) and base64.RawStdEncoding then encodes it.
func writeIDCursor(w io.Writer, id string) {
	var raw [5 + maxFastID]byte
	msg := append(raw[:0], 0x81, 0xa1, 'i') // fixmap of 1, fixstr "i"
	switch n := len(id); {
	case n < 32:
		msg = append(msg, 0xa0|byte(n)) // fixstr
	default:
		msg = append(msg, 0xd9, byte(n)) // str 8
	}
	msg = append(msg, id...)
	var out [2 + ((5+maxFastID)*8+5)/6]byte // quotes around the base64
	out[0] = '"'
	n := base64.RawStdEncoding.EncodedLen(len(msg))
	base64.RawStdEncoding.Encode(out[1:], msg)
	out[1+n] = '"'
	_, _ = w.Write(out[:n+2])
}
