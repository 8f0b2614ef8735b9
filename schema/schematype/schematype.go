// Package schematype holds the Go types of JSON fields in the data model.
package schematype

// QuestionResult is one question asked during a call and its answer.
type QuestionResult struct {
	Question string `json:"question"`
	Answer   string `json:"answer"`
}
