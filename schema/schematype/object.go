package schematype

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
)

// JSONObject is a JSON object kept as the bytes that encode it, compact: a
// contact's attributes (the stored contacts.attributes, GraphQL
// Contact.attributes). A page of contacts goes from the database to the
// answer without decoding the objects into maps and encoding them again:
// Scan checks and compacts what the database holds, once, and the GraphQL
// layer writes the bytes as they are. Code that needs the values decodes
// them (Map).
//
// The zero JSONObject is the empty object.
type JSONObject []byte

// emptyObject is how an empty JSONObject is stored and written.
const emptyObject = "{}"

// ObjectOf encodes m as a JSONObject (nil: the empty object).
func ObjectOf(m map[string]any) (JSONObject, error) {
	if m == nil {
		return JSONObject(emptyObject), nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return JSONObject(b), nil
}

// Map decodes the object.
func (o JSONObject) Map() (map[string]any, error) {
	m := map[string]any{}
	if len(o) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(o, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// Bytes is the object's compact encoding ({} for the zero JSONObject).
// The caller must not modify them.
func (o JSONObject) Bytes() []byte {
	if len(o) == 0 {
		return []byte(emptyObject)
	}
	return o
}

// Scan reads the object as the database driver returns it: jsonb's text
// on PostgreSQL (with a space after every colon and comma), the text as
// written on SQLite. It keeps a compact copy, since the driver may reuse
// its buffer, and refuses anything but a JSON object. NULL reads as the
// empty object.
func (o *JSONObject) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*o = JSONObject(emptyObject)
		return nil
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		return fmt.Errorf("schematype: a JSON object cannot be read from a %T", src)
	}
	c, err := compactObject(b)
	if err != nil {
		return err
	}
	*o = c
	return nil
}

// Value stores the object as JSON text, which both databases take for a
// JSON column (lib/pq would send bytes as bytea).
func (o JSONObject) Value() (driver.Value, error) {
	if len(o) == 0 {
		return emptyObject, nil
	}
	if err := checkObject(o); err != nil {
		return nil, err
	}
	return string(o), nil
}

// MarshalJSON writes the object as it is.
func (o JSONObject) MarshalJSON() ([]byte, error) {
	return o.Bytes(), nil
}

// UnmarshalJSON keeps a compact copy of b, which must be a JSON object
// (null reads as the empty object).
func (o *JSONObject) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*o = JSONObject(emptyObject)
		return nil
	}
	c, err := compactObject(b)
	if err != nil {
		return err
	}
	*o = c
	return nil
}

var errNotObject = errors.New("schematype: the JSON value is not an object")

// compactObject is a compact copy of b, checked to be one JSON object.
func compactObject(b []byte) (JSONObject, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, fmt.Errorf("schematype: reading a JSON object: %w", err)
	}
	c := buf.Bytes()
	if len(c) == 0 || c[0] != '{' {
		return nil, errNotObject
	}
	return c, nil
}

// checkObject says whether b is one JSON object.
func checkObject(b []byte) error {
	if !json.Valid(b) {
		return errors.New("schematype: a JSON object is not valid JSON")
	}
	if b = bytes.TrimLeft(b, " \t\r\n"); len(b) == 0 || b[0] != '{' {
		return errNotObject
	}
	return nil
}
