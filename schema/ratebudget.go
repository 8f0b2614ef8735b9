package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// RateAccount is an external account's rate budget on PostgreSQL (package
// sync/ratebudget): its row is locked for every decision. It belongs to no
// organization: an external account's limits are shared by whoever
// reaches it. Only sync/ratebudget reads and writes it, in SQL.
type RateAccount struct{ ent.Schema }

func (RateAccount) Fields() []ent.Field {
	return []ent.Field{
		// id is ratebudget.AccountKey: a hash, never a credential.
		field.String("id").MaxLen(64).NotEmpty().Immutable(),
		// state is the budget's state but its grants, as JSON: demand per
		// class, blocks after 429s, the day's count, the account's own
		// figures from its answers, throttled time.
		field.Text("state"),
	}
}

func (RateAccount) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// RateGrant is one request a rate budget allowed, kept for two minutes.
type RateGrant struct{ ent.Schema }

func (RateGrant) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("id"),
		field.String("account").MaxLen(64).NotEmpty().Immutable(),
		field.Time("at").Immutable(),
		field.Int("class").Immutable(),
		field.Bool("search").Immutable(),
	}
}

func (RateGrant) Indexes() []ent.Index {
	return []ent.Index{index.Fields("account", "at")}
}

func (RateGrant) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
