// Package schematype holds the Go types of data-model fields that the rest of
// Intake shares: the enums (enums.go) and the types of JSON fields.
//
// Each type here is the only definition of its values. ent stores it
// (field.Enum(...).GoType, field.JSON), gqlgen binds the GraphQL type of the
// same name to it (gqlgen.yml; the package is also autobound), and the
// connectors, the sync engine and the services use it as it is, so no code
// converts between two spellings of one enum. The package imports only the
// standard library: the ent schema, the GraphQL layer and the connectors all
// import it, and it must not pull any of them into another.
package schematype

// QuestionResult is one question asked during a call and its answer: the
// stored call_results.question_results, the GraphQL QuestionResult and
// QuestionResultInput, and what pushbacks send to the external system.
type QuestionResult struct {
	Question string `json:"question"`
	Answer   string `json:"answer"`
}
