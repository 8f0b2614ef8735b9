package service

import (
	"context"
	"fmt"
	"slices"
	"time"

	"entgo.io/contrib/entgql"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/auditevent"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
)

// AuditOK is the outcome of an operation that succeeded; a failed one
// records its error code (VALIDATION_FAILED, FORBIDDEN, ...).
const AuditOK = "ok"

// AuditRecord is one entry of an organization's audit trail: who acted,
// on what, which input fields they set, and how it ended. It carries IDs
// and field names only, never values: no credentials, no contact data.
type AuditRecord struct {
	OrgID pulid.ID
	Actor schematype.AuditActorKind
	// KeyID is the API key that acted (Actor API_KEY).
	KeyID pulid.ID
	// ActorName is the acting key's name at the time (the viewer carries it
	// from authentication), or names another actor, e.g. the provider of a
	// webhook.
	ActorName string
	Operation string
	TargetID  pulid.ID
	Related   []pulid.ID
	Fields    []string
	Outcome   string
}

// RecordAudit writes records to the audit trail in one INSERT. It acts for
// the system, scoped by each record's OrgID: a read-only key's refused
// mutation is recorded too, which the caller's own context may not write.
func (s *Service) RecordAudit(ctx context.Context, recs ...AuditRecord) error {
	return WriteAudit(ctx, s.db, recs...)
}

// WriteAudit is RecordAudit for writers without a Service (the sync engine).
func WriteAudit(ctx context.Context, db *ent.Client, recs ...AuditRecord) error {
	if len(recs) == 0 {
		return nil
	}
	ctx = viewer.SystemContext(ctx)
	creates := make([]*ent.AuditEventCreate, len(recs))
	for i, r := range recs {
		if r.OrgID == "" || r.Operation == "" || r.Outcome == "" {
			return fmt.Errorf("audit record %+v lacks its organization, operation or outcome", r)
		}
		related := make([]string, 0, len(r.Related))
		for _, id := range r.Related {
			if id != r.TargetID && !slices.Contains(related, string(id)) {
				related = append(related, string(id))
			}
		}
		fields := slices.Clone(r.Fields)
		if fields == nil {
			fields = []string{}
		}
		c := db.AuditEvent.Create().
			SetOrganizationID(r.OrgID).
			SetActorKind(r.Actor).
			SetActorName(r.ActorName).
			SetOperation(r.Operation).
			SetTargetID(string(r.TargetID)).
			SetRelatedIds(related).
			SetFields(fields).
			SetOutcome(r.Outcome)
		if r.KeyID != "" {
			c.SetActorKeyID(string(r.KeyID))
		}
		creates[i] = c
	}
	if err := db.AuditEvent.CreateBulk(creates...).Exec(ctx); err != nil {
		return fmt.Errorf("writing the audit trail: %w", err)
	}
	return nil
}

// AuditFilter selects a page of the audit trail.
type AuditFilter struct {
	// TargetID keeps the events that acted on this object ("" = all).
	TargetID pulid.ID
	// Since and Until bound created_at: Since <= created_at < Until.
	Since, Until *time.Time
	// First is the page size (default DefaultAuditPage, at most
	// MaxAuditPage); After is the end cursor of the page before.
	First *int
	After *entgql.Cursor[pulid.ID]
}

// Page sizes of AuditEvents.
const (
	DefaultAuditPage = 50
	MaxAuditPage     = 100
)

// AuditPage is one page of audit events, newest first.
type AuditPage struct {
	Events []*ent.AuditEvent
	// Cursors[i] is the cursor of Events[i]: pass the last one as After
	// for the next page.
	Cursors     []entgql.Cursor[pulid.ID]
	HasNextPage bool
}

// AuditEvents returns the caller's organization's audit trail, newest
// first. Only ADMIN keys may read it: it tells who changed what.
func (s *Service) AuditEvents(ctx context.Context, f AuditFilter) (*AuditPage, error) {
	if v := viewer.FromContext(ctx); v == nil || v.Role != schematype.RoleAdmin {
		return nil, &Error{Code: CodeForbidden, Message: "only ADMIN keys may read the audit trail"}
	}
	first := DefaultAuditPage
	if f.First != nil {
		first = *f.First
	}
	if first < 0 || first > MaxAuditPage {
		return nil, invalid("first", "must be from 0 to %d", MaxAuditPage)
	}
	// The tenant interceptor scopes the query to the viewer's organization;
	// the indexes (organization_id, created_at) and (organization_id,
	// target_id, created_at) serve both orders of filtering.
	q := s.db.AuditEvent.Query()
	if f.TargetID != "" {
		q.Where(auditevent.TargetID(string(f.TargetID)))
	}
	if f.Since != nil {
		q.Where(auditevent.CreatedAtGTE(*f.Since))
	}
	if f.Until != nil {
		q.Where(auditevent.CreatedAtLT(*f.Until))
	}
	if f.After != nil {
		at, err := auditCursorTime(f.After)
		if err != nil {
			return nil, err
		}
		// Events with the same created_at are ordered by ID: the cursor
		// carries both, so no event is skipped or repeated across pages.
		q.Where(auditevent.Or(
			auditevent.CreatedAtLT(at),
			auditevent.And(auditevent.CreatedAt(at), auditevent.IDLT(f.After.ID)),
		))
	}
	events, err := q.Order(ent.Desc(auditevent.FieldCreatedAt), ent.Desc(auditevent.FieldID)).
		Limit(first + 1).All(ctx)
	if err != nil {
		return nil, err
	}
	page := &AuditPage{HasNextPage: len(events) > first}
	page.Events = events[:min(len(events), first)]
	page.Cursors = make([]entgql.Cursor[pulid.ID], len(page.Events))
	for i, e := range page.Events {
		page.Cursors[i] = entgql.Cursor[pulid.ID]{ID: e.ID, Value: e.CreatedAt.UTC().Format(time.RFC3339Nano)}
	}
	return page, nil
}

// auditCursorTime is the created_at an AuditEvents cursor carries. It is
// written as text: the cursor's encoding gives back a string as it was,
// where a time could come back as another type.
func auditCursorTime(c *entgql.Cursor[pulid.ID]) (time.Time, error) {
	s, ok := c.Value.(string)
	t, err := time.Parse(time.RFC3339Nano, s)
	if !ok || err != nil || !c.ID.Valid() {
		return time.Time{}, invalid("after", "is not a cursor of auditEvents")
	}
	return t, nil
}

// PruneAudit deletes the audit events created before cutoff, at most batch
// at a time so that no statement holds locks on many rows for long, and
// organization by organization so that each batch is found through the
// (organization_id, created_at) index. It stops after limit deletions
// (a later pass continues) and returns how many it deleted.
func PruneAudit(ctx context.Context, db *ent.Client, cutoff time.Time, batch, limit int) (int, error) {
	ctx = viewer.SystemContext(ctx)
	orgs, err := db.Organization.Query().IDs(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing organizations: %w", err)
	}
	deleted := 0
	for _, org := range orgs {
		if deleted >= limit {
			break
		}
		for deleted < limit {
			ids, err := db.AuditEvent.Query().
				Where(auditevent.OrganizationID(org), auditevent.CreatedAtLT(cutoff)).
				Order(ent.Asc(auditevent.FieldCreatedAt)).
				Limit(min(batch, limit-deleted)).
				IDs(ctx)
			if err != nil {
				return deleted, fmt.Errorf("finding old audit events: %w", err)
			}
			if len(ids) == 0 {
				break
			}
			n, err := db.AuditEvent.Delete().Where(auditevent.IDIn(ids...)).Exec(ctx)
			deleted += n
			if err != nil {
				return deleted, fmt.Errorf("deleting old audit events: %w", err)
			}
			if len(ids) < batch {
				break
			}
		}
	}
	return deleted, nil
}
