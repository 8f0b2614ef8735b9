package scalar

import (
	"encoding/json"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"

	"github.com/intake/intake/schema/schematype"
)

// MarshalMap writes a Map (a contact's attributes, a trigger's search
// parameters) as graphql.MarshalMap does, byte for byte: encoding/json's
// output with its trailing newline. graphql.MarshalMap makes an encoder
// and reflects over every value; the values of a map decoded from JSON
// are a handful of types, written here directly, into a pooled buffer.
// Any other value is written by encoding/json, and a value it refuses
// (a NaN, which no decoded JSON holds) panics as in graphql.MarshalMap.
func MarshalMap(m map[string]any) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		bp := buffers.Get().(*[]byte)
		b := appendJSON((*bp)[:0], m)
		b = append(b, '\n')
		_, _ = w.Write(b)
		if cap(b) <= 64<<10 {
			*bp = b
			buffers.Put(bp)
		}
	})
}

// UnmarshalMap reads a Map as graphql.UnmarshalMap does.
func UnmarshalMap(v any) (map[string]any, error) {
	return graphql.UnmarshalMap(v)
}

var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// appendJSON appends v as encoding/json's Marshal writes it.
func appendJSON(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendString(b, v)
	case bool:
		return strconv.AppendBool(b, v)
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			break
		}
		return appendFloat(b, v)
	case map[string]any:
		if v == nil {
			return append(b, "null"...)
		}
		b = append(b, '{')
		for i, k := range slices.Sorted(maps.Keys(v)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendJSON(b, v[k])
		}
		return append(b, '}')
	case []any:
		if v == nil {
			return append(b, "null"...)
		}
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e)
		}
		return append(b, ']')
	}
	out, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return append(b, out...)
}

// appendFloat writes f as encoding/json does: the shortest representation,
// in exponent form below 1e-6 and from 1e21, with a two-digit exponent
// trimmed to one (1e-07 is 1e-7).
func appendFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hex = "0123456789abcdef"

// appendString writes s as a JSON string as encoding/json does: <, > and
// & escaped for HTML, as are U+2028 and U+2029; control characters as
// \b, \f, \n, \r, \t or \u00XX; invalid UTF-8 as U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// MarshalObject writes a JSON object kept encoded (a contact's
// attributes) as it is: schematype.JSONObject is compact and checked when
// it is read from the database.
func MarshalObject(o schematype.JSONObject) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = w.Write(o.Bytes())
	})
}

// UnmarshalObject reads a Map argument as a JSON object.
func UnmarshalObject(v any) (schematype.JSONObject, error) {
	m, err := graphql.UnmarshalMap(v)
	if err != nil {
		return nil, err
	}
	return schematype.ObjectOf(m)
}
