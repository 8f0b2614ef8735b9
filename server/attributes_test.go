package server_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/schema/schematype"
)

// TestContactAttributesRoundTrip: a contact's attributes come back over
// HTTP as the object that was stored, on both databases, although they go
// from the database to the answer without being decoded: compact (jsonb
// prints a space after every colon and comma), with <, > and & escaped
// as in every answer, and values of every JSON type intact.
func TestContactAttributesRoundTrip(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		e := subSetup(t, db)
		stored := map[string]any{
			"position": `Koch <m/w/d> & "Chef"`,
			"tags":     []any{"a", "b c", map[string]any{"nested": []any{1.5, true, nil}}},
			"empty":    map[string]any{},
			"unicode":  "é ☎ \u2028 \u0001",
			"n":        -12.5e3,
		}
		attrs, err := schematype.ObjectOf(stored)
		if err != nil {
			t.Fatal(err)
		}
		c, err := e.app.DB.Store.Client.Contact.Create().SetCampaignID(e.campaign).
			SetPhoneE164("+4915100000001").SetPhoneRaw("0151 00000001").SetExternalID("x-1").
			SetAttributes(attrs).Save(e.ctx())
		if err != nil {
			t.Fatal(err)
		}
		// Stored by ent with its default: the empty object.
		if _, err := e.app.DB.Store.Client.Contact.Create().SetCampaignID(e.campaign).
			SetPhoneE164("+4915100000002").SetPhoneRaw("0151 00000002").SetExternalID("x-2").Save(e.ctx()); err != nil {
			t.Fatal(err)
		}

		resp := e.app.Client(e.adminKey).Do(t, `query($id: ID!) { node(id: $id) { ... on Campaign {
			contacts(first: 10) { edges { node { id externalID attributes } } } } } }`, map[string]any{"id": e.campaign})
		var got struct {
			Node struct {
				Contacts struct {
					Edges []struct {
						Node struct {
							ID         string
							ExternalID string
							Attributes json.RawMessage
						}
					}
				}
			}
		}
		resp.Decode(t, &got)
		byExt := map[string]json.RawMessage{}
		for _, edge := range got.Node.Contacts.Edges {
			byExt[edge.Node.ExternalID] = edge.Node.Attributes
		}
		var back map[string]any
		if err := json.Unmarshal(byExt["x-1"], &back); err != nil {
			t.Fatalf("contact %s's attributes %s: %v", c.ID, byExt["x-1"], err)
		}
		if !reflect.DeepEqual(back, stored) {
			t.Errorf("attributes came back as %v, want %v", back, stored)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, byExt["x-1"]); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(compact.Bytes(), byExt["x-1"]) {
			t.Errorf("attributes not compact: %s", byExt["x-1"])
		}
		for _, c := range []string{"<", ">", "&"} {
			if bytes.Contains(resp.Data, []byte(c)) {
				t.Errorf("the answer holds %q unescaped: %s", c, resp.Data)
			}
		}
		if string(byExt["x-2"]) != "{}" {
			t.Errorf("a contact created without attributes has %s, want {}", byExt["x-2"])
		}
	})
}
