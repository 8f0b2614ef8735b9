package server_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/schema/schematype"
)

func TestAuthentication(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := apptest.Start(t, db)
		admin := app.Key(t, "acme", schematype.RoleAdmin)
		reader := app.Key(t, "acme", schematype.RoleViewer)

		t.Run("no key is refused with 401 UNAUTHENTICATED", func(t *testing.T) {
			r := app.Client("").Do(t, `{ viewer { role } }`, nil)
			if r.Status != http.StatusUnauthorized || r.Code() != "UNAUTHENTICATED" {
				t.Fatalf("status %d code %q", r.Status, r.Code())
			}
		})
		t.Run("an unknown key is refused", func(t *testing.T) {
			r := app.Client("ik_not-a-key").Do(t, `{ viewer { role } }`, nil)
			if r.Status != http.StatusUnauthorized || r.Code() != "UNAUTHENTICATED" {
				t.Fatalf("status %d code %q", r.Status, r.Code())
			}
		})
		t.Run("the viewer is the key's organization and role", func(t *testing.T) {
			var got struct {
				Viewer struct {
					Organization struct{ Name string }
					Role         string
				}
			}
			app.Client(reader).MustDo(t, `{ viewer { organization { name } role } }`, nil, &got)
			if got.Viewer.Organization.Name != "acme" || got.Viewer.Role != "VIEWER" {
				t.Fatalf("viewer = %+v", got.Viewer)
			}
		})
		t.Run("a VIEWER key cannot mutate and changes nothing", func(t *testing.T) {
			r := app.Client(reader).Do(t, `mutation { createCampaign(input: {name: "x"}) { id } }`, nil)
			if r.Code() != "FORBIDDEN" {
				t.Fatalf("code %q, errors %+v", r.Code(), r.Errors)
			}
			var got struct{ Campaigns struct{ TotalCount int } }
			app.Client(admin).MustDo(t, `{ campaigns { totalCount } }`, nil, &got)
			if got.Campaigns.TotalCount != 0 {
				t.Fatalf("%d campaigns exist after a refused mutation", got.Campaigns.TotalCount)
			}
		})
		t.Run("websocket without a key is closed and runs nothing", func(t *testing.T) {
			for _, proto := range []string{apptest.TransportWS, apptest.LegacyWS} {
				ws, _, err := app.Dial(t, proto, "")
				if err != nil {
					t.Fatal(err)
				}
				ws.Init("")
				ws.Subscribe("1", `subscription { campaignEvents(campaignID: "cmp_01JDQ3Z5V6R8W9X0Y1Z2A3B4C5") { __typename } }`, nil)
				// The server answers with no ack and no data, only the close.
				for {
					m, err := ws.Read(10 * time.Second)
					if err != nil {
						var ce *websocket.CloseError
						if !errors.As(err, &ce) {
							t.Fatalf("%s: socket ended without a close frame: %v", proto, err)
						}
						if proto == apptest.TransportWS && ce.Code != 4403 {
							t.Fatalf("%s: close code %d, want 4403", proto, ce.Code)
						}
						break
					}
					if m.Type == "connection_ack" || m.Type == "next" || m.Type == "data" {
						t.Fatalf("%s: unauthenticated socket got %s %s", proto, m.Type, m.Payload)
					}
				}
			}
		})
	})
}
