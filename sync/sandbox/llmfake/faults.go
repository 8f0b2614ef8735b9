package llmfake

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Fault is a failure the fake can inject instead of answering normally.
type Fault int

const (
	// NoFault answers normally.
	NoFault Fault = iota
	// RateLimit answers 429 with Retry-After and the OpenAI
	// rate-limit error body.
	RateLimit
	// ServerError answers 500 with the OpenAI server error body.
	ServerError
	// Slow waits the slow delay (or until the client gives up), then
	// answers normally.
	Slow
	// Malformed answers 200 with message content that is not JSON.
	Malformed
	// Incomplete answers 200 with the decision for one record dropped
	// (the last one).
	Incomplete
	// Length answers 200 with finish_reason "length" and the content cut
	// in half.
	Length
)

// faultKinds lists the kinds in the order rates are drawn.
var faultKinds = []Fault{RateLimit, ServerError, Slow, Malformed, Incomplete, Length}

func (f Fault) String() string {
	switch f {
	case RateLimit:
		return "rate_limit"
	case ServerError:
		return "server_error"
	case Slow:
		return "slow"
	case Malformed:
		return "malformed"
	case Incomplete:
		return "incomplete"
	case Length:
		return "length"
	}
	return "none"
}

// Faults decides, request by request, whether the fake fails. Queued
// faults (Next) come first, in order; then each kind strikes with its
// rate, drawn from a seeded generator so a run is repeatable. Faults are
// drawn only for requests that passed validation. Safe for concurrent
// use; configure it at any time.
type Faults struct {
	mu         sync.Mutex
	rng        *rand.Rand
	queue      []Fault
	rates      map[Fault]float64
	retryAfter time.Duration
	slowDelay  time.Duration
	injected   map[Fault]int
}

// NewFaults returns an injector that injects nothing until told to.
func NewFaults(seed uint64) *Faults {
	return &Faults{
		rng:        rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		rates:      map[Fault]float64{},
		retryAfter: time.Second,
		slowDelay:  2 * time.Second,
		injected:   map[Fault]int{},
	}
}

// Next queues faults for the next requests, one each.
func (f *Faults) Next(faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = append(f.queue, faults...)
}

// SetRate makes kind strike a fraction p (0..1) of requests.
func (f *Faults) SetRate(kind Fault, p float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rates[kind] = p
}

// SetRetryAfter sets the Retry-After of injected 429s, sent in whole
// seconds (0 sends "0").
func (f *Faults) SetRetryAfter(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.retryAfter = d
}

// SetSlowDelay sets how long a Slow fault stalls.
func (f *Faults) SetSlowDelay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.slowDelay = d
}

// Reset clears queued faults and rates (counts are kept).
func (f *Faults) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = nil
	clear(f.rates)
}

// Injected returns how many faults of each kind were injected so far.
func (f *Faults) Injected() map[Fault]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[Fault]int, len(f.injected))
	for k, v := range f.injected {
		out[k] = v
	}
	return out
}

// draw picks the fault for one request, with the current Retry-After and
// slow delay.
func (f *Faults) draw() (Fault, time.Duration, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fault := NoFault
	if len(f.queue) > 0 {
		fault, f.queue = f.queue[0], f.queue[1:]
	} else {
		for _, k := range faultKinds {
			if p := f.rates[k]; p > 0 && f.rng.Float64() < p {
				fault = k
				break
			}
		}
	}
	if fault != NoFault {
		f.injected[fault]++
	}
	return fault, f.retryAfter, f.slowDelay
}
