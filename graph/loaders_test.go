package graph

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/intake/intake/ent/syncrun"
	"github.com/intake/intake/internal/pulid"
)

func TestBatcher(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var loads [][]pulid.ID
	var loadNeeds []uint
	b := &batcher[string]{load: func(_ context.Context, keys []pulid.ID, needs uint) (map[pulid.ID]string, error) {
		mu.Lock()
		defer mu.Unlock()
		loads = append(loads, slices.Sorted(slices.Values(keys)))
		loadNeeds = append(loadNeeds, needs)
		out := map[pulid.ID]string{}
		for _, k := range keys {
			out[k] = "v" + string(k)
		}
		return out, nil
	}}

	t.Run("primed keys load together at the first get", func(t *testing.T) {
		b.prime([]pulid.ID{"a", "b", "c"})
		for _, k := range []pulid.ID{"b", "a", "c"} {
			if v, err := b.get(ctx, k, 0); err != nil || v != "v"+string(k) {
				t.Fatalf("get %s: %q, %v", k, v, err)
			}
		}
		if len(loads) != 1 || !slices.Equal(loads[0], []pulid.ID{"a", "b", "c"}) {
			t.Fatalf("loads %v, want one of a, b, c", loads)
		}
	})

	t.Run("a primed value is handed out once", func(t *testing.T) {
		if v, _ := b.get(ctx, "a", 0); v != "va" {
			t.Fatalf("got %q", v)
		}
		if len(loads) != 2 || !slices.Equal(loads[1], []pulid.ID{"a"}) {
			t.Fatalf("loads %v, want a loaded again", loads)
		}
	})

	t.Run("unprimed siblings asking together share a batch", func(t *testing.T) {
		var wg sync.WaitGroup
		for _, k := range []pulid.ID{"x", "y", "z"} {
			wg.Go(func() {
				if v, err := b.get(ctx, k, 0); err != nil || v != "v"+string(k) {
					t.Errorf("get %s: %q, %v", k, v, err)
				}
			})
		}
		wg.Wait()
		// Timing decides how the three split; each is loaded exactly once.
		var got []pulid.ID
		for _, l := range loads[2:] {
			got = append(got, l...)
		}
		if slices.Sort(got); !slices.Equal(got, []pulid.ID{"x", "y", "z"}) {
			t.Fatalf("loads %v", loads[2:])
		}
	})

	t.Run("a listed key brings its list into its batch", func(t *testing.T) {
		before := len(loads)
		list := func() []pulid.ID { return []pulid.ID{"l1", "l2", "l3"} }
		// One after the other: each later sibling would miss a batch of
		// its own by far.
		for _, k := range []pulid.ID{"l2", "l3", "l1"} {
			if v, err := b.getListed(ctx, k, 0, list); err != nil || v != "v"+string(k) {
				t.Fatalf("get %s: %q, %v", k, v, err)
			}
		}
		if got := loads[before:]; len(got) != 1 || !slices.Equal(got[0], []pulid.ID{"l1", "l2", "l3"}) {
			t.Fatalf("loads %v, want one of l1, l2, l3", got)
		}
	})

	t.Run("a value loaded ahead goes only to a caller needing no more", func(t *testing.T) {
		before := len(loads)
		b.prime([]pulid.ID{"p", "q", "r"})
		// p's caller needs 0b01: the batch of all three is loaded so.
		if v, err := b.get(ctx, "p", 0b01); err != nil || v != "vp" {
			t.Fatalf("get p: %q, %v", v, err)
		}
		// q's needs no more; r's needs 0b10 as well, and gets a batch of
		// its own.
		if v, err := b.get(ctx, "q", 0b01); err != nil || v != "vq" {
			t.Fatalf("get q: %q, %v", v, err)
		}
		if v, err := b.get(ctx, "r", 0b11); err != nil || v != "vr" {
			t.Fatalf("get r: %q, %v", v, err)
		}
		if got := loads[before:]; len(got) != 2 || !slices.Equal(got[0], []pulid.ID{"p", "q", "r"}) || !slices.Equal(got[1], []pulid.ID{"r"}) ||
			loadNeeds[before] != 0b01 || loadNeeds[before+1] != 0b11 {
			t.Fatalf("loads %v with needs %b, want p, q, r with 01, then r with 11", got, loadNeeds[before:])
		}
	})

	t.Run("a list without the key brings nothing in", func(t *testing.T) {
		before := len(loads)
		if v, err := b.getListed(ctx, "m", 0, func() []pulid.ID { return []pulid.ID{"n", "o"} }); err != nil || v != "vm" {
			t.Fatalf("get m: %q, %v", v, err)
		}
		if got := loads[before:]; len(got) != 1 || !slices.Equal(got[0], []pulid.ID{"m"}) {
			t.Fatalf("loads %v, want one of m alone", got)
		}
	})
}

// A run's needs are the columns its selection shows, plus those every run
// is loaded with; a field that is no column needs them all.
func TestRunNeeds(t *testing.T) {
	for column, field := range map[string]string{"invalid_phone": "invalidPhone", "do_not_call": "doNotCall", "trigger_id": "triggerID", "id": "id", "screening_tokens": "screeningTokens"} {
		if got := lowerCamel(column); got != field {
			t.Errorf("lowerCamel(%q) = %q, want %q", column, got, field)
		}
	}
	cols := runCols.names(runBase | runCols.of("status", "finishedAt"))
	if want := []string{"id", "organization_id", "trigger_id", "status", "finished_at"}; !slices.Equal(cols, want) {
		t.Errorf("columns %v, want %v", cols, want)
	}
	if got := runCols.names(runCols.all); len(got) != len(syncrun.Columns) {
		t.Errorf("every column: %v", got)
	}
	// A trigger's needs hold its edges below its columns.
	if got := triggerCols.names(triggerBase | triggerCols.of("enabled") | needIntegration | needLastRun); !slices.Equal(got,
		[]string{"id", "organization_id", "campaign_id", "integration_id", "enabled"}) {
		t.Errorf("trigger columns %v", got)
	}
	if triggerCols.all&(needIntegration|needStatusMapping|needLastRun|needReferences) != 0 {
		t.Error("a trigger's columns share bits with its edges")
	}
}
