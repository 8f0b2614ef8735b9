package server_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/schema/schematype"
)

// TestContactNodeJoinsItsCampaign: node(id) of a contact that asks of its
// campaign only plain columns reads both in one statement, and answers
// what ent's two statements answer, on both databases; a selection that
// asks for more, a missing contact and another organization's contact are
// answered as before.
func TestContactNodeJoinsItsCampaign(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		e := subSetup(t, db)
		attrs, err := schematype.ObjectOf(map[string]any{"position": "Pflege & Betreuung"})
		if err != nil {
			t.Fatal(err)
		}
		c, err := e.app.DB.Store.Client.Contact.Create().SetCampaignID(e.campaign).
			SetPhoneE164("+4915100000007").SetPhoneRaw("0151 00000007").SetExternalID("x-7").
			SetFirstName("Anna").SetAttributes(attrs).Save(e.ctx())
		if err != nil {
			t.Fatal(err)
		}
		admin := e.app.Client(e.adminKey)
		queries := orgQueries(e.app, e.org)
		ask := func(query string) (json.RawMessage, int64) {
			t.Helper()
			before := queries.Load()
			r := admin.Do(t, query, map[string]any{"id": c.ID})
			if len(r.Errors) > 0 {
				t.Fatalf("%s: %+v", query, r.Errors)
			}
			return r.Data, queries.Load() - before
		}
		const contactFields = `id __typename ... on Contact { phoneE164 phoneRaw firstName lastName email externalID attributes createdAt
			campaign { id name phoneRegion __typename } } `
		joined, n := ask(`query($id: ID!) { node(id: $id) { ` + contactFields + `} }`)
		if n != 1 {
			t.Errorf("the contact and its campaign took %d queries, want 1", n)
		}
		// Asking for the campaign's creation time too (not a text column)
		// takes ent's two statements; the rest is the same.
		var two struct {
			Node map[string]any `json:"node"`
		}
		data, n := ask(`query($id: ID!) { node(id: $id) { ` + contactFields + `... on Contact { campaign { createdAt } } } }`)
		if n < 2 {
			t.Errorf("ent's path took %d queries, want 2 or more", n)
		}
		if err := json.Unmarshal(data, &two); err != nil {
			t.Fatal(err)
		}
		delete(two.Node["campaign"].(map[string]any), "createdAt")
		var one struct {
			Node map[string]any `json:"node"`
		}
		if err := json.Unmarshal(joined, &one); err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(one.Node)
		b, _ := json.Marshal(two.Node)
		if !bytes.Equal(a, b) {
			t.Errorf("joined: %s\nent:    %s", a, b)
		}
		if camp := one.Node["campaign"].(map[string]any); camp["id"] != string(e.campaign) || camp["name"] != "subscriptions" || camp["phoneRegion"] != "DE" {
			t.Errorf("campaign %v", camp)
		}

		// Aliases, a campaign asked for twice, and its ID alone.
		data, n = ask(`query($id: ID!) { node(id: $id) { ... on Contact { a: campaign { n: name } b: campaign { id name } c: campaign { __typename } } } }`)
		if n != 1 || string(data) != `{"node":{"a":{"n":"subscriptions"},"b":{"id":"`+string(e.campaign)+`","name":"subscriptions"},"c":{"__typename":"Campaign"}}}` {
			t.Errorf("aliases: %s in %d queries", data, n)
		}

		// And on ent's path (createdAt is not joined): the second alias's
		// query of the campaign used to replace the first's, whose name
		// then answered "".
		data, _ = ask(`query($id: ID!) { node(id: $id) { ... on Contact { a: campaign { n: name } b: campaign { id createdAt } } } }`)
		var aliased struct {
			Node struct {
				A struct{ N string }
				B struct {
					ID        string
					CreatedAt string
				}
			}
		}
		if err := json.Unmarshal(data, &aliased); err != nil {
			t.Fatal(err)
		}
		if aliased.Node.A.N != "subscriptions" || aliased.Node.B.ID != string(e.campaign) || aliased.Node.B.CreatedAt == "" {
			t.Errorf("aliases on ent's path: %s", data)
		}

		// Not found, and another organization's contact: null and
		// NOT_FOUND, as ent's Noder answers.
		for _, who := range []struct {
			name, key string
		}{{"a missing contact", e.adminKey}, {"another organization", e.app.Key(t, "contact-node-other", schematype.RoleAdmin)}} {
			id := c.ID
			if who.name == "a missing contact" {
				id = "con_01JDQ3Z5V6R8W9X0Y1Z2A3B4C5"
			}
			r := e.app.Client(who.key).Do(t, `query($id: ID!) { node(id: $id) { ... on Contact { phoneE164 campaign { name } } } }`, map[string]any{"id": id})
			if string(r.Data) != `{"node":null}` || r.Code() != "NOT_FOUND" {
				t.Errorf("%s: %s %+v", who.name, r.Data, r.Errors)
			}
		}
	})
}
