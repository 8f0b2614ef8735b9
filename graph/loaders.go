package graph

import (
	"context"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"time"

	"entgo.io/ent/dialect/sql"
	"github.com/99designs/gqlgen/graphql"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/callresult"
	"github.com/intake/intake/ent/contact"
	"github.com/intake/intake/ent/donotcall"
	"github.com/intake/intake/ent/integration"
	"github.com/intake/intake/ent/reference"
	"github.com/intake/intake/ent/syncrun"
	"github.com/intake/intake/ent/trigger"
	"github.com/intake/intake/internal/pulid"
)

// batchWindow is how long a batch waits for sibling resolvers to add their
// keys. gqlgen resolves the items of a list concurrently, so the siblings
// of a page ask within microseconds of each other.
const batchWindow = 500 * time.Microsecond

// batcher loads, in one query, the keys that resolvers of one operation ask
// for together: a page of campaigns costs one query for all their triggers
// instead of one per campaign.
//
// A batch is loaded with the union of its callers' needs; a value loaded
// ahead for a key goes only to a caller that needs no more than its batch
// was loaded with.
//
// Keys a resolver knows are coming (the campaigns of a page it listed)
// are primed: the first get of a primed key loads them all at once. Other
// keys are batched by time: a get waits batchWindow for its siblings. A get
// that can see the list its object is in (getListed) brings the keys of the
// whole list into its batch, so a list is never split between batches by a
// sibling that was scheduled late. A value loaded for a key nobody had asked
// for yet is handed out once; nothing else is kept beyond its batch, so a
// subscription's later events read fresh data.
type batcher[V any] struct {
	// load loads the keys; needs is the union of what the callers asked
	// for besides the values themselves (a bit set the batcher's owner
	// defines: edges to load with them, say).
	load func(ctx context.Context, keys []pulid.ID, needs uint) (map[pulid.ID]V, error)

	mu      sync.Mutex
	pending *batch[V]
	primed  map[pulid.ID]bool      // keys expected, not loaded yet
	ready   map[pulid.ID]*batch[V] // keys loaded for callers to come, not handed out yet
}

// prime says the keys will be asked for soon, by sibling resolvers. It
// replaces what an earlier prime announced.
func (b *batcher[V]) prime(keys []pulid.ID) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.primed = make(map[pulid.ID]bool, len(keys))
	for _, k := range keys {
		b.primed[k] = true
	}
	b.ready = nil
}

type batch[V any] struct {
	keys  []pulid.ID
	needs uint
	done  chan struct{}
	got   map[pulid.ID]V
	err   error
}

// get returns key's value (the zero V when there is none), loaded with at
// least what needs asks for.
func (b *batcher[V]) get(ctx context.Context, key pulid.ID, needs uint) (V, error) {
	return b.getListed(ctx, key, needs, nil)
}

// getListed is get for a key whose siblings are known: listed, when not
// nil, returns the keys of the list key is in. The first of them to ask
// brings them all into its batch; the others find their values there.
func (b *batcher[V]) getListed(ctx context.Context, key pulid.ID, needs uint, listed func() []pulid.ID) (V, error) {
	b.mu.Lock()
	if cur := b.ready[key]; cur != nil {
		delete(b.ready, key)
		if needs&^cur.needs == 0 {
			b.mu.Unlock()
			return cur.wait(ctx, key)
		}
		// Loaded with less than this caller asks for (a sibling's
		// selection): it gets a batch of its own.
	}
	if b.primed[key] {
		// The first of the primed keys: load them all now.
		cur := &batch[V]{needs: needs, done: make(chan struct{})}
		b.ready = make(map[pulid.ID]*batch[V], len(b.primed))
		for k := range b.primed {
			cur.keys = append(cur.keys, k)
			if k != key {
				b.ready[k] = cur
			}
		}
		b.primed = nil
		b.mu.Unlock()
		cur.got, cur.err = b.load(context.WithoutCancel(ctx), cur.keys, cur.needs)
		close(cur.done)
		return cur.got[key], cur.err
	}
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
			cur.got, cur.err = b.load(context.WithoutCancel(ctx), cur.keys, cur.needs)
			close(cur.done)
		})
	}
	cur.keys = append(cur.keys, key)
	cur.needs |= needs
	if listed != nil {
		// Only a list that holds key: anything else is not what the caller
		// thought it was.
		if keys := listed(); slices.Contains(keys, key) {
			for _, k := range keys {
				if k == key || b.primed[k] || b.ready[k] != nil {
					continue
				}
				if b.ready == nil {
					b.ready = make(map[pulid.ID]*batch[V])
				}
				cur.keys = append(cur.keys, k)
				b.ready[k] = cur
			}
		}
	}
	b.mu.Unlock()
	return cur.wait(ctx, key)
}

func (c *batch[V]) wait(ctx context.Context, key pulid.ID) (V, error) {
	select {
	case <-c.done:
		return c.got[key], c.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// loaders are one operation's batchers.
type loaders struct {
	triggers    *batcher[[]*ent.Trigger]    // by campaign
	lastRun     *batcher[*ent.SyncRun]      // by trigger
	references  *batcher[[]*ent.Reference]  // by trigger
	callResults *batcher[[]*ent.CallResult] // by contact
	doNotCall   *batcher[bool]              // by contact: its number is on the do-not-call list
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
	l := &loaders{}
	*l = loaders{
		doNotCall: &batcher[bool]{load: func(ctx context.Context, contacts []pulid.ID, _ uint) (map[pulid.ID]bool, error) {
			cs, err := r.db.Contact.Query().Where(contact.IDIn(contacts...)).Select(contact.FieldID, contact.FieldPhoneE164).All(ctx)
			if err != nil || len(cs) == 0 {
				return nil, err
			}
			phones := make([]string, 0, len(cs))
			for _, c := range cs {
				phones = append(phones, c.PhoneE164)
			}
			listed, err := r.db.DoNotCall.Query().Where(donotcall.PhoneE164In(phones...)).Select(donotcall.FieldPhoneE164).Strings(ctx)
			if err != nil {
				return nil, err
			}
			out := make(map[pulid.ID]bool, len(cs))
			for _, c := range cs {
				out[c.ID] = slices.Contains(listed, c.PhoneE164)
			}
			return out, nil
		}},
		triggers: &batcher[[]*ent.Trigger]{load: func(ctx context.Context, campaigns []pulid.ID, needs uint) (map[pulid.ID][]*ent.Trigger, error) {
			// With the columns and edges the callers' selections ask for
			// (a trigger whose edge was not loaded reads it when asked).
			// Not CollectFields: its projection may leave out campaign_id,
			// which sorts the triggers to their campaigns.
			q := r.db.Trigger.Query().Where(trigger.CampaignIDIn(campaigns...))
			if needs&triggerCols.all != triggerCols.all {
				q.Select(triggerCols.names(needs)...)
			}
			if needs&needIntegration != 0 {
				q.WithIntegration(func(q *ent.IntegrationQuery) { q.Select(integrationColumns...) })
			}
			if needs&needStatusMapping != 0 {
				q.WithStatusMapping()
			}
			ts, err := q.Order(trigger.ByCreatedAt(), trigger.ByID()).All(ctx)
			if err != nil {
				return nil, err
			}
			out := make(map[pulid.ID][]*ent.Trigger, len(campaigns))
			ids := make([]pulid.ID, len(ts))
			for i, t := range ts {
				out[t.CampaignID] = append(out[t.CampaignID], t)
				ids[i] = t.ID
			}
			if needs&needLastRun != 0 {
				l.lastRun.prime(ids)
			}
			if needs&needReferences != 0 {
				l.references.prime(ids)
			}
			return out, nil
		}},
		lastRun: &batcher[*ent.SyncRun]{load: func(ctx context.Context, triggers []pulid.ID, needs uint) (map[pulid.ID]*ent.SyncRun, error) {
			// The newest run of each trigger (run IDs are time-ordered),
			// found on the (trigger_id, id) index, with the columns the
			// callers' selections show.
			q := r.db.SyncRun.Query().Where(func(s *sql.Selector) {
				newest := sql.Select(sql.Max(syncrun.FieldID)).From(sql.Table(syncrun.Table)).
					Where(sql.In(syncrun.FieldTriggerID, toAny(triggers)...)).GroupBy(syncrun.FieldTriggerID)
				s.Where(sql.In(s.C(syncrun.FieldID), newest))
			})
			if needs&runCols.all != runCols.all {
				q.Select(runCols.names(needs)...)
			}
			runs, err := q.All(ctx)
			if err != nil {
				return nil, err
			}
			out := make(map[pulid.ID]*ent.SyncRun, len(runs))
			for _, run := range runs {
				out[run.TriggerID] = run
			}
			return out, nil
		}},
		references: &batcher[[]*ent.Reference]{load: func(ctx context.Context, triggers []pulid.ID, _ uint) (map[pulid.ID][]*ent.Reference, error) {
			refs, err := r.db.Reference.Query().Where(reference.TriggerIDIn(triggers...)).
				Order(reference.ByKind(), reference.ByExternalID()).All(ctx)
			if err != nil {
				return nil, err
			}
			out := make(map[pulid.ID][]*ent.Reference, len(triggers))
			for _, ref := range refs {
				out[ref.TriggerID] = append(out[ref.TriggerID], ref)
			}
			return out, nil
		}},
		// Contacts come in pages the generated Campaign.contacts builds, so
		// nothing primes their call results: the first contact of a page to
		// ask brings in the rest (getListed), and pages asking together
		// (the contacts of several campaigns) batch by time.
		callResults: &batcher[[]*ent.CallResult]{load: func(ctx context.Context, contacts []pulid.ID, needs uint) (map[pulid.ID][]*ent.CallResult, error) {
			q := r.db.CallResult.Query().Where(callresult.ContactIDIn(contacts...))
			if needs&needPushback != 0 {
				q.WithPushback()
			}
			if needs&needContact != 0 {
				q.WithContact()
			}
			// ID after the time: the order of results reported for the same
			// moment stays the same from one read to the next.
			crs, err := q.Order(callresult.ByCalledAt(), callresult.ByID()).All(ctx)
			if err != nil {
				return nil, err
			}
			out := make(map[pulid.ID][]*ent.CallResult, len(contacts))
			for _, cr := range crs {
				out[cr.ContactID] = append(out[cr.ContactID], cr)
			}
			return out, nil
		}},
	}
	return l
}

// What a batch of triggers is loaded with: the edges below, and the
// columns of triggerCols.
const (
	needIntegration uint = 1 << iota
	needStatusMapping
	needLastRun    // the batch's triggers will be asked for their latest run
	needReferences // and for their references
)

// Every trigger is loaded with its ID and organization, its campaign's ID
// (which sorts the triggers to their campaigns) and its integration's.
var (
	triggerCols = newColumnSet(trigger.Columns, 4)
	triggerBase = triggerCols.of("id", "organizationID", "campaignID", "integrationID")
)

// triggerNeeds is what the selection below a list of triggers asks for:
// the edges to load with them, and the columns of its fields (every column
// for a field that is neither a column nor an edge).
func triggerNeeds(ctx context.Context) uint {
	needs := triggerBase
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		switch f.Name {
		case "integration":
			needs |= needIntegration
		case "statusMapping":
			needs |= needStatusMapping
		case "lastRun":
			needs |= needLastRun
		case "references":
			needs |= needReferences
		case "__typename", "campaign", "syncRuns": // the base's columns
		default:
			needs |= triggerCols.column(f.Name)
		}
	}
	return needs
}

// columnSet gives each column of a table a bit of a batch's needs, from
// bit shift on (the bits below are the batch's own: edges to load, say),
// so that a batch loads the columns its callers' selections show.
type columnSet struct {
	columns []string
	shift   int
	byField map[string]uint // a field of the schema: its column's bit
	all     uint            // every column
}

func newColumnSet(columns []string, shift int) *columnSet {
	if shift+len(columns) > bits.UintSize {
		panic("graph: more columns than a batch's needs have bits")
	}
	s := &columnSet{columns: columns, shift: shift, byField: map[string]uint{}}
	for i, c := range columns {
		s.byField[lowerCamel(c)] = 1 << (shift + i)
		s.all |= 1 << (shift + i)
	}
	return s
}

// of returns the bits of the fields named.
func (s *columnSet) of(fields ...string) uint {
	var b uint
	for _, f := range fields {
		bit, ok := s.byField[f]
		if !ok {
			panic("graph: no column for " + f)
		}
		b |= bit
	}
	return b
}

// names are the columns needs names.
func (s *columnSet) names(needs uint) []string {
	cols := make([]string, 0, bits.OnesCount(needs&s.all))
	for i, c := range s.columns {
		if needs&(1<<(s.shift+i)) != 0 {
			cols = append(cols, c)
		}
	}
	return cols
}

// column is the bit of field's column; every column's for a field that is
// not one (a resolver may read any of them).
func (s *columnSet) column(field string) uint {
	if bit, ok := s.byField[field]; ok {
		return bit
	}
	return s.all
}

// A lastRun batch's needs are the columns of its runs. Every run is loaded
// with its ID and organization, and its trigger's ID (the trigger and
// issues fields read no others).
var (
	runCols = newColumnSet(syncrun.Columns, 0)
	runBase = runCols.of("id", "organizationID", "triggerID")
)

// runNeeds is what the selection below a run asks for: the columns of its
// fields; every column for a field that is not one but trigger or issues.
func runNeeds(ctx context.Context) uint {
	needs := runBase
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		switch f.Name {
		case "__typename", "trigger", "issues": // the base's columns
		default:
			needs |= runCols.column(f.Name)
		}
	}
	return needs
}

// lowerCamel turns a column's name into its GraphQL field's: invalid_phone
// is invalidPhone.
func lowerCamel(column string) string {
	parts := strings.Split(column, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] == "id" {
			parts[i] = "ID"
		} else if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// What a batch of call results is loaded with.
const (
	needPushback uint = 1 << iota
	needContact
)

// callResultNeeds is what the selection below a list of call results asks
// for.
func callResultNeeds(ctx context.Context) uint {
	var needs uint
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		switch f.Name {
		case "pushback":
			needs |= needPushback
		case "contact":
			needs |= needContact
		}
	}
	return needs
}

// integrationColumns are an integration's columns but its credentials:
// GraphQL never shows them, so reads for it leave the ciphertext in the
// database.
var integrationColumns = func() []string {
	cols := make([]string, 0, len(integration.Columns))
	for _, c := range integration.Columns {
		if c != integration.FieldCredentials {
			cols = append(cols, c)
		}
	}
	return cols
}()

// primeTriggers tells the operation's trigger batcher that the page's
// campaigns will be asked for their triggers.
func (r *Resolver) primeTriggers(ctx context.Context, conn *ent.CampaignConnection) {
	ids := make([]pulid.ID, 0, len(conn.Edges))
	for _, e := range conn.Edges {
		if e.Node != nil {
			ids = append(ids, e.Node.ID)
		}
	}
	r.loadersOf(ctx).triggers.prime(ids)
}

// listOf returns the list that holds the object whose field ctx resolves,
// as gqlgen resolved it (the edges of a connection's page, the result of
// nodes(ids:), a list field), or nil when the object is in none.
func listOf(ctx context.Context) any {
	for fc := graphql.GetFieldContext(ctx); fc != nil; fc = fc.Parent {
		if fc.Index != nil {
			if fc.Parent == nil {
				return nil
			}
			return fc.Parent.Result
		}
	}
	return nil
}

// listed lists the IDs of the objects in the list that holds the object
// whose field ctx resolves: a list of them ([]T), the nodes of a page's
// edges ([]E, node giving an edge's object or nil), or nodes(ids:).
func listed[T interface {
	comparable
	ent.Noder
}, E any](ctx context.Context, id func(T) pulid.ID, node func(E) T) func() []pulid.ID {
	return func() []pulid.ID {
		var ids []pulid.ID
		var none T
		add := func(t T) {
			if t != none {
				ids = append(ids, id(t))
			}
		}
		switch l := listOf(ctx).(type) {
		case []T:
			for _, t := range l {
				add(t)
			}
		case []E:
			for _, e := range l {
				add(node(e))
			}
		case []ent.Noder:
			for _, n := range l {
				if t, ok := n.(T); ok {
					add(t)
				}
			}
		}
		return ids
	}
}

// listedContacts lists the contacts in the list that holds the contact
// whose field ctx resolves: its siblings on a page of contacts, or in
// nodes(ids:).
func listedContacts(ctx context.Context) func() []pulid.ID {
	return listed(ctx, func(c *ent.Contact) pulid.ID { return c.ID }, func(e *ent.ContactEdge) *ent.Contact {
		if e == nil {
			return nil
		}
		return e.Node
	})
}

// listedCampaigns lists the campaigns in the list that holds the campaign
// whose field ctx resolves: its siblings on a page of campaigns, or in
// nodes(ids:).
func listedCampaigns(ctx context.Context) func() []pulid.ID {
	return listed(ctx, func(c *ent.Campaign) pulid.ID { return c.ID }, func(e *ent.CampaignEdge) *ent.Campaign {
		if e == nil {
			return nil
		}
		return e.Node
	})
}

// listedTriggers lists the triggers in the list that holds the trigger
// whose field ctx resolves: its campaign's triggers, a page of triggers,
// or nodes(ids:).
func listedTriggers(ctx context.Context) func() []pulid.ID {
	return listed(ctx, func(t *ent.Trigger) pulid.ID { return t.ID }, func(e *ent.TriggerEdge) *ent.Trigger {
		if e == nil {
			return nil
		}
		return e.Node
	})
}

func toAny(ids []pulid.ID) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}
