package graph

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/intake/intake/sync/progress"
)

// Subscriptions that hold no goroutine while idle.
//
// A subscription resolver returns a channel, which gqlgen's generated code
// reads once each time the transport asks for the operation's next
// response. Served the plain way, an idle subscription holds two blocked
// goroutines: the resolver's, waiting for a notice to send on the channel,
// and the transport's, waiting on the channel. With thousands of open
// subscriptions their stacks are most of the server's memory.
//
// Here the resolver's side runs only while notices are pending (a stream
// starts a goroutine when its broker subscription gets one, and the
// goroutine ends once it has drained them). A transport that puts a Demand
// in the operation's context can do the same on its side: the stream calls
// the Demand's wake once before each value it sends and once before it
// closes the channel, and the transport asks for exactly one response per
// wake. A transport without a Demand reads the channel the plain way.

// Demand connects a subscription's stream to the transport serving it.
type Demand struct {
	wake    func()
	claimed atomic.Bool
}

// NewDemand returns a Demand whose stream calls wake before each value it
// sends and before it ends. wake runs on the stream's goroutine and must
// not block.
func NewDemand(wake func()) *Demand { return &Demand{wake: wake} }

// Claimed reports whether the operation's resolver took the Demand: then
// its stream calls wake, and the transport must ask for a response once per
// call (and, once the operation's context is cancelled, until the response
// handler returns nil). If not, the transport reads the response handler
// continuously, as usual.
func (d *Demand) Claimed() bool { return d.claimed.Load() }

type demandKey struct{}

// WithDemand returns a context carrying d, for DispatchOperation.
func WithDemand(ctx context.Context, d *Demand) context.Context {
	return context.WithValue(ctx, demandKey{}, d)
}

// claimDemand takes the context's Demand, if any, and returns its wake.
func claimDemand(ctx context.Context) func() {
	d, _ := ctx.Value(demandKey{}).(*Demand)
	if d == nil || !d.claimed.CompareAndSwap(false, true) {
		return nil
	}
	return d.wake
}

// emitFunc sends one value on a stream; false means the stream must end
// (its subscriber is gone).
type emitFunc[T any] func(T) bool

// stream feeds a subscription's channel from a broker subscription. step
// gets each batch of notices and reports whether the stream goes on; it
// runs on one goroutine at a time, started when notices arrive and ended
// when they are drained.
type stream[T any] struct {
	ctx  context.Context
	sub  *progress.Subscription
	out  chan T
	wake func() // the transport's Demand; nil without one
	step func(notices []progress.Notice, emit emitFunc[T]) bool

	mu      sync.Mutex
	running bool // a goroutine is draining notices
	ended   bool
}

// newStream starts a stream; first, if not nil, runs before any notice
// (to send the current state) and reports whether the stream goes on. The
// stream ends when first or step says so, or when ctx is done; sub is
// closed then.
func newStream[T any](ctx context.Context, sub *progress.Subscription,
	first func(emit emitFunc[T]) bool, step func([]progress.Notice, emitFunc[T]) bool) <-chan T {
	s := &stream[T]{ctx: ctx, sub: sub, out: make(chan T), wake: claimDemand(ctx), step: step, running: true}
	context.AfterFunc(ctx, sub.Close)
	go s.run(first)
	sub.OnReady(s.kick)
	return s.out
}

// kick starts draining unless a goroutine already does. It is the broker
// subscription's OnReady: it must not block.
func (s *stream[T]) kick() {
	s.mu.Lock()
	start := !s.running && !s.ended
	s.running = true
	s.mu.Unlock()
	if start {
		go s.run(nil)
	}
}

func (s *stream[T]) run(first func(emitFunc[T]) bool) {
	if first != nil && !first(s.emit) {
		s.end()
		return
	}
	for {
		// Drain under s.mu: a notice that arrives after it finds the
		// stream not running (kick waits for the lock) and starts a new
		// goroutine.
		s.mu.Lock()
		notices := s.sub.Drain()
		if len(notices) == 0 || s.ctx.Err() != nil {
			s.running = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		if !s.step(notices, s.emit) {
			s.end()
			return
		}
	}
}

func (s *stream[T]) emit(v T) bool {
	if s.wake != nil {
		s.wake()
	}
	select {
	case s.out <- v:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// end closes the channel: the subscription completes. Only the goroutine
// running the stream calls it, so nothing sends on the channel after.
func (s *stream[T]) end() {
	s.mu.Lock()
	s.ended, s.running = true, false
	s.mu.Unlock()
	s.sub.Close()
	if s.wake != nil {
		s.wake()
	}
	close(s.out)
}
