// Package scalar holds the marshalers gqlgen binds GraphQL scalars to where
// the Go type's own methods cost more than they need to (gqlgen.yml).
package scalar

import (
	"bytes"
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
	return graphql.WriterFunc(func(w io.Writer) { WriteCursor(w, &c) })
}

// WriteCursor writes *c as MarshalCursor(*c) does. A cursor of an ID alone
// written into a *bytes.Buffer (an answer) is encoded in the buffer's own
// spare room, without allocating.
func WriteCursor(w io.Writer, c *ent.Cursor) {
	switch b, ok := w.(*bytes.Buffer); {
	case c.Value != nil || len(c.ID) > maxFastID:
		c.MarshalGQL(w)
	case ok:
		_, _ = b.Write(appendIDCursor(b.AvailableBuffer(), string(c.ID)))
	default:
		_, _ = w.Write(appendIDCursor(nil, string(c.ID)))
	}
}

// UnmarshalCursor reads a cursor as ent.Cursor's UnmarshalGQL does.
func UnmarshalCursor(v any) (ent.Cursor, error) {
	var c ent.Cursor
	err := c.UnmarshalGQL(v)
	return c, err
}

// maxFastID is the longest ID appendIDCursor encodes; IDs are 30-odd bytes.
const maxFastID = 200

// appendIDCursor appends the JSON string of the cursor {"i": id} as
// MessagePack encodes that struct (a map of one entry; the empty "v" is
// left out) and base64.RawStdEncoding then encodes it.
func appendIDCursor(dst []byte, id string) []byte {
	var raw [5 + maxFastID]byte
	msg := append(raw[:0], 0x81, 0xa1, 'i') // fixmap of 1, fixstr "i"
	switch n := len(id); {
	case n < 32:
		msg = append(msg, 0xa0|byte(n)) // fixstr
	default:
		msg = append(msg, 0xd9, byte(n)) // str 8
	}
	msg = append(msg, id...)
	dst = append(dst, '"')
	dst = base64.RawStdEncoding.AppendEncode(dst, msg)
	return append(dst, '"')
}
