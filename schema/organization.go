package schema

import (
	"context"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
)

// Organization owns everything else; API keys identify the viewer's one.
type Organization struct{ ent.Schema }

func (Organization) Mixin() []ent.Mixin {
	return []ent.Mixin{withID("org"), createdOnly{}}
}

func (Organization) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200).Unique().
			Comment("The organization's name, unique in Intake."),
	}
}

// Interceptors let a viewer see only its own organization.
func (Organization) Interceptors() []ent.Interceptor {
	return []ent.Interceptor{
		ent.TraverseFunc(func(ctx context.Context, q ent.Query) error { return scope(ctx, q, "id") }),
	}
}

func (Organization) Annotations() []schema.Annotation {
	return []schema.Annotation{
		schema.Comment("A tenant of Intake: it owns campaigns, integrations and API keys. Every request is scoped to the organization of its API key."),
		entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField),
	}
}

// createdOnly records when a row was created.
type createdOnly struct{ mixin.Schema }

func (createdOnly) Fields() []ent.Field {
	return []ent.Field{field.Time("created_at").Immutable().Default(now)}
}
