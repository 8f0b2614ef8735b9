package connector

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/intake/intake/schema/schematype"
)

// talentPool is a search type with every kind of field.
var talentPool = SearchType{
	Key:  SearchTalentPool,
	Name: "Talent pool research",
	Fields: []SearchField{
		{Key: "daysSinceLastChange", Label: "Days since last change", Type: schematype.FieldInt, Required: true, Min: Ptr(1), Max: Ptr(3650)},
		{Key: "limit", Label: "Limit", Type: schematype.FieldInt, Min: Ptr(1)},
		{Key: "maxAge", Label: "Max age", Type: schematype.FieldInt, Max: Ptr(99)},
		{Key: "keyword", Label: "Keyword", Type: schematype.FieldString, Min: Ptr(2), Max: Ptr(5)},
		{Key: "note", Label: "Note", Type: schematype.FieldString},
		{Key: "onlyActive", Label: "Only active", Type: schematype.FieldBoolean},
	},
}

func TestValidateParams(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name   string
		params map[string]any
		want   map[string]any
	}{
		{"accepts an int", map[string]any{"daysSinceLastChange": 30}, map[string]any{"daysSinceLastChange": 30}},
		{"normalises a JSON float64 integer to int", map[string]any{"daysSinceLastChange": float64(30)}, map[string]any{"daysSinceLastChange": 30}},
		{"normalises a json.Number to int", map[string]any{"daysSinceLastChange": json.Number("30")}, map[string]any{"daysSinceLastChange": 30}},
		{"normalises int32 and int64 to int", map[string]any{"daysSinceLastChange": int64(30), "limit": int32(7)}, map[string]any{"daysSinceLastChange": 30, "limit": 7}},
		{"accepts the lower bound", map[string]any{"daysSinceLastChange": 1}, map[string]any{"daysSinceLastChange": 1}},
		{"accepts the upper bound", map[string]any{"daysSinceLastChange": 3650.0}, map[string]any{"daysSinceLastChange": 3650}},
		{"accepts negative zero as zero", map[string]any{"daysSinceLastChange": 1, "maxAge": math.Copysign(0, -1)}, map[string]any{"daysSinceLastChange": 1, "maxAge": 0}},
		{"has no upper bound without Max", map[string]any{"daysSinceLastChange": 1, "limit": 1_000_000}, map[string]any{"daysSinceLastChange": 1, "limit": 1_000_000}},
		{"has no lower bound without Min", map[string]any{"daysSinceLastChange": 1, "maxAge": -5}, map[string]any{"daysSinceLastChange": 1, "maxAge": -5}},
		{"leaves out absent optional fields", map[string]any{"daysSinceLastChange": 1}, map[string]any{"daysSinceLastChange": 1}},
		{"leaves out nil optional fields", map[string]any{"daysSinceLastChange": 1, "keyword": nil, "limit": nil}, map[string]any{"daysSinceLastChange": 1}},
		{"accepts string length bounds", map[string]any{"daysSinceLastChange": 1, "keyword": "ab"}, map[string]any{"daysSinceLastChange": 1, "keyword": "ab"}},
		{"counts characters not bytes", map[string]any{"daysSinceLastChange": 1, "keyword": "Köln!"}, map[string]any{"daysSinceLastChange": 1, "keyword": "Köln!"}},
		{"accepts any string without bounds", map[string]any{"daysSinceLastChange": 1, "note": ""}, map[string]any{"daysSinceLastChange": 1, "note": ""}},
		{"accepts booleans", map[string]any{"daysSinceLastChange": 1, "onlyActive": false}, map[string]any{"daysSinceLastChange": 1, "onlyActive": false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ValidateParams(talentPool, tc.params)
			if err != nil {
				t.Fatalf("ValidateParams(%v): %v", tc.params, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ValidateParams(%v) = %#v, want %#v", tc.params, got, tc.want)
			}
		})
	}

	t.Run("does not modify its input", func(t *testing.T) {
		t.Parallel()
		in := map[string]any{"daysSinceLastChange": 30.0, "limit": nil}
		if _, err := ValidateParams(talentPool, in); err != nil {
			t.Fatal(err)
		}
		if want := map[string]any{"daysSinceLastChange": 30.0, "limit": nil}; !reflect.DeepEqual(in, want) {
			t.Errorf("input became %#v", in)
		}
	})

	t.Run("accepts no params when nothing is required", func(t *testing.T) {
		t.Parallel()
		got, err := ValidateParams(SearchType{Key: SearchNewApplications}, nil)
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("ValidateParams(nil) = %#v, %v; want an empty map", got, err)
		}
	})

	for _, tc := range []struct {
		name    string
		params  map[string]any
		wantKey string
		wantMsg string
	}{
		{"refuses an unknown key", map[string]any{"daysSinceLastChange": 1, "radius": 5}, "radius", `unknown field for search type "talent_pool_research"`},
		{"refuses a missing required field", map[string]any{}, "daysSinceLastChange", "Days since last change is required"},
		{"refuses nil params when a field is required", nil, "daysSinceLastChange", "is required"},
		{"refuses nil for a required field", map[string]any{"daysSinceLastChange": nil}, "daysSinceLastChange", "is required"},
		{"refuses a string for INT", map[string]any{"daysSinceLastChange": "30"}, "daysSinceLastChange", "must be a whole number"},
		{"refuses a fraction for INT", map[string]any{"daysSinceLastChange": 1.5}, "daysSinceLastChange", "must be a whole number"},
		{"refuses a fractional json.Number for INT", map[string]any{"daysSinceLastChange": json.Number("1.5")}, "daysSinceLastChange", "must be a whole number"},
		{"refuses a bool for INT", map[string]any{"daysSinceLastChange": true}, "daysSinceLastChange", "must be a whole number"},
		{"refuses NaN for INT", map[string]any{"daysSinceLastChange": math.NaN()}, "daysSinceLastChange", "must be a whole number"},
		{"refuses infinity for INT", map[string]any{"daysSinceLastChange": math.Inf(1)}, "daysSinceLastChange", "must be a whole number"},
		{"refuses a float beyond int32", map[string]any{"daysSinceLastChange": 1e12}, "daysSinceLastChange", "must be a whole number"},
		{"refuses an int64 beyond int32", map[string]any{"daysSinceLastChange": int64(math.MaxInt32) + 1}, "daysSinceLastChange", "must be a whole number"},
		{"refuses below the minimum", map[string]any{"daysSinceLastChange": 0}, "daysSinceLastChange", "must be between 1 and 3650"},
		{"refuses above the maximum", map[string]any{"daysSinceLastChange": 3651.0}, "daysSinceLastChange", "must be between 1 and 3650"},
		{"names an open upper bound", map[string]any{"daysSinceLastChange": 1, "limit": 0}, "limit", "must be between 1 and any"},
		{"names an open lower bound", map[string]any{"daysSinceLastChange": 1, "maxAge": 100}, "maxAge", "must be between any and 99"},
		{"refuses a number for STRING", map[string]any{"daysSinceLastChange": 1, "keyword": 12}, "keyword", "must be a string"},
		{"refuses a string below its length", map[string]any{"daysSinceLastChange": 1, "keyword": "a"}, "keyword", "length must be between 2 and 5"},
		{"refuses a string above its length", map[string]any{"daysSinceLastChange": 1, "keyword": "Kölner"}, "keyword", "length must be between 2 and 5"},
		{"refuses a string for BOOLEAN", map[string]any{"daysSinceLastChange": 1, "onlyActive": "true"}, "onlyActive", "must be true or false"},
		{"refuses a number for BOOLEAN", map[string]any{"daysSinceLastChange": 1, "onlyActive": 1}, "onlyActive", "must be true or false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ValidateParams(talentPool, tc.params)
			var pe *ParamError
			if !errors.As(err, &pe) {
				t.Fatalf("ValidateParams(%v) = %v, %v; want *ParamError", tc.params, got, err)
			}
			if pe.Key != tc.wantKey || !strings.Contains(pe.Message, tc.wantMsg) {
				t.Errorf("error %+v, want key %q and message containing %q", pe, tc.wantKey, tc.wantMsg)
			}
			if got != nil {
				t.Errorf("params %v returned with the error", got)
			}
		})
	}

	t.Run("refuses a field of unsupported type", func(t *testing.T) {
		t.Parallel()
		st := SearchType{Key: "x", Fields: []SearchField{{Key: "when", Type: "DATE"}}}
		_, err := ValidateParams(st, map[string]any{"when": "2025-01-01"})
		var pe *ParamError
		if !errors.As(err, &pe) || pe.Key != "when" || !strings.Contains(pe.Message, "unsupported type DATE") {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("formats the error with its key", func(t *testing.T) {
		t.Parallel()
		_, err := ValidateParams(talentPool, map[string]any{"daysSinceLastChange": 0})
		if want := "searchParams.daysSinceLastChange: must be between 1 and 3650"; err == nil || err.Error() != want {
			t.Errorf("Error() = %v, want %q", err, want)
		}
	})
}

// Several bad parameters always name the same one: unknown keys first, then
// the others, each in sorted key order.
func TestValidateParamsNamesOneKeyDeterministically(t *testing.T) {
	t.Parallel()
	// Fields declared out of key order, all required.
	st := SearchType{Key: "s", Fields: []SearchField{
		{Key: "zeta", Label: "Zeta", Type: schematype.FieldInt, Required: true},
		{Key: "mid", Label: "Mid", Type: schematype.FieldString, Required: true},
		{Key: "alpha", Label: "Alpha", Type: schematype.FieldBoolean, Required: true},
	}}
	for _, tc := range []struct {
		name    string
		params  map[string]any
		wantKey string
	}{
		{"unknown keys in sorted order", map[string]any{"yy": 1, "bb": 2, "xx": 3, "zeta": "bad"}, "bb"},
		{"an unknown key before a missing one", map[string]any{"zz": 1}, "zz"},
		{"missing fields in sorted order", map[string]any{}, "alpha"},
		{"wrong types in sorted order", map[string]any{"zeta": "x", "mid": 1, "alpha": "y"}, "alpha"},
		{"a wrong type and a missing field in sorted order", map[string]any{"zeta": "x", "mid": "ok"}, "alpha"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for range 50 { // map iteration order varies between runs
				_, err := ValidateParams(st, tc.params)
				var pe *ParamError
				if !errors.As(err, &pe) || pe.Key != tc.wantKey {
					t.Fatalf("ValidateParams(%v) = %v, want an error naming %q", tc.params, err, tc.wantKey)
				}
			}
		})
	}
}

func TestIntParam(t *testing.T) {
	t.Parallel()
	params, err := ValidateParams(talentPool, map[string]any{"daysSinceLastChange": json.Number("90")})
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := IntParam(params, "daysSinceLastChange"); !ok || n != 90 {
		t.Errorf("IntParam = %d, %v; want 90, true", n, ok)
	}
	if n, ok := IntParam(params, "limit"); ok || n != 0 {
		t.Errorf("IntParam of an absent key = %d, %v; want 0, false", n, ok)
	}
	if _, ok := IntParam(map[string]any{"x": "7"}, "x"); ok {
		t.Error("IntParam read a string as an int")
	}
}

func TestDescriptorSearchTypes(t *testing.T) {
	t.Parallel()
	newApps := SearchType{Key: SearchNewApplications, Name: "New applications"}
	pool := SearchType{Key: SearchTalentPool, Name: "Talent pool", IsDefault: true}

	t.Run("finds a search type by key", func(t *testing.T) {
		t.Parallel()
		d := Descriptor{SearchTypes: []SearchType{newApps, pool}}
		if st, ok := d.SearchType(SearchTalentPool); !ok || st.Name != "Talent pool" {
			t.Errorf("SearchType = %+v, %v", st, ok)
		}
		if st, ok := d.SearchType("nope"); ok || st.Key != "" {
			t.Errorf("SearchType(unknown) = %+v, %v", st, ok)
		}
	})

	t.Run("returns the default search type", func(t *testing.T) {
		t.Parallel()
		d := Descriptor{SearchTypes: []SearchType{newApps, pool}}
		if got := d.DefaultSearchType(); got.Key != SearchTalentPool {
			t.Errorf("DefaultSearchType = %q, want %q", got.Key, SearchTalentPool)
		}
	})

	t.Run("falls back to the first search type", func(t *testing.T) {
		t.Parallel()
		d := Descriptor{SearchTypes: []SearchType{newApps, {Key: "other"}}}
		if got := d.DefaultSearchType(); got.Key != SearchNewApplications {
			t.Errorf("DefaultSearchType = %q, want %q", got.Key, SearchNewApplications)
		}
	})
}

// stubProvider is a Provider that only describes itself.
type stubProvider struct{ d Descriptor }

func (p stubProvider) Descriptor() Descriptor { return p.d }

func (p stubProvider) Open(Credentials, Options) (Connector, error) { return nil, ErrUnsupported }

func TestRegistry(t *testing.T) {
	t.Parallel()
	hubspot := stubProvider{Descriptor{Key: schematype.ProviderHubSpot, Name: "HubSpot"}}
	zvoove := stubProvider{Descriptor{Key: schematype.ProviderZvoove, Name: "zvoove"}}
	talention := stubProvider{Descriptor{Key: schematype.ProviderTalention, Name: "Talention"}}

	t.Run("gets providers by key", func(t *testing.T) {
		t.Parallel()
		r := NewRegistry(hubspot, zvoove)
		if p, ok := r.Get(schematype.ProviderZvoove); !ok || p.Descriptor().Name != "zvoove" {
			t.Errorf("Get(Zvoove) = %v, %v", p, ok)
		}
		if p, ok := r.Get(schematype.ProviderCompleet); ok || p != nil {
			t.Errorf("Get(Compleet) = %v, %v; want nil, false", p, ok)
		}
	})

	t.Run("lists descriptors in registration order", func(t *testing.T) {
		t.Parallel()
		r := NewRegistry(talention, hubspot, zvoove)
		var keys []schematype.ProviderKey
		for _, d := range r.Descriptors() {
			keys = append(keys, d.Key)
		}
		if want := []schematype.ProviderKey{schematype.ProviderTalention, schematype.ProviderHubSpot, schematype.ProviderZvoove}; !reflect.DeepEqual(keys, want) {
			t.Errorf("Descriptors keys = %v, want %v", keys, want)
		}
	})

	t.Run("is empty without providers", func(t *testing.T) {
		t.Parallel()
		r := NewRegistry()
		if d := r.Descriptors(); len(d) != 0 {
			t.Errorf("Descriptors = %v", d)
		}
		if _, ok := r.Get(schematype.ProviderZvoove); ok {
			t.Error("Get found a provider in an empty registry")
		}
	})

	t.Run("panics on a duplicate key", func(t *testing.T) {
		t.Parallel()
		defer func() {
			r := recover()
			if r == nil {
				t.Fatal("NewRegistry accepted a provider twice")
			}
			if msg := fmt.Sprint(r); !strings.Contains(msg, "ZVOOVE") || !strings.Contains(msg, "twice") {
				t.Errorf("panic %q does not name the duplicate key", msg)
			}
		}()
		NewRegistry(zvoove, hubspot, stubProvider{Descriptor{Key: schematype.ProviderZvoove, Name: "zvoove again"}})
	})
}
