package connector

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/intake/intake/schema/schematype"
)

// ParamError names the search parameter that is missing or wrong.
type ParamError struct {
	Key     string
	Message string
}

func (e *ParamError) Error() string { return fmt.Sprintf("searchParams.%s: %s", e.Key, e.Message) }

// ValidateParams checks params against the search type's fields and returns
// them normalised (integers as int, only known keys). Unknown keys, missing
// required fields, wrong types and out-of-range values are *ParamError,
// reported in sorted key order so the same input always names the same field.
func ValidateParams(st SearchType, params map[string]any) (map[string]any, error) {
	for _, k := range sortedKeys(params) {
		if _, ok := st.field(k); !ok {
			return nil, &ParamError{Key: k, Message: fmt.Sprintf("unknown field for search type %q", st.Key)}
		}
	}
	out := make(map[string]any, len(params))
	fields := slices.SortedFunc(slices.Values(st.Fields), func(a, b SearchField) int { return strings.Compare(a.Key, b.Key) })
	for _, f := range fields {
		v, present := params[f.Key]
		if !present || v == nil {
			if f.Required {
				return nil, &ParamError{Key: f.Key, Message: fmt.Sprintf("%s is required", f.Label)}
			}
			continue
		}
		nv, err := f.normalise(v)
		if err != nil {
			return nil, err
		}
		out[f.Key] = nv
	}
	return out, nil
}

func (st SearchType) field(key string) (SearchField, bool) {
	for _, f := range st.Fields {
		if f.Key == key {
			return f, true
		}
	}
	return SearchField{}, false
}

func (f SearchField) normalise(v any) (any, error) {
	bad := func(format string, args ...any) error {
		return &ParamError{Key: f.Key, Message: fmt.Sprintf(format, args...)}
	}
	switch f.Type {
	case schematype.FieldInt:
		n, ok := asInt(v)
		if !ok {
			return nil, bad("must be a whole number")
		}
		if f.Min != nil && n < *f.Min || f.Max != nil && n > *f.Max {
			return nil, bad("must be between %s and %s", bound(f.Min), bound(f.Max))
		}
		return n, nil
	case schematype.FieldString:
		s, ok := v.(string)
		if !ok {
			return nil, bad("must be a string")
		}
		if strings.ContainsRune(s, 0) {
			return nil, bad("must not contain NUL characters")
		}
		n := utf8.RuneCountInString(s)
		if f.Min != nil && n < *f.Min || f.Max != nil && n > *f.Max {
			return nil, bad("length must be between %s and %s", bound(f.Min), bound(f.Max))
		}
		return s, nil
	case schematype.FieldBoolean:
		b, ok := v.(bool)
		if !ok {
			return nil, bad("must be true or false")
		}
		return b, nil
	}
	return nil, bad("has unsupported type %s", f.Type)
}

func bound(p *int) string {
	if p == nil {
		return "any"
	}
	return fmt.Sprint(*p)
}

// asInt accepts the integer forms JSON decoding produces.
func asInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int32:
		return int(n), true
	case int64:
		if n < math.MinInt32 || n > math.MaxInt32 {
			return 0, false
		}
		return int(n), true
	case float64:
		if n != math.Trunc(n) || n < math.MinInt32 || n > math.MaxInt32 {
			return 0, false
		}
		return int(n), true
	case json.Number:
		i, err := n.Int64()
		if err != nil {
			return 0, false
		}
		return asInt(i)
	}
	return 0, false
}

// IntParam reads an integer parameter that ValidateParams normalised.
func IntParam(params map[string]any, key string) (int, bool) {
	return asInt(params[key])
}

// Ptr returns a pointer to v, for SearchField bounds.
func Ptr[T any](v T) *T { return &v }
