// Package progress tells subscribers that a sync run or a pushback changed.
//
// Notices carry only what changed (kind and ID), never the state itself:
// a subscriber reads the current state from the database. That keeps
// notices tiny (well under PostgreSQL's NOTIFY limit), makes a missed notice
// harmless (the next read catches up) and lets slow subscribers coalesce:
// a subscriber holds at most one pending notice per object, so a publisher
// never blocks and a slow reader only ever sees the latest state.
package progress

import (
	"context"
	"sync"

	"github.com/intake/intake/internal/pulid"
)

// Kind is what changed.
type Kind string

const (
	KindRun      Kind = "run"
	KindPushback Kind = "pushback"
	// KindAPIKey: an API key was revoked (ID); only APIKeysTopic hears it.
	KindAPIKey Kind = "apikey"
)

// APIKeysTopic is the topic of API key revocations.
const APIKeysTopic = "apikeys"

// Notice says that an object changed.
type Notice struct {
	Kind       Kind     `json:"k"`
	ID         pulid.ID `json:"id"`
	RunID      pulid.ID `json:"r,omitempty"` // for runs: the run itself
	CampaignID pulid.ID `json:"c"`
}

// Broker fans notices out to subscribers, within one process or across
// replicas.
type Broker interface {
	// Publish delivers n to the subscribers of its run and its campaign.
	Publish(ctx context.Context, n Notice) error
	// Subscribe follows a run (RunTopic) or a campaign (CampaignTopic).
	// Call Close on the subscription when done.
	Subscribe(topic string) *Subscription
}

// RunTopic is the topic of one run's notices.
func RunTopic(id pulid.ID) string { return "run:" + string(id) }

// CampaignTopic is the topic of everything that happens to a campaign.
func CampaignTopic(id pulid.ID) string { return "campaign:" + string(id) }

func topics(n Notice) []string {
	if n.Kind == KindAPIKey {
		return []string{APIKeysTopic}
	}
	t := []string{CampaignTopic(n.CampaignID)}
	if n.Kind == KindRun {
		t = append(t, RunTopic(n.ID))
	}
	return t
}

// Subscription receives notices. Ready is signalled when notices are
// pending (or, with OnReady, a callback is called); Drain takes them, one
// per object, oldest change first.
type Subscription struct {
	ready   chan struct{}
	mu      sync.Mutex
	pending map[pulid.ID]Notice
	order   []pulid.ID
	onReady func()
	close   func()
}

func newSubscription() *Subscription {
	return &Subscription{ready: make(chan struct{}, 1), pending: map[pulid.ID]Notice{}}
}

// Ready is signalled when Drain has something to return.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// OnReady makes the subscription call f, instead of signalling Ready,
// whenever a notice arrives; and at once if notices are already pending.
// f runs on the publisher's goroutine, so it must return quickly without
// blocking (start a goroutine to Drain). It lets a subscriber hold no
// goroutine while nothing happens.
func (s *Subscription) OnReady(f func()) {
	s.mu.Lock()
	s.onReady = f
	pending := len(s.order) > 0
	s.mu.Unlock()
	if pending {
		f()
	}
}

// Drain returns the pending notices and clears them.
func (s *Subscription) Drain() []Notice {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Notice, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.pending[id])
	}
	clear(s.pending)
	s.order = s.order[:0]
	return out
}

// Close stops the subscription.
func (s *Subscription) Close() {
	if s.close != nil {
		s.close()
	}
}

// deliver records n without ever blocking.
func (s *Subscription) deliver(n Notice) {
	s.mu.Lock()
	if _, ok := s.pending[n.ID]; !ok {
		s.order = append(s.order, n.ID)
	}
	s.pending[n.ID] = n
	onReady := s.onReady
	s.mu.Unlock()
	if onReady != nil {
		onReady()
		return
	}
	select {
	case s.ready <- struct{}{}:
	default: // already signalled
	}
}

// Local is the in-process Broker (the embedded SQLite default, and the
// fan-out inside each replica).
type Local struct {
	mu   sync.RWMutex
	subs map[string]map[*Subscription]struct{}
}

// NewLocal returns an in-process broker.
func NewLocal() *Local { return &Local{subs: map[string]map[*Subscription]struct{}{}} }

// Publish implements Broker.
func (l *Local) Publish(_ context.Context, n Notice) error {
	l.Dispatch(n)
	return nil
}

// Dispatch delivers n to this process's subscribers.
func (l *Local) Dispatch(n Notice) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, t := range topics(n) {
		for s := range l.subs[t] {
			s.deliver(n)
		}
	}
}

// Subscribe implements Broker.
func (l *Local) Subscribe(topic string) *Subscription {
	s := newSubscription()
	l.mu.Lock()
	if l.subs[topic] == nil {
		l.subs[topic] = map[*Subscription]struct{}{}
	}
	l.subs[topic][s] = struct{}{}
	l.mu.Unlock()
	var once sync.Once
	s.close = func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.subs[topic], s)
			if len(l.subs[topic]) == 0 {
				delete(l.subs, topic)
			}
			l.mu.Unlock()
		})
	}
	return s
}

// Subscribers returns the number of open subscriptions of clients (for
// metrics): the API key revocations a process follows do not count.
func (l *Local) Subscribers() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	n := 0
	for topic, m := range l.subs {
		if topic != APIKeysTopic { // the process's own, not a client's
			n += len(m)
		}
	}
	return n
}
