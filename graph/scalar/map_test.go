package scalar

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// mapSeeds are JSON objects whose values cover what MarshalMap writes
// itself: strings needing every kind of escape, numbers either side of
// the exponent thresholds, nesting, null, and the empty cases.
var mapSeeds = []string{
	`{}`,
	`{"position":"Nurse","tags":["a","b"],"score":3,"active":true,"missing":null}`,
	`{"z":1,"a":2,"m":{"y":[],"b":{},"a":[null,false,1.5,"x"]}}`,
	`{"html":"<b>&amp;</b>","quote":"\"\\","ctl":"\u0000\u0001\b\f\n\r\t\u001f\u007f","seps":"\u2028\u2029","uni":"Müller 東京 😀"}`,
	`{"small":1e-7,"tiny":-1.5e-300,"big":1e21,"bigger":-2.5e+25,"edge":1e-6,"below":999999999999999999999,"int":-42,"zero":0,"negzero":-0}`,
	`{"":"","k\u0000ey":"v","ключ":"значение"}`,
}

func TestMarshalMap(t *testing.T) {
	for _, src := range mapSeeds {
		var m map[string]any
		if err := json.Unmarshal([]byte(src), &m); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if got, want := marshal(MarshalMap(m)), marshal(graphql.MarshalMap(m)); got != want {
			t.Errorf("%s:\n got %q\nwant %q", src, got, want)
		}
	}
	// Invalid UTF-8, which no decoded JSON holds, and values of other
	// types (encoding/json writes them).
	m := map[string]any{"bad": "a\xffb\xc3", "int": 7, "num": json.Number("12.50"), "strs": []string{"x", "<y>"}}
	if got, want := marshal(MarshalMap(m)), marshal(graphql.MarshalMap(m)); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := marshal(MarshalMap(nil)); got != "null\n" {
		t.Errorf("a nil map: %q", got)
	}
	// A value encoding/json refuses panics, as graphql.MarshalMap does.
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a NaN did not panic")
			}
		}()
		marshal(MarshalMap(map[string]any{"n": math.NaN()}))
	}()
}

func FuzzMarshalMap(f *testing.F) {
	for _, s := range mapSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		var m map[string]any
		if json.Unmarshal(src, &m) != nil {
			return
		}
		if got, want := marshal(MarshalMap(m)), marshal(graphql.MarshalMap(m)); got != want {
			t.Errorf("%q:\n got %q\nwant %q", src, got, want)
		}
	})
}

func BenchmarkMarshalMap(b *testing.B) {
	var m map[string]any
	if err := json.Unmarshal([]byte(mapSeeds[1]), &m); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		f    func(map[string]any) graphql.Marshaler
	}{{"gqlgen", graphql.MarshalMap}, {"scalar", MarshalMap}} {
		b.Run(tc.name, func(b *testing.B) {
			var w bytes.Buffer
			b.ReportAllocs()
			for b.Loop() {
				w.Reset()
				tc.f(m).MarshalGQL(&w)
			}
		})
	}
}

func marshal(m graphql.Marshaler) string {
	var b strings.Builder
	m.MarshalGQL(&b)
	return b.String()
}
