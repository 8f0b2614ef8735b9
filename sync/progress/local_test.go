package progress

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/intake/intake/internal/pulid"
)

// pending reports whether s has been signalled, without waiting.
func pending(s *Subscription) bool {
	select {
	case <-s.Ready():
		return true
	default:
		return false
	}
}

// drainNow takes what s has been signalled for; nil when it has not.
func drainNow(t *testing.T, s *Subscription) []Notice {
	t.Helper()
	if !pending(s) {
		return nil
	}
	return s.Drain()
}

func TestLocalTopicsRoute(t *testing.T) {
	t.Parallel()
	l := NewLocal()
	camp, otherCamp := pulid.ID("cmp_1"), pulid.ID("cmp_2")
	run, otherRun := pulid.ID("run_1"), pulid.ID("run_2")
	pb := pulid.ID("pbk_1")

	runSub := l.Subscribe(RunTopic(run))
	otherRunSub := l.Subscribe(RunTopic(otherRun))
	campSub := l.Subscribe(CampaignTopic(camp))
	otherCampSub := l.Subscribe(CampaignTopic(otherCamp))
	// A pushback is not a run: nothing goes to a run topic named after it.
	pbAsRunSub := l.Subscribe(RunTopic(pb))

	runN := Notice{Kind: KindRun, ID: run, RunID: run, CampaignID: camp}
	pbN := Notice{Kind: KindPushback, ID: pb, CampaignID: camp}
	if err := l.Publish(context.Background(), runN); err != nil {
		t.Fatal(err)
	}
	l.Dispatch(pbN)

	if got := drainNow(t, runSub); !slices.Equal(got, []Notice{runN}) {
		t.Errorf("run subscriber got %v, want only the run notice", got)
	}
	if got := drainNow(t, campSub); !slices.Equal(got, []Notice{runN, pbN}) {
		t.Errorf("campaign subscriber got %v, want the run then the pushback notice", got)
	}
	for name, s := range map[string]*Subscription{"other run": otherRunSub, "other campaign": otherCampSub, "pushback as run": pbAsRunSub} {
		if got := drainNow(t, s); got != nil {
			t.Errorf("%s subscriber got %v, want nothing", name, got)
		}
	}
	if n := l.Subscribers(); n != 5 {
		t.Errorf("Subscribers() = %d, want 5", n)
	}
}

func TestLocalCoalesces(t *testing.T) {
	t.Parallel()
	l := NewLocal()
	camp := pulid.ID("cmp_1")
	s := l.Subscribe(CampaignTopic(camp))
	run := func(id string, total int) Notice {
		// RunID is used here as a version stamp, to tell contents apart.
		return Notice{Kind: KindRun, ID: pulid.ID(id), RunID: pulid.ID(fmt.Sprint(id, "@", total)), CampaignID: camp}
	}
	a1, b1, a2, c1, b2, a3 := run("a", 1), run("b", 1), run("a", 2), run("c", 1), run("b", 2), run("a", 3)
	for _, n := range []Notice{a1, b1, a2, c1, b2, a3} {
		l.Dispatch(n)
	}
	select {
	case <-s.Ready():
	default:
		t.Fatal("Ready not signalled")
	}
	// One per ID, the latest content, in the order of each ID's first notice.
	if got, want := s.Drain(), []Notice{a3, b2, c1}; !slices.Equal(got, want) {
		t.Fatalf("Drain() = %v, want %v", got, want)
	}
	if pending(s) {
		t.Error("Ready signalled again though nothing was delivered since")
	}
	if got := s.Drain(); len(got) != 0 {
		t.Errorf("second Drain() = %v, want nothing", got)
	}
	// After a Drain the order starts afresh.
	l.Dispatch(c1)
	l.Dispatch(a1)
	if got, want := drainNow(t, s), []Notice{c1, a1}; !slices.Equal(got, want) {
		t.Errorf("Drain() after new notices = %v, want %v", got, want)
	}
}

func TestLocalCloseUnsubscribes(t *testing.T) {
	t.Parallel()
	l := NewLocal()
	camp := pulid.ID("cmp_1")
	n := Notice{Kind: KindPushback, ID: "pbk_1", CampaignID: camp}
	a := l.Subscribe(CampaignTopic(camp))
	b := l.Subscribe(CampaignTopic(camp))
	a.Close()
	a.Close() // idempotent
	if got := l.Subscribers(); got != 1 {
		t.Fatalf("Subscribers() = %d after one Close, want 1", got)
	}
	l.Dispatch(n)
	l.Broadcast(Notice{Kind: KindResync})
	if pending(a) {
		t.Error("closed subscription was signalled")
	}
	if got := drainNow(t, b); len(got) != 2 {
		t.Errorf("open subscription got %v, want the notice and the resync", got)
	}
	b.Close()
	if got := l.Subscribers(); got != 0 {
		t.Errorf("Subscribers() = %d after closing all, want 0", got)
	}
	l.mu.RLock()
	topicsLeft := len(l.subs)
	l.mu.RUnlock()
	if topicsLeft != 0 {
		t.Errorf("%d topics left after closing every subscription, want 0", topicsLeft)
	}
	// A zero Subscription (never subscribed) closes harmlessly.
	(&Subscription{}).Close()
}

func TestLocalBroadcastReachesEveryTopic(t *testing.T) {
	t.Parallel()
	l := NewLocal()
	subs := []*Subscription{
		l.Subscribe(RunTopic("run_1")), l.Subscribe(RunTopic("run_2")),
		l.Subscribe(CampaignTopic("cmp_1")), l.Subscribe(CampaignTopic("cmp_1")),
	}
	resync := Notice{Kind: KindResync}
	l.Dispatch(Notice{Kind: KindRun, ID: "run_1", CampaignID: "cmp_1"})
	l.Broadcast(resync)
	l.Broadcast(resync) // coalesced with the first
	for i, s := range subs {
		got := drainNow(t, s)
		if len(got) == 0 || got[len(got)-1] != resync || slices.Index(got, resync) != len(got)-1 {
			t.Errorf("subscription %d got %v, want one resync, last", i, got)
		}
	}
	NewLocal().Broadcast(resync) // no subscribers: nothing to do
}

// A subscriber that never reads costs the publisher nothing: delivery
// coalesces and never blocks.
func TestLocalPublishNeverBlocks(t *testing.T) {
	t.Parallel()
	l := NewLocal()
	s := l.Subscribe(CampaignTopic("cmp_1"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		for i := range 10_000 {
			if err := l.Publish(ctx, Notice{Kind: KindRun, ID: pulid.ID(fmt.Sprint("run_", i)), CampaignID: "cmp_1"}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("Publish blocked on a subscriber that never reads")
	}
	if got := len(s.Drain()); got != 10_000 {
		t.Errorf("%d pending notices, want 10000", got)
	}
}

// Run with -race: subscribing, closing, publishing, broadcasting and draining
// at once.
func TestLocalConcurrent(t *testing.T) {
	t.Parallel()
	l := NewLocal()
	const camps = 4
	steady := l.Subscribe(CampaignTopic("cmp_0"))
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() { // subscribers come and go, reading as they go
			for i := range 300 {
				s := l.Subscribe(CampaignTopic(pulid.ID(fmt.Sprint("cmp_", (w+i)%camps))))
				if i%2 == 0 {
					select {
					case <-s.Ready():
						s.Drain()
					default:
					}
				}
				s.Close()
				if i%3 == 0 {
					s.Close()
				}
			}
		})
		wg.Go(func() { // publishers
			for i := range 300 {
				c := pulid.ID(fmt.Sprint("cmp_", i%camps))
				_ = l.Publish(context.Background(), Notice{Kind: KindRun, ID: pulid.ID(fmt.Sprint("run_", w, "_", i)), CampaignID: c})
				if i%50 == 0 {
					l.Broadcast(Notice{Kind: KindResync})
					_ = l.Subscribers()
				}
			}
		})
	}
	wg.Go(func() { // the steady subscriber reads all along
		for range 100 {
			select {
			case <-steady.Ready():
				steady.Drain()
			case <-time.After(time.Millisecond):
			}
		}
	})
	wg.Wait()
	if got := l.Subscribers(); got != 1 {
		t.Fatalf("Subscribers() = %d, want 1 (only the steady one)", got)
	}
	last := Notice{Kind: KindRun, ID: "run_last", CampaignID: "cmp_0"}
	l.Dispatch(last)
	<-steady.Ready()
	if got := steady.Drain(); !slices.Contains(got, last) {
		t.Errorf("steady subscriber did not get the last notice: %v", got)
	}
	steady.Close()
	if got := l.Subscribers(); got != 0 {
		t.Errorf("Subscribers() = %d, want 0", got)
	}
}

func TestOnReady(t *testing.T) {
	t.Parallel()
	l := NewLocal()
	camp := pulid.ID("cmp_1")
	n1 := Notice{Kind: KindRun, ID: "run_1", RunID: "run_1", CampaignID: camp}
	n2 := Notice{Kind: KindPushback, ID: "pbk_1", CampaignID: camp}

	t.Run("a notice pending when the callback is set calls it at once", func(t *testing.T) {
		s := l.Subscribe(CampaignTopic(camp))
		defer s.Close()
		_ = l.Publish(context.Background(), n1)
		calls := 0
		s.OnReady(func() { calls++ })
		if calls != 1 {
			t.Fatalf("%d calls, want 1 for the pending notice", calls)
		}
		if got := s.Drain(); !slices.Equal(got, []Notice{n1}) {
			t.Fatalf("drained %v", got)
		}
	})

	t.Run("each notice calls it, and Ready is not signalled", func(t *testing.T) {
		s := l.Subscribe(CampaignTopic(camp))
		defer s.Close()
		calls := 0
		s.OnReady(func() { calls++ })
		if calls != 0 {
			t.Fatalf("%d calls with nothing pending", calls)
		}
		_ = l.Publish(context.Background(), n1)
		_ = l.Publish(context.Background(), n2)
		_ = l.Publish(context.Background(), n1)
		if calls != 3 {
			t.Fatalf("%d calls for 3 notices", calls)
		}
		if pending(s) {
			t.Fatal("Ready was signalled besides the callback")
		}
		// Coalesced as always: one notice per object, oldest change first.
		if got := s.Drain(); !slices.Equal(got, []Notice{n1, n2}) {
			t.Fatalf("drained %v, want [run pushback]", got)
		}
	})
}
