package model

import (
	"time"

	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/schema/schematype"
)

// AuditEvent is one entry of the audit trail as the API shows it: the
// stored row with its IDs typed as IDs.
type AuditEvent struct {
	ID         pulid.ID
	CreatedAt  time.Time
	ActorKind  schematype.AuditActorKind
	ActorKeyID *pulid.ID
	ActorName  string
	Operation  string
	TargetID   *pulid.ID
	RelatedIDs []pulid.ID
	Fields     []string
	Outcome    string
}
