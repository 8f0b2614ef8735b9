package zvoovefake

import "github.com/intake/intake/sync/sandbox/contract"

// spec names the document the facts below come from.
const spec = `zvoove OpenAPI 3 "Temp staffing germany", https://api.zvoove.cloud, `

// Contract is what zvoove documents of the endpoints the fake serves, each
// with its source. The fake's Handler checks all traffic against it.
var Contract = contract.Spec{
	Provider: "zvoove",
	Endpoints: []contract.Endpoint{
		{
			Method: "POST", Path: TokenPath,
			Response:    []string{"access_token", "token_type", "expires_in"},
			ErrorFields: []string{"error"}, // RFC 6749 section 5.2
			Source: "OAuth 2.0 client credentials (RFC 6749 section 4.4) at https://sso.zvoove.cloud/connect/token, scope api_gateway; " +
				"the form body is not JSON, so its fields are not checked here",
		},
		{
			Method: "GET", Path: "/temp-staffing-de/v1/departments",
			Query: []contract.Param{
				{Name: "Active", Type: contract.Boolean},
				{Name: "PageNumber", Type: contract.Integer, Min: contract.Int(0)},
				{Name: "PageSize", Type: contract.Integer, Min: contract.Int(1)},
			},
			Response: []string{"[]", "[].id", "[].name", "[].name2", "[].description", "[].active"},
			Source: spec + "GET /temp-staffing-de/v1/departments (a JSON array, no paging metadata; " +
				"whether PageNumber counts from 0 or 1 is not stated, hence Min 0)",
		},
		{
			Method: "GET", Path: "/temp-staffing-de/v1/candidates",
			Query: []contract.Param{
				{Name: "CreatedAfter", Type: contract.Date},
				{Name: "OfficeIds", Type: contract.Integer, Required: true, Repeated: true},
				{Name: "PageNumber", Type: contract.Integer, Min: contract.Int(0)},
				{Name: "PageSize", Type: contract.Integer, Min: contract.Int(1)},
			},
			Response: []string{"[]", "[].candidateId", "[].name", "[].status", "[].officeId", "[].entryDate"},
			Source: spec + "GET /temp-staffing-de/v1/candidates (CreatedAfter, OfficeIds; a JSON array without paging metadata). " +
				"PageNumber and PageSize ASSUMED: not documented for this list; clients send them as on departments " +
				"and must treat the list as unpaged unless the answers prove otherwise",
		},
		{
			Method: "GET", Path: "/temp-staffing-de/v2/candidates/changelog",
			Query: []contract.Param{
				{Name: "From", Type: contract.DateTime},
				{Name: "To", Type: contract.DateTime},
				{Name: "LastId", Type: contract.Integer, Min: contract.Int(0)},
				{Name: "OnlyLatestPerCandidate", Type: contract.Boolean},
				{Name: "PageSize", Type: contract.Integer, Min: contract.Int(1), Max: contract.Int(MaxChangelogPageSize)},
				{Name: "PageNumber", Type: contract.Integer, Min: contract.Int(0)},
			},
			Response: []string{
				"metadata.pageNumber", "metadata.pageSize", "metadata.totalPages", "metadata.totalRecords",
				"data[].id", "data[].candidateId", "data[].status", "data[].lastEditDate",
			},
			Source: spec + "GET /temp-staffing-de/v2/candidates/changelog (LastId or From/To, not both; PageSize at most 20 on SaaS, " +
				"at most 10 on-premises; the v1 change log is deprecated since 19.04.2026; the PageNumber base is not stated)",
		},
		{
			Method: "GET", Path: "/temp-staffing-de/v2/candidates/{id}",
			Response: []string{"id", "candidateGuid", "officeId", "firstName", "lastName", "email", "profession",
				"address.cityName", "address.countryCode", "address.phone1", "address.phone2"},
			Source: spec + "GET /temp-staffing-de/v2/candidates/{id} (phones in address.phone1 and address.phone2; " +
				"profession, address {zipCode, streetAddress, cityName, countryCode}; null when unknown)",
		},
		{
			Method: "POST", Path: "/temp-staffing-de/v1/candidates/{id}/contacts",
			JSONBody: true,
			Body: []contract.Param{
				{Name: "subject", Type: contract.String},
				{Name: "content", Type: contract.String},
			},
			Response: []string{"id", "candidateId"},
			Source:   "ASSUMED: the contact note's body and answer are not documented; Intake sends none today",
		},
	},
	ErrorFields: []string{"type", "title", "status"},
	ErrorSource: spec + "error responses are RFC 7807 problem details {type, title, status, detail, instance}; ASP.NET validation " +
		"errors add errors {Field: [message]}; the token endpoint answers OAuth 2.0 errors {error, error_description} (RFC 6749 section 5.2)",
}
