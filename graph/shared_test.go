package graph

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
)

func TestSharedReads(t *testing.T) {
	orgA := viewer.NewContext(context.Background(), &viewer.Viewer{OrgID: pulid.ID("org_a"), Role: schematype.RoleAdmin})
	orgB := viewer.NewContext(context.Background(), &viewer.Viewer{OrgID: pulid.ID("org_b"), Role: schematype.RoleAdmin})

	t.Run("subscribers that drained before a read started share it", func(t *testing.T) {
		s := newSharedReads()
		after := s.now() // all drained their notice here
		var loads atomic.Int64
		release := make(chan struct{})
		load := func(context.Context) (int, error) {
			loads.Add(1)
			<-release
			return 7, nil
		}
		var wg sync.WaitGroup
		got := make([]int, 100)
		for i := range got {
			wg.Go(func() {
				v, err := read(orgA, s, "run_1", after, load)
				if err != nil {
					t.Error(err)
				}
				got[i] = v
			})
		}
		// Let the first read start and the others find it, then finish it.
		for loads.Load() == 0 {
			runtime.Gosched()
		}
		close(release)
		wg.Wait()
		if n := loads.Load(); n != 1 {
			t.Fatalf("%d loads for 100 subscribers of one notice, want 1", n)
		}
		for i, v := range got {
			if v != 7 {
				t.Fatalf("subscriber %d got %d", i, v)
			}
		}
	})

	t.Run("a subscriber that drained after a read started reads again", func(t *testing.T) {
		s := newSharedReads()
		var loads atomic.Int64
		load := func(context.Context) (int64, error) { return loads.Add(1), nil }
		if v, _ := read(orgA, s, "run_1", s.now(), load); v != 1 {
			t.Fatalf("first read %d", v)
		}
		// A new notice drained now: the finished read started before it.
		if v, _ := read(orgA, s, "run_1", s.now(), load); v != 2 {
			t.Fatalf("a read after a later notice got %d, want a new read (2)", v)
		}
		// A subscriber that drained before the second read started shares it.
		if v, _ := read(orgA, s, "run_1", 1, load); v != 2 {
			t.Fatalf("a subscriber of the earlier notice got %d, want the later read (2)", v)
		}
		if n := loads.Load(); n != 2 {
			t.Fatalf("%d loads, want 2", n)
		}
	})

	t.Run("organizations do not share reads", func(t *testing.T) {
		s := newSharedReads()
		after := s.now()
		a, _ := read(orgA, s, "run_1", after, func(context.Context) (string, error) { return "a", nil })
		b, _ := read(orgB, s, "run_1", after, func(context.Context) (string, error) { return "b", nil })
		if a != "a" || b != "b" {
			t.Fatalf("org A read %q, org B read %q", a, b)
		}
	})

	t.Run("a failed read is not shared", func(t *testing.T) {
		s := newSharedReads()
		after := s.now()
		ctx, cancel := context.WithCancel(orgA)
		cancel()
		_, err := read(ctx, s, "run_1", after, func(ctx context.Context) (int, error) { return 0, ctx.Err() })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the cancelled starter got %v", err)
		}
		v, err := read(orgA, s, "run_1", after, func(context.Context) (int, error) { return 3, nil })
		if err != nil || v != 3 {
			t.Fatalf("the next subscriber got %d, %v; want its own read", v, err)
		}
	})
}
