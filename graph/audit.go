package graph

import (
	"entgo.io/contrib/entgql"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/graph/model"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/service"
)

// auditConnection is a page of the audit trail as a Relay connection.
func auditConnection(page *service.AuditPage) *model.AuditEventConnection {
	conn := &model.AuditEventConnection{
		Edges:    make([]*model.AuditEventEdge, len(page.Events)),
		PageInfo: &entgql.PageInfo[pulid.ID]{HasNextPage: page.HasNextPage},
	}
	for i, e := range page.Events {
		conn.Edges[i] = &model.AuditEventEdge{Node: auditEvent(e), Cursor: page.Cursors[i]}
	}
	if n := len(conn.Edges); n > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[n-1].Cursor
	}
	return conn
}

func auditEvent(e *ent.AuditEvent) *model.AuditEvent {
	ev := &model.AuditEvent{
		ID: e.ID, CreatedAt: e.CreatedAt, ActorKind: e.ActorKind,
		ActorName: e.ActorName, Operation: e.Operation, Fields: e.Fields, Outcome: e.Outcome,
		RelatedIDs: make([]pulid.ID, len(e.RelatedIds)),
	}
	if e.ActorKeyID != nil {
		id := pulid.ID(*e.ActorKeyID)
		ev.ActorKeyID = &id
	}
	if e.TargetID != "" {
		id := pulid.ID(e.TargetID)
		ev.TargetID = &id
	}
	for i, id := range e.RelatedIds {
		ev.RelatedIDs[i] = pulid.ID(id)
	}
	if ev.Fields == nil {
		ev.Fields = []string{}
	}
	return ev
}
