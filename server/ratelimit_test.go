package server

import (
	"testing"
	"time"

	"github.com/intake/intake/internal/pulid"
)

func TestRateLimiterBuckets(t *testing.T) {
	t.Parallel()
	l := newRateLimiter(Limits{RatePerSecond: 2, RateBurst: 4})
	t0 := time.Unix(1_700_000_000, 0)
	a, b := pulid.ID("key_a"), pulid.ID("key_b")

	for i := range 4 {
		if ok, _ := l.take(a, t0); !ok {
			t.Fatalf("take %d of a burst of 4 refused", i+1)
		}
	}
	if ok, wait := l.take(a, t0); ok || wait != 500*time.Millisecond {
		t.Fatalf("fifth take: ok %v, wait %s; want refused, 500ms", ok, wait)
	}
	if ok, _ := l.take(b, t0); !ok {
		t.Fatal("another key shares the exhausted bucket")
	}
	if ok, wait := l.take(a, t0.Add(400*time.Millisecond)); ok || wait.Round(time.Millisecond) != 100*time.Millisecond {
		t.Fatalf("after 400ms: ok %v, wait %s; want refused, 100ms", ok, wait)
	}
	if ok, _ := l.take(a, t0.Add(500*time.Millisecond)); !ok {
		t.Fatal("after 500ms (one token refilled): refused")
	}

	// A bucket idle for the refill period (burst/rate = 2s) is full, and is
	// dropped at the next sweep.
	if len(l.buckets) != 2 {
		t.Fatalf("%d buckets, want 2", len(l.buckets))
	}
	c := pulid.ID("key_c")
	if ok, _ := l.take(c, t0.Add(3*time.Second)); !ok {
		t.Fatal("a new key refused")
	}
	if len(l.buckets) != 1 {
		t.Fatalf("%d buckets after the idle ones were swept, want 1", len(l.buckets))
	}
	for i := range 4 {
		if ok, _ := l.take(a, t0.Add(3*time.Second)); !ok {
			t.Fatalf("a swept key starts full: take %d refused", i+1)
		}
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]int{
		time.Millisecond: 1, 500 * time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, 2500 * time.Millisecond: 3,
	} {
		if got := retryAfterSeconds(d); got != want {
			t.Errorf("retryAfterSeconds(%s) = %d, want %d", d, got, want)
		}
	}
}
