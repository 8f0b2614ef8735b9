package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/sandbox/atsfake"
	"github.com/intake/intake/sync/sandbox/hubspotfake"
)

// connect connects an integration of provider p to its fake and returns its ID.
func connect(t *testing.T, app *apptest.App, key string, p schematype.ProviderKey) string {
	t.Helper()
	var got struct {
		ConnectIntegration struct{ ID, Status string }
	}
	app.Client(key).MustDo(t, `mutation($in: ConnectIntegrationInput!) { connectIntegration(input: $in) { id status } }`,
		map[string]any{"in": map[string]any{"provider": p, "name": string(p), "credentials": app.Fakes.Credentials(p)}}, &got)
	if got.ConnectIntegration.Status != "CONNECTED" {
		t.Fatalf("%s: status %s", p, got.ConnectIntegration.Status)
	}
	return got.ConnectIntegration.ID
}

func post(t *testing.T, url string, h http.Header, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestWebhooks(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		app := apptest.Start(t, db)
		key := app.Key(t, "acme", schematype.RoleAdmin)
		tal := connect(t, app, key, schematype.ProviderTalention)
		hub := connect(t, app, key, schematype.ProviderHubSpot)
		zvo := connect(t, app, key, schematype.ProviderZvoove)
		talURL := app.URL + "/webhooks/talention/" + tal
		hubURL := app.URL + "/webhooks/hubspot/" + hub
		talSecret := app.Fakes.Credentials(schematype.ProviderTalention)["webhookSecret"]
		hubSecret := app.Fakes.Credentials(schematype.ProviderHubSpot)["webhookSecret"]
		talBody := []byte(`{"type":"application.created","data":{"application_id":"app_7"}}`)
		hubBody := []byte(`[{"eventId":1,"subscriptionId":2,"portalId":3,"occurredAt":1700000000000,"subscriptionType":"contact.creation","objectId":100007,"attemptNumber":0}]`)

		// Each refusal must leave the sink untouched.
		assertNoEvents := func(t *testing.T) {
			t.Helper()
			if ev, _ := app.Webhooks.Events(); len(ev) != 0 {
				t.Fatalf("a refused webhook was handed on: %+v", ev)
			}
		}
		refusals := []struct {
			name   string
			url    string
			header http.Header
			body   []byte
			want   int
		}{
			{"talention unsigned", talURL, nil, talBody, 401},
			{"talention wrong secret", talURL, atsfake.SignWebhook("whsec_"+"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "m1", time.Now(), talBody), talBody, 401},
			{"talention stale", talURL, atsfake.SignWebhook(talSecret, "m1", time.Now().Add(-6*time.Minute), talBody), talBody, 401},
			{"talention body changed", talURL, atsfake.SignWebhook(talSecret, "m1", time.Now(), talBody), append([]byte(" "), talBody...), 401},
			{"hubspot unsigned", hubURL, nil, hubBody, 401},
			{"hubspot signed for another URL", hubURL, hubspotfake.SignWebhook(hubSecret, "POST", app.URL+"/other", hubBody, time.Now()), hubBody, 401},
			{"hubspot stale", hubURL, hubspotfake.SignWebhook(hubSecret, "POST", hubURL, hubBody, time.Now().Add(-6*time.Minute)), hubBody, 401},
			{"wrong provider in the path", app.URL + "/webhooks/hubspot/" + tal, atsfake.SignWebhook(talSecret, "m1", time.Now(), talBody), talBody, 404},
			{"unknown integration", app.URL + "/webhooks/talention/int_01JDQ3Z5V6R8W9X0Y1Z2A3B4C5", atsfake.SignWebhook(talSecret, "m1", time.Now(), talBody), talBody, 404},
			{"provider without webhooks", app.URL + "/webhooks/zvoove/" + zvo, nil, talBody, 404},
		}
		for _, tc := range refusals {
			t.Run("refuses "+tc.name, func(t *testing.T) {
				if got := post(t, tc.url, tc.header, tc.body); got != tc.want {
					t.Fatalf("status %d, want %d", got, tc.want)
				}
				assertNoEvents(t)
			})
		}

		t.Run("accepts signed webhooks and hands the events on", func(t *testing.T) {
			if got := post(t, talURL, atsfake.SignWebhook(talSecret, "m2", time.Now(), talBody), talBody); got != http.StatusAccepted {
				t.Fatalf("talention: status %d", got)
			}
			if got := post(t, hubURL, hubspotfake.SignWebhook(hubSecret, "POST", hubURL, hubBody, time.Now()), hubBody); got != http.StatusAccepted {
				t.Fatalf("hubspot: status %d", got)
			}
			ev, ids := app.Webhooks.Events()
			if len(ev) != 2 || ids[0] != tal || ids[1] != hub {
				t.Fatalf("events %+v for %v", ev, ids)
			}
			if ev[0].Type != "application.created" || ev[0].ExternalID != "app_7" {
				t.Errorf("talention event %+v", ev[0])
			}
			if ev[1].Type != "contact.creation" || ev[1].ExternalID != fmt.Sprint(100007) {
				t.Errorf("hubspot event %+v", ev[1])
			}
		})

		t.Run("a disconnected integration takes no webhooks", func(t *testing.T) {
			app.Client(key).MustDo(t, `mutation($id: ID!) { disconnectIntegration(id: $id) { status } }`, map[string]any{"id": tal}, &struct{}{})
			if got := post(t, talURL, atsfake.SignWebhook(talSecret, "m3", time.Now(), talBody), talBody); got != http.StatusNotFound {
				t.Fatalf("status %d, want 404", got)
			}
		})
	})
}
