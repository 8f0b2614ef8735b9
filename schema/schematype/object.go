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
	switch v := src.(type) {
	case nil:
		return o.set(nil)
	case []byte:
		return o.set(v)
	case string:
		return o.set([]byte(v))
	}
	return fmt.Errorf("schematype: a JSON object cannot be read from a %T", src)
}

// Value stores the object as compact JSON text, which both databases take
// for a JSON column (lib/pq would send bytes as bytea). It refuses anything
// Scan would refuse to read back.
func (o JSONObject) Value() (driver.Value, error) {
	if len(o) == 0 {
		return emptyObject, nil
	}
	c, err := compactObject(o)
	if err != nil {
		return nil, err
	}
	return string(c), nil
}

// MarshalJSON writes the object as it is.
func (o JSONObject) MarshalJSON() ([]byte, error) {
	return o.Bytes(), nil
}

// UnmarshalJSON keeps a compact copy of b, which must be a JSON object
// (null reads as the empty object).
func (o *JSONObject) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		b = nil
	}
	return o.set(b)
}

// set makes o a compact copy of b, which must be a JSON object; nil is the
// empty object.
func (o *JSONObject) set(b []byte) error {
	if b == nil {
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

// compactObject is a compact copy of b, checked to be one JSON object
// exactly as encoding/json checks a document (json.Valid): the bytes of
// json.Compact, read in a single pass that copies whole tokens instead of
// stepping a state machine through every byte, since every page of
// contacts scans fifty.
func compactObject(b []byte) (JSONObject, error) {
	c := compactor{in: b, out: make([]byte, 0, len(b))}
	c.space()
	if c.i == len(b) || b[c.i] != '{' {
		if c.value(0) && c.end() {
			return nil, errNotObject
		}
		return nil, errInvalid
	}
	if !c.value(0) || !c.end() {
		return nil, errInvalid
	}
	return c.out, nil
}

var errInvalid = errors.New("schematype: a JSON object is not valid JSON")

// maxDepth is encoding/json's limit of nested arrays and objects.
const maxDepth = 10000

// compactor reads one JSON value from in at i, appending it to out
// without insignificant space.
type compactor struct {
	in  []byte
	i   int
	out []byte
}

func (c *compactor) space() {
	for c.i < len(c.in) {
		switch c.in[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
		default:
			return
		}
	}
}

// end reports whether only space is left.
func (c *compactor) end() bool {
	c.space()
	return c.i == len(c.in)
}

// value reads one value at depth (the arrays and objects around it).
func (c *compactor) value(depth int) bool {
	c.space()
	if c.i == len(c.in) {
		return false
	}
	switch ch := c.in[c.i]; {
	case ch == '{':
		return c.container(depth+1, '{', '}', c.member)
	case ch == '[':
		return c.container(depth+1, '[', ']', c.value)
	case ch == '"':
		return c.string()
	case ch == 't':
		return c.literal("true")
	case ch == 'f':
		return c.literal("false")
	case ch == 'n':
		return c.literal("null")
	case ch == '-' || '0' <= ch && ch <= '9':
		return c.number()
	}
	return false
}

// container reads an object (element: member) or an array (element:
// value) at its opening bracket.
func (c *compactor) container(depth int, open, close byte, element func(depth int) bool) bool {
	if depth > maxDepth {
		return false
	}
	c.out = append(c.out, open)
	c.i++
	c.space()
	if c.i < len(c.in) && c.in[c.i] == close {
		c.out = append(c.out, close)
		c.i++
		return true
	}
	for {
		if !element(depth) {
			return false
		}
		c.space()
		if c.i == len(c.in) {
			return false
		}
		switch c.in[c.i] {
		case ',':
			c.out = append(c.out, ',')
			c.i++
		case close:
			c.out = append(c.out, close)
			c.i++
			return true
		default:
			return false
		}
	}
}

// member reads an object's "name": value.
func (c *compactor) member(depth int) bool {
	c.space()
	if c.i == len(c.in) || c.in[c.i] != '"' || !c.string() {
		return false
	}
	c.space()
	if c.i == len(c.in) || c.in[c.i] != ':' {
		return false
	}
	c.out = append(c.out, ':')
	c.i++
	return c.value(depth)
}

// string copies a string, at its opening quote, as it is: bytes below
// 0x20 are refused, escapes are checked, other bytes (UTF-8 or not, as
// encoding/json has it) pass.
func (c *compactor) string() bool {
	in, start := c.in, c.i
	i := start + 1
	for i < len(in) {
		switch ch := in[i]; {
		case ch == '"':
			c.out = append(c.out, in[start:i+1]...)
			c.i = i + 1
			return true
		case ch == '\\':
			if i+1 == len(in) {
				return false
			}
			switch in[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(in) || !isHex(in[i+2]) || !isHex(in[i+3]) || !isHex(in[i+4]) || !isHex(in[i+5]) {
					return false
				}
				i += 6
			default:
				return false
			}
		case ch < 0x20:
			return false
		default:
			i++
		}
	}
	return false
}

func isHex(ch byte) bool {
	return '0' <= ch && ch <= '9' || 'a' <= ch && ch <= 'f' || 'A' <= ch && ch <= 'F'
}

func (c *compactor) literal(word string) bool {
	if !bytes.HasPrefix(c.in[c.i:], []byte(word)) {
		return false
	}
	c.out = append(c.out, word...)
	c.i += len(word)
	return true
}

// number copies a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (c *compactor) number() bool {
	in, start := c.in, c.i
	i := start
	digits := func() bool {
		j := i
		for i < len(in) && '0' <= in[i] && in[i] <= '9' {
			i++
		}
		return i > j
	}
	if in[i] == '-' {
		i++
	}
	switch {
	case i < len(in) && in[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(in) && in[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(in) && (in[i] == 'e' || in[i] == 'E') {
		i++
		if i < len(in) && (in[i] == '+' || in[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	c.out = append(c.out, in[start:i]...)
	c.i = i
	return true
}
