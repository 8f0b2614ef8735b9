package hubspotfake

import "github.com/intake/intake/sync/sandbox/contract"

// Documents the facts come from.
const (
	docContacts     = "developers.hubspot.com/docs/api/crm/contacts (CRM API v3, Contacts; OpenAPI spec \"CRM > Contacts\" v3)"
	docSearch       = "developers.hubspot.com/docs/api/crm/search (limit at most 200 per page, 10,000 results per query)"
	docLists        = "developers.hubspot.com/docs/api/crm/lists (Lists API v3, memberships: limit at most 250)"
	docCalls        = "developers.hubspot.com/docs/api/crm/calls (Engagements > Calls v3; OpenAPI spec \"CRM > Calls\" v3)"
	docBatchRead    = "developers.hubspot.com/docs/api/crm/calls, \"Retrieve calls\" batch read (inputs at most 100; 200 BatchResponseSimplePublicObject, 207 BatchResponseSimplePublicObjectWithErrors with numErrors and errors)"
	docAssociations = "developers.hubspot.com/docs/api/crm/associations (Associations API v4, \"List\" associations of a record: limit default and maximum 500, paging.next.after)"
)

// objectQuery are the query parameters of reading one CRM object.
var objectQuery = []contract.Param{
	{Name: "properties", Type: contract.String, Repeated: true},
	{Name: "propertiesWithHistory", Type: contract.String, Repeated: true},
	{Name: "associations", Type: contract.String, Repeated: true},
	{Name: "archived", Type: contract.Boolean},
	{Name: "idProperty", Type: contract.String},
}

// batchReadBody is the body of a CRM batch read. The checker sees top-level
// fields only: the bound of 1 to 100 inputs is checked by the fake itself,
// which answers more with a 400.
var batchReadBody = []contract.Param{
	{Name: "inputs", Type: contract.Array, Required: true},
	{Name: "properties", Type: contract.Array},
	{Name: "propertiesWithHistory", Type: contract.Array},
	{Name: "idProperty", Type: contract.String},
}

// object are the fields of a CRM object (SimplePublicObject).
var object = []string{"id", "properties", "createdAt", "updatedAt", "archived"}

// each prefixes fields with an array path: each("results[]", "id").
func each(array string, fields ...string) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = array + "." + f
	}
	return out
}

// Contract is what HubSpot documents of the endpoints the fake serves.
// paging.next.after is left out of the answers: it is there only when
// another page follows.
var Contract = contract.Spec{
	Provider: "HubSpot",
	Endpoints: []contract.Endpoint{
		{
			Method: "GET", Path: "/crm/v3/objects/contacts",
			Query: []contract.Param{
				{Name: "limit", Type: contract.Integer, Min: contract.Int(1), Max: contract.Int(100)},
				{Name: "after", Type: contract.String},
				{Name: "properties", Type: contract.String, Repeated: true},
				{Name: "propertiesWithHistory", Type: contract.String, Repeated: true},
				{Name: "associations", Type: contract.String, Repeated: true},
				{Name: "archived", Type: contract.Boolean},
			},
			Response: each("results[]", object...),
			Source: docContacts + ", GET /crm/v3/objects/contacts (archived=true: \"Whether to return only results that have been archived\"; " +
				"those carry archived: true and archivedAt)",
		},
		{
			Method: "GET", Path: "/crm/v3/objects/contacts/{contactId}",
			Query:    objectQuery,
			Response: object,
			Source:   docContacts + ", GET /crm/v3/objects/contacts/{contactId}",
		},
		{
			Method: "PATCH", Path: "/crm/v3/objects/contacts/{contactId}",
			Query:    []contract.Param{{Name: "idProperty", Type: contract.String}},
			JSONBody: true,
			Body:     []contract.Param{{Name: "properties", Type: contract.Object, Required: true}},
			Response: object,
			Source:   docContacts + ", PATCH /crm/v3/objects/contacts/{contactId}",
		},
		{
			Method: "POST", Path: "/crm/v3/objects/contacts/search",
			JSONBody: true,
			Body: []contract.Param{
				{Name: "filterGroups", Type: contract.Array},
				{Name: "sorts", Type: contract.Array},
				{Name: "properties", Type: contract.Array},
				{Name: "limit", Type: contract.Integer, Min: contract.Int(0), Max: contract.Int(200)},
				{Name: "after", Type: contract.String},
				{Name: "query", Type: contract.String},
			},
			Response: append([]string{"total"}, each("results[]", object...)...),
			Source: docSearch + ", POST /crm/v3/objects/contacts/search; results carry the properties named in properties " +
				"(null when unset) and the defaults; contact properties used: firstname, lastname, email, phone, mobilephone, " +
				"createdate, lastmodifieddate, jobtitle, company, industry, lifecyclestage, hs_lead_status, city, country " +
				"(knowledge.hubspot.com/properties/hubspots-default-contact-properties)",
		},
		{
			Method: "POST", Path: "/crm/v3/objects/contacts/batch/read",
			Query:    []contract.Param{{Name: "archived", Type: contract.Boolean}},
			JSONBody: true,
			Body:     batchReadBody,
			Response: append([]string{"status", "startedAt", "completedAt"}, each("results[]", object...)...),
			Source: docContacts + ", POST /crm/v3/objects/contacts/batch/read (inputs at most 100; results carry the properties " +
				"named in properties, null when unset, and the defaults)",
		},
		{
			Method: "POST", Path: "/crm/v3/lists/search",
			JSONBody: true,
			Body: []contract.Param{
				{Name: "query", Type: contract.String},
				{Name: "offset", Type: contract.Integer, Min: contract.Int(0)},
				{Name: "count", Type: contract.Integer, Min: contract.Int(0), Max: contract.Int(500)},
				{Name: "listIds", Type: contract.Array},
				{Name: "processingTypes", Type: contract.Array},
				{Name: "additionalProperties", Type: contract.Array},
			},
			Response: []string{"lists", "offset", "hasMore"},
			Source:   "ASSUMED: the path and shape of the list search are our notes' reading of " + docLists + ", not checked against the reference",
		},
		{
			Method: "GET", Path: "/crm/v3/lists/{listId}/memberships",
			Query: []contract.Param{
				{Name: "limit", Type: contract.Integer, Min: contract.Int(1), Max: contract.Int(250)},
				{Name: "after", Type: contract.String},
				{Name: "before", Type: contract.String},
			},
			Response: each("results[]", "recordId", "membershipTimestamp"),
			Source:   docLists + ", GET /crm/v3/lists/{listId}/memberships",
		},
		{
			Method: "POST", Path: "/crm/v3/objects/calls",
			JSONBody: true,
			Body: []contract.Param{
				{Name: "properties", Type: contract.Object, Required: true},
				{Name: "associations", Type: contract.Array},
			},
			Response: object,
			Source:   docCalls + ", POST /crm/v3/objects/calls (no idempotency key is documented)",
		},
		{
			Method: "GET", Path: "/crm/v3/objects/calls/{callId}",
			Query:    objectQuery,
			Response: object,
			Source:   docCalls + ", GET /crm/v3/objects/calls/{callId}",
		},
		{
			Method: "POST", Path: "/crm/v3/objects/calls/batch/read",
			Query:    []contract.Param{{Name: "archived", Type: contract.Boolean}},
			JSONBody: true,
			Body:     batchReadBody,
			Response: append([]string{"status", "startedAt", "completedAt"}, each("results[]", object...)...),
			Source:   docBatchRead + ", POST /crm/v3/objects/calls/batch/read",
		},
		{
			Method: "GET", Path: "/crm/v4/objects/contacts/{contactId}/associations/calls",
			Query: []contract.Param{
				{Name: "limit", Type: contract.Integer, Min: contract.Int(1), Max: contract.Int(500)},
				{Name: "after", Type: contract.String},
			},
			Response: append(each("results[]", "toObjectId"),
				each("results[].associationTypes[]", "category", "typeId", "label")...),
			Source: docAssociations + ", GET /crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}",
		},
	},
	// category is not among them: HubSpot's documented 429 has errorType
	// and policyName instead (developers.hubspot.com/docs/api/usage-details).
	ErrorFields: []string{"status", "message", "correlationId"},
	ErrorSource: "developers.hubspot.com/docs/api/error-handling ({status: \"error\", message, correlationId, category}); 429: developers.hubspot.com/docs/api/usage-details ({status, message, errorType: \"RATE_LIMIT\", correlationId, policyName})",
}
