// Package pulid implements Intake's IDs: a short type prefix and a ULID, as in
// "cmp_01JDQ3Z5V6R8W9X0Y1Z2A3B4C5". IDs are globally unique, sort by creation
// time, and name their type, which is how node(id:) finds the table. Clients
// treat them as opaque.
package pulid

import (
	"crypto/rand"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// ID is a prefixed ULID.
type ID string

var (
	entropyMu sync.Mutex
	entropy   = ulid.Monotonic(rand.Reader, 0)
)

// New returns a new ID with the given prefix.
func New(prefix string) ID {
	entropyMu.Lock()
	u := ulid.MustNew(ulid.Timestamp(time.Now()), entropy)
	entropyMu.Unlock()
	return ID(prefix + "_" + u.String())
}

// Prefix returns the type prefix of id ("" when it has none).
func (id ID) Prefix() string {
	p, _, ok := strings.Cut(string(id), "_")
	if !ok {
		return ""
	}
	return p
}

// Valid reports whether id has the form of an ID.
func (id ID) Valid() bool {
	p, rest, ok := strings.Cut(string(id), "_")
	if !ok || p == "" || len(p) > 8 {
		return false
	}
	_, err := ulid.ParseStrict(rest)
	return err == nil
}

// Scan implements sql.Scanner.
func (id *ID) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*id = ""
	case string:
		*id = ID(v)
	case []byte:
		*id = ID(string(v))
	default:
		return fmt.Errorf("pulid: cannot scan %T", src)
	}
	return nil
}

// Value implements driver.Valuer.
func (id ID) Value() (driver.Value, error) { return string(id), nil }

// UnmarshalGQL implements graphql.Unmarshaler.
func (id *ID) UnmarshalGQL(v any) error {
	switch s := v.(type) {
	case string:
		*id = ID(s)
	case ID:
		*id = s
	default:
		return fmt.Errorf("ID must be a string")
	}
	return nil
}

// MarshalGQL implements graphql.Marshaler: id as a JSON string. An ID
// Intake made needs no escaping and is written as it is, without
// allocating (a page of results writes hundreds); anything else a client
// sent is escaped as encoding/json escapes strings.
func (id ID) MarshalGQL(w io.Writer) {
	if !plainJSON(string(id)) {
		b, _ := json.Marshal(string(id))
		_, _ = w.Write(b)
		return
	}
	_, _ = io.WriteString(w, `"`)
	_, _ = io.WriteString(w, string(id))
	_, _ = io.WriteString(w, `"`)
}

// plainJSON reports whether s is printable ASCII a JSON string holds as
// it is: no quote, backslash or character json.Marshal would escape.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}
