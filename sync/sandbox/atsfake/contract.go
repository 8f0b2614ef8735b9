package atsfake

import "github.com/intake/intake/sync/sandbox/contract"

// assumed is the source of every fact below: neither Talention nor Compleet
// publishes an API description, so the facts are the shape this fake and
// the connector (package ats) agree on, modelled on the unified ATS APIs
// that integration vendors expose.
const assumed = "ASSUMED: no public API documentation; modelled on the unified ATS shape "

// ContractFor returns the facts of the API the fake stands for: every
// endpoint it serves, with its parameters and the fields of its answers.
// stageMoves adds PUT /applications/{id}/stage, as Config.StageMoves does.
func ContractFor(provider string, stageMoves bool) contract.Spec {
	pageSize := contract.Param{Name: "page_size", Type: contract.Integer, Min: contract.Int(1), Max: contract.Int(defaultMaxPageSize)}
	cursor := contract.Param{Name: "cursor", Type: contract.String}
	createdAfter := contract.Param{Name: "created_after", Type: contract.DateTime}
	updatedAfter := contract.Param{Name: "updated_after", Type: contract.DateTime}
	listed := func(fields ...string) []string {
		out := []string{"status", "data.next", "data.results"}
		for _, f := range fields {
			out = append(out, "data.results[]."+f)
		}
		return out
	}
	object := func(fields ...string) []string {
		out := []string{"status", "data"}
		for _, f := range fields {
			out = append(out, "data."+f)
		}
		return out
	}
	jobFields := []string{"id", "name", "status", "stages", "stages[].id", "stages[].name"}
	applicationFields := []string{"id", "candidate_id", "job_id", "current_stage_id", "outcome", "source", "remote_created_at"}
	noteFields := []string{"id", "content", "remote_created_at"}

	spec := contract.Spec{
		Provider: provider,
		Endpoints: []contract.Endpoint{
			{
				Method:   "GET",
				Path:     "/jobs",
				Query:    []contract.Param{cursor, pageSize, {Name: "name_contains", Type: contract.String}, createdAfter, updatedAfter},
				Response: listed(jobFields...),
				Source:   assumed + "(list endpoints: cursor and page_size paging, data.next and data.results; inclusive created_after and updated_after filters; jobs carry their stages)",
			},
			{
				Method:   "GET",
				Path:     "/jobs/{id}",
				Response: object(jobFields...),
				Source:   assumed + "(retrieve a job with its stages)",
			},
			{
				Method: "GET",
				Path:   "/applications",
				Query: []contract.Param{cursor, pageSize, createdAfter, updatedAfter,
					{Name: "job_id", Type: contract.String, Repeated: true}},
				Response: listed(applicationFields...),
				Source: assumed + "(list endpoints: cursor and page_size paging; applications filtered by job_id, repeatable; " +
					"source is where the application came from, a string or null)",
			},
			{
				Method: "GET",
				Path:   "/candidates/{id}",
				Response: object("id", "first_name", "last_name", "title", "locations", "tags", "phone_numbers", "phone_numbers[].phone_number",
					"phone_numbers[].type", "email_addresses", "email_addresses[].email_address", "changed_at", "remote_created_at"),
				Source: assumed + "(retrieve a candidate with typed phone numbers and email addresses; title is the current job title " +
					"(a string or null), locations and tags are lists of strings)",
			},
			{
				Method:   "GET",
				Path:     "/candidates/{id}/notes",
				Query:    []contract.Param{cursor, pageSize},
				Response: listed(noteFields...),
				Source:   assumed + "(list endpoints: cursor and page_size paging; the order of the notes is not known)",
			},
			{
				Method:   "POST",
				Path:     "/candidates/{id}/notes",
				JSONBody: true,
				Body:     []contract.Param{{Name: "content", Type: contract.String, Required: true}},
				Response: object(noteFields...),
				Source:   assumed + "(create a note on a candidate; no idempotency key or other de-duplication)",
			},
		},
		ErrorFields: []string{"status", "message"},
		ErrorSource: assumed + `(errors are {status:"error", message})`,
	}
	if stageMoves {
		spec.Endpoints = append(spec.Endpoints, contract.Endpoint{
			Method:   "PUT",
			Path:     "/applications/{id}/stage",
			JSONBody: true,
			Body:     []contract.Param{{Name: "stage_id", Type: contract.String, Required: true}},
			Response: object(applicationFields...),
			Source:   assumed + "(move an application to a stage of its job; setting a value, so repeating it changes nothing)",
		})
	}
	return spec
}
