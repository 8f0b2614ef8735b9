// Package viewer carries who is asking through a context: the organization
// every query is scoped to and the caller's role. Background work that acts
// for the system (migrations, the sync engine, API key lookup) uses
// SystemContext, which is the only way past tenant scoping.
package viewer

import (
	"context"

	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/schema/schematype"
)

// Viewer is the caller of a request.
type Viewer struct {
	OrgID pulid.ID
	Role  schematype.Role
	KeyID pulid.ID // the API key that authenticated the caller
	// KeyName is that key's name when it authenticated the caller.
	KeyName string
}

// CanMutate reports whether the viewer may change data.
func (v *Viewer) CanMutate() bool { return v != nil && v.Role == schematype.RoleAdmin }

type viewerKey struct{}
type systemKey struct{}

// NewContext returns ctx carrying v.
func NewContext(ctx context.Context, v *Viewer) context.Context {
	return context.WithValue(ctx, viewerKey{}, v)
}

// FromContext returns the viewer of ctx, or nil.
func FromContext(ctx context.Context) *Viewer {
	v, _ := ctx.Value(viewerKey{}).(*Viewer)
	return v
}

// SystemContext returns ctx acting for the system: tenant scoping does not
// apply. Use it only for work no caller's organization owns.
func SystemContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, systemKey{}, true)
}

// IsSystem reports whether ctx acts for the system.
func IsSystem(ctx context.Context) bool {
	b, _ := ctx.Value(systemKey{}).(bool)
	return b
}

// ForOrg returns a system-derived context that acts as an admin of org; the
// sync engine uses it so that everything it writes is scoped like a request.
func ForOrg(ctx context.Context, org pulid.ID) context.Context {
	return NewContext(context.WithValue(ctx, systemKey{}, false), &Viewer{OrgID: org, Role: schematype.RoleAdmin})
}
