package schema

// EnumDoc annotates an enum field with the API reference of its GraphQL
// enum: the description of the enum and of each of its values. entgql
// writes none of them into graph/ent.graphqls; ent/entc.go adds them from
// this annotation. Only the API reference changes with it, never the
// database.
type EnumDoc struct {
	// Description describes the enum.
	Description string
	// Values describes each value, by value; every value needs one.
	Values map[string]string
}

// Name implements schema.Annotation.
func (EnumDoc) Name() string { return "EnumDoc" }
