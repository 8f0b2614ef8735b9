package graph

import (
	"bytes"
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/graph/scalar"
	"github.com/intake/intake/schema/schematype"
)

// The leaf marshallers below write a field's value from where it lives
// in its object, each byte for byte as the gqlgen marshaller named on it.
// gqlgen's return a closure holding a copy of the value (and a time's
// text, a number's digits): an allocation or three per field, several
// hundred on a page of 50 contacts. A pointer into the object, converted
// to one of these types, is a graphql.Marshaler without any.
// internal/trimexec points the fields read straight from a struct field
// at them. The object must not change until the answer is written: the
// objects of an answer are read from the database for it.
//
// Written into the answer's *bytes.Buffer (server/post.go), a number, a
// time or a cursor is appended in the buffer's own spare room.

// leafString is written as graphql.MarshalString writes it.
type leafString string

func (s *leafString) MarshalGQL(w io.Writer) { scalar.WriteString(w, string(*s)) }

// stringOrNull is graphql.MarshalString of *p, or null for nil.
func stringOrNull(p *string) graphql.Marshaler {
	if p == nil {
		return graphql.Null
	}
	return (*leafString)(p)
}

// leafInt is written as graphql.MarshalInt writes it.
type leafInt int

func (i *leafInt) MarshalGQL(w io.Writer) {
	if b, ok := w.(*bytes.Buffer); ok {
		_, _ = b.Write(strconv.AppendInt(b.AvailableBuffer(), int64(*i), 10))
		return
	}
	_, _ = io.WriteString(w, strconv.FormatInt(int64(*i), 10))
}

// intOrNull is graphql.MarshalInt of *p, or null for nil.
func intOrNull(p *int) graphql.Marshaler {
	if p == nil {
		return graphql.Null
	}
	return (*leafInt)(p)
}

// leafTime is written as graphql.MarshalTime writes a time that is not
// zero (it answers null for the zero time; so must the caller): quoted
// RFC 3339 with nanoseconds, which holds nothing to escape.
type leafTime time.Time

func (t *leafTime) MarshalGQL(w io.Writer) {
	if b, ok := w.(*bytes.Buffer); ok {
		out := append(b.AvailableBuffer(), '"')
		out = time.Time(*t).AppendFormat(out, time.RFC3339Nano)
		_, _ = b.Write(append(out, '"'))
		return
	}
	_, _ = io.WriteString(w, strconv.Quote(time.Time(*t).Format(time.RFC3339Nano)))
}

// timeOrNull is graphql.MarshalTime of *p: null for nil and for the zero
// time.
func timeOrNull(p *time.Time) graphql.Marshaler {
	if p == nil || p.IsZero() {
		return graphql.Null
	}
	return (*leafTime)(p)
}

// leafObject is written as scalar.MarshalObject writes it.
type leafObject schematype.JSONObject

func (o *leafObject) MarshalGQL(w io.Writer) { _, _ = w.Write(schematype.JSONObject(*o).Bytes()) }

// leafCursor is written as scalar.MarshalCursor writes it.
type leafCursor ent.Cursor

func (c *leafCursor) MarshalGQL(w io.Writer) { scalar.WriteCursor(w, (*ent.Cursor)(c)) }

// cursorOrNull is scalar.MarshalCursor of *p, or null for nil.
func cursorOrNull(p *ent.Cursor) graphql.Marshaler {
	if p == nil {
		return graphql.Null
	}
	return (*leafCursor)(p)
}
