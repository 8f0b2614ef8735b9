package schematype

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestJSONObjectScan(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  any
		want string // "" when Scan must fail
	}{
		// jsonb's text: a space after every colon and comma.
		{"postgres", []byte(`{"tags": ["a", "b c"], "n": 1.5, "o": {"k": null}}`), `{"tags":["a","b c"],"n":1.5,"o":{"k":null}}`},
		{"sqlite", `{"position":"Pflegefachkraft","s":"x: y, z"}`, `{"position":"Pflegefachkraft","s":"x: y, z"}`},
		{"escapes kept", []byte("{\"q\": \"say \\\"hi\\\"\\n\", \"u\": \"\\u2028<&>\"}"), "{\"q\":\"say \\\"hi\\\"\\n\",\"u\":\"\\u2028<&>\"}"},
		{"layout", []byte("\n { \"a\" :\t1 }\n"), `{"a":1}`},
		{"null", nil, `{}`},
		{"empty object", []byte(`{}`), `{}`},
		{"array", []byte(`[1, 2]`), ""},
		{"string", `"x"`, ""},
		{"truncated", []byte(`{"a": 1`), ""},
		{"two values", []byte(`{} {}`), ""},
		{"empty", []byte(``), ""},
		{"number", int64(3), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o JSONObject
			err := o.Scan(tc.src)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("Scan(%q) = %s, want an error", tc.src, o)
				}
				return
			}
			if err != nil {
				t.Fatalf("Scan(%q): %v", tc.src, err)
			}
			if string(o) != tc.want {
				t.Errorf("Scan(%q) = %s, want %s", tc.src, o, tc.want)
			}
		})
	}
}

// TestJSONObjectScanCopies checks that Scan keeps its own bytes: a driver
// may reuse the buffer it scanned from.
func TestJSONObjectScanCopies(t *testing.T) {
	src := []byte(`{"a":"b"}`)
	var o JSONObject
	if err := o.Scan(src); err != nil {
		t.Fatal(err)
	}
	copy(src, `{"z":"y"}`)
	if string(o) != `{"a":"b"}` {
		t.Fatalf("the scanned object changed with the driver's buffer: %s", o)
	}
}

func TestJSONObjectValue(t *testing.T) {
	for _, tc := range []struct {
		o    JSONObject
		want any // nil when Value must fail
	}{
		{nil, "{}"},
		{JSONObject(`{"a":[1,{"b":"c"}]}`), `{"a":[1,{"b":"c"}]}`},
		{JSONObject(" {\"a\": 1}\n"), `{"a":1}`},
		{JSONObject(`[1]`), nil},
		{JSONObject(`{"a":`), nil},
		{JSONObject(`null`), nil},
	} {
		v, err := tc.o.Value()
		if tc.want == nil {
			if err == nil {
				t.Errorf("Value(%s) = %v, want an error", tc.o, v)
			}
			continue
		}
		if err != nil || v != tc.want {
			t.Errorf("Value(%s) = %v, %v; want %v", tc.o, v, err, tc.want)
		}
	}
}

func TestJSONObjectMapRoundTrip(t *testing.T) {
	m := map[string]any{"position": "Koch", "tags": []any{"a", "b"}, "n": 2.5, "nested": map[string]any{"x": true}}
	o, err := ObjectOf(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := o.Map()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, m) {
		t.Fatalf("Map(ObjectOf(m)) = %v, want %v", back, m)
	}
	if o, err := ObjectOf(nil); err != nil || string(o) != "{}" {
		t.Errorf("ObjectOf(nil) = %s, %v; want {}", o, err)
	}
	if m, err := JSONObject(nil).Map(); err != nil || m == nil || len(m) != 0 {
		t.Errorf("the zero object's Map = %v, %v; want an empty map", m, err)
	}
}

func TestJSONObjectJSON(t *testing.T) {
	type wrap struct {
		A JSONObject `json:"a"`
		B JSONObject `json:"b"`
	}
	b, err := json.Marshal(wrap{A: JSONObject(`{"k":"v"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"a":{"k":"v"},"b":{}}`; got != want {
		t.Errorf("json.Marshal = %s, want %s", got, want)
	}
	var w wrap
	if err := json.Unmarshal([]byte(`{"a": {"k": [1, 2]}, "b": null}`), &w); err != nil {
		t.Fatal(err)
	}
	if string(w.A) != `{"k":[1,2]}` || string(w.B) != `{}` {
		t.Errorf("json.Unmarshal: a %s, b %s; want {\"k\":[1,2]} and {}", w.A, w.B)
	}
	if err := json.Unmarshal([]byte(`{"a": [1]}`), &w); err == nil || !strings.Contains(err.Error(), "not an object") {
		t.Errorf("json.Unmarshal of an array into a JSONObject: %v, want an error saying it is not an object", err)
	}
}

// FuzzCompactObject checks the hand-written compactor against
// encoding/json: it accepts exactly the documents json.Valid accepts
// that are objects, and writes json.Compact's bytes.
func FuzzCompactObject(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a": 1}`, `{"tags": ["a", "b c"], "n": -1.5e+3, "o": {"k": null, "t": true, "f": false}}`,
		"{\"q\": \"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\"}", `{"a": 01}`, `{"a": -}`, `{"a": 1.}`, `{"a": 1e}`,
		`{"a": tru}`, `{"a" 1}`, `{"a": 1,}`, `[1, 2]`, `"x"`, `{} {}`, "{\"a\": \"\x01\"}", "{\"\xff\": 1}",
		`{"a": [[[[]]]]}`, ` { "a" : [ 1 , { } ] } `, `{"a": "\u12"}`, `{"a": "\x"}`, `{`, `}`, ``, `{"a": 0.5E-7}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := compactObject(b)
		trimmed := bytes.TrimLeft(b, " \t\r\n")
		valid := json.Valid(b)
		if !valid || len(trimmed) == 0 || trimmed[0] != '{' {
			if err == nil {
				t.Fatalf("compactObject(%q) = %q, want an error (json.Valid %v)", b, got, valid)
			}
			if valid && err != errNotObject {
				t.Fatalf("compactObject(%q): %v, want errNotObject", b, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("compactObject(%q): %v, want json.Compact's bytes", b, err)
		}
		var want bytes.Buffer
		if err := json.Compact(&want, b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("compactObject(%q) = %q, want %q", b, got, want.Bytes())
		}
	})
}

// TestCompactObjectDepth checks encoding/json's nesting limit.
func TestCompactObjectDepth(t *testing.T) {
	for _, depth := range []int{maxDepth, maxDepth + 1} {
		b := []byte(`{"a":` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + `}`)
		_, err := compactObject(b)
		if valid := json.Valid(b); (err == nil) != valid {
			t.Errorf("depth %d: compactObject error %v, json.Valid %v", depth, err, valid)
		}
	}
}

func BenchmarkCompactObject(b *testing.B) {
	// A contact's attributes as PostgreSQL's jsonb prints them.
	src := []byte(`{"jobId": "j-20418", "source": "zvoove", "status": "Neu", "position": "Pflegefachkraft (m/w/d) Intensivstation", "location": "Berlin; Potsdam", "profession": "Gesundheits- und Krankenpfleger", "applicationId": "a-99812734", "tags": ["Teilzeit", "Nachtdienst", "Führerschein B"]}`)
	b.Run("compactObject", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := compactObject(src); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Compact", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var buf bytes.Buffer
			if err := json.Compact(&buf, src); err != nil {
				b.Fatal(err)
			}
		}
	})
}
