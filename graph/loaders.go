package graph

import (
	"context"
	"sync"
	"time"

	"entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/graphql"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/syncrun"
	"github.com/intake/intake/ent/trigger"
	"github.com/intake/intake/internal/pulid"
)

// batchWindow is how long a batch waits for sibling resolvers to add their
// keys. gqlgen resolves the items of a list concurrently, so the siblings
// of a page ask within microseconds of each other.
const batchWindow = 500 * time.Microsecond

// batcher loads, in one query, the keys that resolvers of one operation ask
// for at about the same time: a page of campaigns costs one query for all
// their triggers instead of one per campaign. It caches nothing beyond a
// batch, so a subscription's later events read fresh data.
type batcher[V any] struct {
	load func(ctx context.Context, keys []pulid.ID) (map[pulid.ID]V, error)

	mu      sync.Mutex
	pending *batch[V]
}

type batch[V any] struct {
	keys []pulid.ID
	done chan struct{}
	got  map[pulid.ID]V
	err  error
}

// get returns key's value (the zero V when there is none).
func (b *batcher[V]) get(ctx context.Context, key pulid.ID) (V, error) {
	b.mu.Lock()
	cur := b.pending
	if cur == nil {
		cur = &batch[V]{done: make(chan struct{})}
		b.pending = cur
		// The first caller's context loads the batch: every caller is a
		// sibling field of the same operation, with the same viewer and
		// the same selection below it.
		time.AfterFunc(batchWindow, func() {
			b.mu.Lock()
			b.pending = nil
			b.mu.Unlock()
			cur.got, cur.err = b.load(context.WithoutCancel(ctx), cur.keys)
			close(cur.done)
		})
	}
	cur.keys = append(cur.keys, key)
	b.mu.Unlock()
	select {
	case <-cur.done:
		return cur.got[key], cur.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// loaders are one operation's batchers.
type loaders struct {
	triggers *batcher[[]*ent.Trigger] // by campaign
	lastRun  *batcher[*ent.SyncRun]   // by trigger
}

type loadersKey struct{}

// loaderSlot holds an operation's batchers, made when first needed.
type loaderSlot struct {
	once sync.Once
	l    *loaders
}

// WithLoaders gives each operation its own batchers: an AroundOperations
// middleware for the handler serving NewSchema.
func WithLoaders(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	return next(context.WithValue(ctx, loadersKey{}, &loaderSlot{}))
}

// loadersOf returns the operation's batchers; a call without WithLoaders
// gets batchers of its own.
func (r *Resolver) loadersOf(ctx context.Context) *loaders {
	slot, ok := ctx.Value(loadersKey{}).(*loaderSlot)
	if !ok {
		return r.newLoaders()
	}
	slot.once.Do(func() { slot.l = r.newLoaders() })
	return slot.l
}

func (r *Resolver) newLoaders() *loaders {
	return &loaders{
		triggers: &batcher[[]*ent.Trigger]{load: func(ctx context.Context, campaigns []pulid.ID) (map[pulid.ID][]*ent.Trigger, error) {
			// With the edges a page of triggers is mostly asked for. Not
			// CollectFields: its projection may leave out campaign_id,
			// which sorts the triggers to their campaigns.
			ts, err := r.db.Trigger.Query().Where(trigger.CampaignIDIn(campaigns...)).
				WithIntegration().WithStatusMapping().
				Order(trigger.ByCreatedAt(), trigger.ByID()).All(ctx)
			if err != nil {
				return nil, err
			}
			out := make(map[pulid.ID][]*ent.Trigger, len(campaigns))
			for _, t := range ts {
				out[t.CampaignID] = append(out[t.CampaignID], t)
			}
			return out, nil
		}},
		lastRun: &batcher[*ent.SyncRun]{load: func(ctx context.Context, triggers []pulid.ID) (map[pulid.ID]*ent.SyncRun, error) {
			// The newest run of each trigger (run IDs are time-ordered),
			// found on the (trigger_id, id) index.
			runs, err := r.db.SyncRun.Query().Where(func(s *sql.Selector) {
				newest := sql.Select(sql.Max(syncrun.FieldID)).From(sql.Table(syncrun.Table)).
					Where(sql.In(syncrun.FieldTriggerID, toAny(triggers)...)).GroupBy(syncrun.FieldTriggerID)
				s.Where(sql.In(s.C(syncrun.FieldID), newest))
			}).All(ctx)
			if err != nil {
				return nil, err
			}
			out := make(map[pulid.ID]*ent.SyncRun, len(runs))
			for _, run := range runs {
				out[run.TriggerID] = run
			}
			return out, nil
		}},
	}
}

func toAny(ids []pulid.ID) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}
