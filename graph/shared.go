package graph

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/intake/intake/internal/viewer"
)

// sharedReads lets the subscribers of one object share the database reads
// they make in answer to the same notice. A thousand browsers following a
// campaign would otherwise read a run a thousand times at each of its
// checkpoints.
//
// A subscriber may only take a read that started after it drained its
// notice: that read sees the change the notice announced (the change is
// committed before its notice is published). Reads are stamped from a
// clock when they start; a subscriber notes the clock when it has drained
// its notices (now) and takes the object's latest read if its stamp is
// later, or starts one.
//
// Reads are shared only within an organization (the key includes it), and
// run with the context of the subscriber that started them.
type sharedReads struct {
	clock atomic.Uint64
	mu    sync.Mutex
	reads map[sharedKey]*sharedRead
}

type sharedKey struct {
	org string
	id  string
}

type sharedRead struct {
	stamp uint64
	done  chan struct{}
	v     any
	err   error
}

// keepRead is how long a finished read stays to be shared with subscribers
// that drained their notice before it started but asked after it ended.
const keepRead = 5 * time.Second

func newSharedReads() *sharedReads { return &sharedReads{reads: map[sharedKey]*sharedRead{}} }

// now is the clock: a read stamped later started after this call.
func (s *sharedReads) now() uint64 { return s.clock.Load() }

// read returns the object id as read by a read that started after the
// clock read after: a shared one, or one made now by load.
func read[T any](ctx context.Context, s *sharedReads, id string, after uint64, load func(context.Context) (T, error)) (T, error) {
	key := sharedKey{id: id}
	if v := viewer.FromContext(ctx); v != nil {
		key.org = string(v.OrgID)
	}
	s.mu.Lock()
	r := s.reads[key]
	mine := r == nil || r.stamp <= after
	if mine {
		r = &sharedRead{stamp: s.clock.Add(1), done: make(chan struct{})}
		s.reads[key] = r
	}
	s.mu.Unlock()
	if mine {
		r.v, r.err = load(ctx)
		close(r.done)
		time.AfterFunc(keepRead, func() {
			s.mu.Lock()
			if s.reads[key] == r {
				delete(s.reads, key)
			}
			s.mu.Unlock()
		})
	}
	var zero T
	select {
	case <-r.done:
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	if r.err != nil {
		// Not shared: the starter's context may have been cancelled.
		if !mine {
			return load(ctx)
		}
		return zero, r.err
	}
	return r.v.(T), nil
}
