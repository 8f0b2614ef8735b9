package server_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/gorilla/websocket"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/syncrun"
	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/server"
)

// The websocket limits are about sockets, not data: these tests run on
// SQLite only.

// wsStart runs an app with the websocket limits and origins given.
func wsStart(t *testing.T, limits server.WebsocketLimits, origins ...string) *apptest.App {
	t.Helper()
	app := apptest.Start(t, dbtest.Open(t, dialect.SQLite), func(c *server.Config) {
		c.Websocket = limits
		c.AllowedOrigins = origins
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("app log:\n%s", app.Logs())
		}
	})
	return app
}

// wsConn is a GraphQL websocket client on gorilla/websocket itself, for
// what apptest.WS does not do: close the socket, or leave pings unanswered.
type wsConn struct {
	t     *testing.T
	c     *websocket.Conn
	proto string
}

// wsDial opens a websocket to the app's /graphql with the subprotocol and
// an Origin header (none when origin is "").
func wsDial(t *testing.T, app *apptest.App, proto, origin string) (*wsConn, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	d := websocket.Dialer{Subprotocols: []string{proto}, HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial("ws"+strings.TrimPrefix(app.URL, "http")+"/graphql", h)
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { c.Close() })
	return &wsConn{t: t, c: c, proto: proto}, resp, nil
}

// wsConnect dials and sends connection_init with key, without waiting for
// the answer.
func wsConnect(t *testing.T, app *apptest.App, proto, key string) *wsConn {
	t.Helper()
	w, _, err := wsDial(t, app, proto, "")
	if err != nil {
		t.Fatalf("dialing: %v", err)
	}
	w.send("connection_init", "", map[string]any{"Authorization": "Bearer " + key})
	return w
}

// wsAcked connects and waits for connection_ack.
func wsAcked(t *testing.T, app *apptest.App, proto, key string) *wsConn {
	t.Helper()
	w := wsConnect(t, app, proto, key)
	if m, err := w.read(5 * time.Second); err != nil || m.Type != "connection_ack" {
		t.Fatalf("connection_init answered %+v, %v", m, err)
	}
	return w
}

func (w *wsConn) send(typ, id string, payload any) {
	w.t.Helper()
	raw, err := json.Marshal(payload)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := w.c.WriteJSON(apptest.Message{Type: typ, ID: id, Payload: raw}); err != nil {
		w.t.Fatalf("websocket write: %v", err)
	}
}

// subscribe starts an operation (subscription or query) with the id.
func (w *wsConn) subscribe(id, query string, vars map[string]any) {
	w.t.Helper()
	typ := "subscribe"
	if w.proto == apptest.LegacyWS {
		typ = "start"
	}
	w.send(typ, id, map[string]any{"query": query, "variables": vars})
}

// complete ends an operation from the client's side.
func (w *wsConn) complete(id string) {
	w.t.Helper()
	typ := "complete"
	if w.proto == apptest.LegacyWS {
		typ = "stop"
	}
	w.c.WriteJSON(apptest.Message{Type: typ, ID: id})
}

// read returns the next message other than the legacy keep-alive, or the
// error that ended the connection.
func (w *wsConn) read(timeout time.Duration) (apptest.Message, error) {
	if err := w.c.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return apptest.Message{}, err
	}
	for {
		var m apptest.Message
		if err := w.c.ReadJSON(&m); err != nil {
			return m, err
		}
		if m.Type != "ka" {
			return m, nil
		}
	}
}

// closeCode reads until the server ends the connection and returns its
// close code, failing when it ends without a close frame.
func (w *wsConn) closeCode(timeout time.Duration) int {
	w.t.Helper()
	for {
		m, err := w.read(timeout)
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			w.t.Fatalf("the connection ended without a close frame: %v (last message %+v)", err, m)
		}
		return ce.Code
	}
}

// wantNext reads the next message, which must be a result of operation id.
func (w *wsConn) wantNext(id string) json.RawMessage {
	w.t.Helper()
	m, err := w.read(5 * time.Second)
	want := "next"
	if w.proto == apptest.LegacyWS {
		want = "data"
	}
	if err != nil || m.Type != want || m.ID != id {
		w.t.Fatalf("got %s %s %s (%v), want %s for %s", m.Type, m.ID, m.Payload, err, want, id)
	}
	var d apptest.Data
	if err := json.Unmarshal(m.Payload, &d); err != nil || len(d.Errors) > 0 {
		w.t.Fatalf("%s for %s: %s (%v)", want, id, m.Payload, err)
	}
	return d.Data
}

// wantWorking runs a query over the socket: it must answer.
func (w *wsConn) wantWorking(id string) {
	w.t.Helper()
	w.subscribe(id, `{ viewer { organization { id } } }`, nil)
	if data := w.wantNext(id); !strings.Contains(string(data), `"organization":{"id":"`) {
		w.t.Fatalf("query over the socket answered %s", data)
	}
}

var wsProtocols = []string{apptest.TransportWS, apptest.LegacyWS}

func TestWebsocketOrigins(t *testing.T) {
	t.Parallel()
	const allowed = "https://app.example.com"
	app := wsStart(t, server.WebsocketLimits{}, allowed)
	key := app.Key(t, "origins", schematype.RoleAdmin)
	host := strings.TrimPrefix(app.URL, "http://") // 127.0.0.1:PORT
	cases := []struct {
		name, origin string
		ok           bool
	}{
		{"same origin", "http://" + host, true},
		{"allowed in INTAKE_ALLOWED_ORIGINS", allowed, true},
		{"allowed, written in upper case", strings.ToUpper(allowed), true},
		// A browser always sends Origin with a websocket handshake; a
		// request without one comes from a program that sets its headers
		// as it likes. It carries no ambient credentials (no cookies: the
		// API key travels in connection_init), so refusing it would protect
		// nothing.
		{"missing", "", true},
		{"other host", "http://evil.example", false},
		{"other host name for the same address", "http://localhost:" + strings.Split(host, ":")[1], false},
		{"other port", "http://127.0.0.1:1", false},
		{"other scheme: https to a server reached over http", "https://" + host, false},
		{"other scheme of an allowed origin", "http://app.example.com", false},
		{"malformed", "::::", false},
		{"malformed: null", "null", false},
		{"malformed: no scheme", host, false},
		{"malformed: a websocket scheme", "ws://" + host, false},
		{"malformed: with a path", "http://" + host + "/graphql", false},
		{"malformed: with user info", "http://user@" + host, false},
		{"malformed: the host as user info", "http://" + host + "@evil.example", false},
	}
	for _, proto := range wsProtocols {
		for _, tc := range cases {
			t.Run(proto+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				w, resp, err := wsDial(t, app, proto, tc.origin)
				if !tc.ok {
					// Refused before the handshake: an HTTP answer, no socket.
					if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil || resp.StatusCode != http.StatusForbidden {
						t.Fatalf("origin %q: %v, response %+v; want HTTP 403", tc.origin, err, resp)
					}
					return
				}
				if err != nil {
					t.Fatalf("origin %q refused: %v", tc.origin, err)
				}
				if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-Websocket-Protocol") != proto {
					t.Fatalf("origin %q: status %d, subprotocol %q", tc.origin, resp.StatusCode, resp.Header.Get("Sec-Websocket-Protocol"))
				}
				w.send("connection_init", "", map[string]any{"Authorization": "Bearer " + key})
				if m, err := w.read(5 * time.Second); err != nil || m.Type != "connection_ack" {
					t.Fatalf("origin %q: connection_init answered %+v, %v", tc.origin, m, err)
				}
			})
		}
	}
}

func TestWebsocketInitTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	app := wsStart(t, server.WebsocketLimits{InitTimeout: timeout})
	key := app.Key(t, "init-timeout", schematype.RoleAdmin)
	for _, proto := range wsProtocols {
		t.Run(proto+"/a socket without connection_init is closed with 4408", func(t *testing.T) {
			t.Parallel()
			w, _, err := wsDial(t, app, proto, "")
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if code := w.closeCode(10 * time.Second); code != 4408 {
				t.Fatalf("close code %d, want 4408", code)
			}
			if took := time.Since(start); took < timeout-50*time.Millisecond || took > timeout+2*time.Second {
				t.Fatalf("closed after %s, want about %s", took, timeout)
			}
		})
		t.Run(proto+"/a socket initialised in time stays open past the timeout", func(t *testing.T) {
			t.Parallel()
			w := wsAcked(t, app, proto, key)
			time.Sleep(3 * timeout)
			w.wantWorking("q")
		})
	}
}

func TestWebsocketPingPong(t *testing.T) {
	t.Parallel()
	limits := server.WebsocketLimits{PingInterval: 200 * time.Millisecond, PongTimeout: 300 * time.Millisecond}
	bound := limits.PingInterval + limits.PongTimeout
	app := wsStart(t, limits)
	key := app.Key(t, "ping-pong", schematype.RoleAdmin)
	for _, proto := range wsProtocols {
		t.Run(proto+"/a peer that does not answer pings is dropped", func(t *testing.T) {
			t.Parallel()
			w := wsConnect(t, app, proto, key)
			pings := 0
			w.c.SetPingHandler(func(string) error { pings++; return nil }) // no pong
			if m, err := w.read(5 * time.Second); err != nil || m.Type != "connection_ack" {
				t.Fatalf("connection_init answered %+v, %v", m, err)
			}
			acked := time.Now()
			_, err := w.read(bound + 5*time.Second)
			took := time.Since(acked)
			var ne net.Error
			if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
				t.Fatalf("the peer is still connected %s after its connection_ack (%v)", took, err)
			}
			if pings == 0 {
				t.Fatal("the server sent no ping")
			}
			if took < bound-100*time.Millisecond || took > bound+2*time.Second {
				t.Fatalf("dropped %s after connection_ack (%v), want about PingInterval+PongTimeout = %s", took, err, bound)
			}
		})
		t.Run(proto+"/a peer that answers pings stays connected", func(t *testing.T) {
			t.Parallel()
			w := wsConnect(t, app, proto, key)
			var pings atomic.Int64
			w.c.SetPingHandler(func(data string) error {
				pings.Add(1)
				_ = w.c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
				return nil
			})
			if m, err := w.read(5 * time.Second); err != nil || m.Type != "connection_ack" {
				t.Fatalf("connection_init answered %+v, %v", m, err)
			}
			// Control frames are handled while reading: read in the
			// background for several times the bound.
			_ = w.c.SetReadDeadline(time.Time{})
			msgs, errc := make(chan apptest.Message, 8), make(chan error, 1)
			go func() {
				for {
					var m apptest.Message
					if err := w.c.ReadJSON(&m); err != nil {
						errc <- err
						return
					}
					if m.Type != "ka" {
						msgs <- m
					}
				}
			}()
			stay := 4 * bound
			select {
			case err := <-errc:
				t.Fatalf("dropped while answering pings: %v", err)
			case m := <-msgs:
				t.Fatalf("got %+v while idle", m)
			case <-time.After(stay):
			}
			if n := pings.Load(); n < int64(stay/limits.PingInterval)-2 {
				t.Fatalf("%d pings in %s, want one every %s", n, stay, limits.PingInterval)
			}
			w.subscribe("q", `{ viewer { organization { id } } }`, nil)
			select {
			case err := <-errc:
				t.Fatalf("dropped: %v", err)
			case m := <-msgs:
				if m.ID != "q" || (m.Type != "next" && m.Type != "data") {
					t.Fatalf("query over the socket answered %+v", m)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("query over the socket not answered")
			}
		})
	}
}

// wsRunEnv is a subEnv (see subscriptions_test.go) on an app with the
// websocket limits given.
func wsRunEnv(t *testing.T, limits server.WebsocketLimits) *subEnv {
	t.Helper()
	app := wsStart(t, limits)
	org := string(pulid.New("org"))
	e := &subEnv{app: app, adminKey: app.Key(t, org, schematype.RoleAdmin)}
	admin := app.Client(e.adminKey)
	e.org = isoOrgID(t, admin)
	e.campaign = isoCreateCampaign(t, admin, "websocket limits")
	e.integ = isoConnect(t, app, admin, schematype.ProviderTalention, "Talention")
	e.trigger = isoConfigureTalention(t, admin, e.campaign, e.integ).ID
	return e
}

func TestWebsocketWriteTimeout(t *testing.T) {
	t.Parallel()
	e := wsRunEnv(t, server.WebsocketLimits{WriteTimeout: 300 * time.Millisecond})
	e.heavyContacts(t)
	run := e.newRun(t, syncrun.StatusRUNNING)
	stalled := e.app.Connect(t, "graphql-transport-ws", e.adminKey)
	stalled.Subscribe("e", subHeavyEventsQuery, map[string]any{"id": e.campaign})
	isoWaitSubscribers(t, e.app, 1)

	// The client reads nothing while the run moves on: once the socket's
	// buffers are full, the server's write waits WriteTimeout and the
	// server drops the socket and its subscription.
	deadline := time.Now().Add(30 * time.Second)
	for step := 1; e.app.Broker.Subscribers() != 0; step++ {
		if time.Now().After(deadline) {
			t.Fatalf("after %d heavy events the unread socket still holds its subscription", step)
		}
		e.updateRun(t, run.ID, func(u *ent.SyncRunUpdateOne) { u.SetImported(step) })
		time.Sleep(50 * time.Millisecond)
	}
	for {
		_, err := stalled.Read(10 * time.Second)
		if err == nil {
			continue // what the buffers held
		}
		if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the server dropped the subscription but left the socket open")
		}
		break
	}

	// A client that reads is served as before.
	ws := e.app.Connect(t, "graphql-transport-ws", e.adminKey)
	ws.Subscribe("p", subProgressQuery, map[string]any{"id": run.ID})
	if p := subNextProgress(t, ws, "p"); p.Run.ID != run.ID || p.Done {
		t.Fatalf("first message %+v, want the running run", p)
	}
}

func TestWebsocketSubscriptionCap(t *testing.T) {
	t.Parallel()
	e := wsRunEnv(t, server.WebsocketLimits{MaxSubscriptions: 2})
	run := e.newRun(t, syncrun.StatusQUEUED) // syncProgress sends its state, then stays open
	vars := map[string]any{"id": run.ID}
	for _, proto := range wsProtocols {
		t.Run(proto, func(t *testing.T) {
			w := wsAcked(t, e.app, proto, e.adminKey)
			w.subscribe("a", subProgressQuery, vars)
			w.wantNext("a")
			w.subscribe("b", subProgressQuery, vars)
			w.wantNext("b")

			w.subscribe("c", subProgressQuery, vars)
			m, err := w.read(5 * time.Second)
			if err != nil || m.Type != "error" || m.ID != "c" {
				t.Fatalf("third subscription answered %+v, %v; want an error message for c", m, err)
			}
			var errs []apptest.Error
			if err := json.Unmarshal(m.Payload, &errs); err != nil || len(errs) != 1 ||
				errs[0].Extensions.Code != "RATE_LIMITED" || !strings.Contains(errs[0].Message, "2 subscriptions") {
				t.Fatalf("error payload %s, want one RATE_LIMITED error naming the cap", m.Payload)
			}
			t.Run("queries are not counted", func(t *testing.T) {
				w.wantWorking("q")
				if m, err := w.read(5 * time.Second); err != nil || m.Type != "complete" || m.ID != "q" {
					t.Fatalf("got %+v, %v; want complete q", m, err)
				}
			})

			// The two running subscriptions work on.
			e.updateRun(t, run.ID, func(u *ent.SyncRunUpdateOne) { u.SetTotal(100) })
			got := map[string]bool{}
			for range 2 {
				m, err := w.read(5 * time.Second)
				if err != nil || (m.Type != "next" && m.Type != "data") {
					t.Fatalf("after a change: %+v, %v; want a result for a and b", m, err)
				}
				got[m.ID] = true
			}
			if !got["a"] || !got["b"] {
				t.Fatalf("results for %v, want a and b", got)
			}

			// A completed subscription frees its place; the transport lets it
			// go right after its complete, so give it a moment.
			w.complete("a")
			if m, err := w.read(5 * time.Second); err != nil || m.Type != "complete" || m.ID != "a" {
				t.Fatalf("after completing a: %+v, %v; want complete a", m, err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for i := 0; ; i++ {
				id := "d" + string(rune('0'+i))
				w.subscribe(id, subProgressQuery, vars)
				m, err := w.read(5 * time.Second)
				if err == nil && m.Type == "error" && m.ID == id && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				if err != nil || m.ID != id || (m.Type != "next" && m.Type != "data") {
					t.Fatalf("a subscription after one completed: %+v, %v", m, err)
				}
				break
			}
		})
	}
}

func TestWebsocketConnectionCap(t *testing.T) {
	t.Parallel()
	app := wsStart(t, server.WebsocketLimits{MaxConnectionsPerKey: 2})
	for _, proto := range wsProtocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			org := string(pulid.New("org"))
			key, other := app.Key(t, org, schematype.RoleAdmin), app.Key(t, org, schematype.RoleViewer)
			first := wsAcked(t, app, proto, key)
			wsAcked(t, app, proto, key)

			refused := wsConnect(t, app, proto, key)
			m, err := refused.read(5 * time.Second)
			if proto == apptest.LegacyWS {
				// Legacy graphql-ws says why in a connection_error first.
				var payload struct{ Message string }
				if err != nil || m.Type != "connection_error" || json.Unmarshal(m.Payload, &payload) != nil ||
					!strings.Contains(payload.Message, "2 websockets") {
					t.Fatalf("a third socket of the key got %+v, %v; want a connection_error naming the cap", m, err)
				}
			} else if err == nil {
				t.Fatalf("a third socket of the key got %+v, want it closed", m)
			}
			if code := refused.closeCode(5 * time.Second); code != 4429 {
				t.Fatalf("a third socket of the key: close code %d, want 4429", code)
			}

			t.Run("another key of the organization is not counted", func(t *testing.T) {
				wsAcked(t, app, proto, other).wantWorking("q")
			})
			t.Run("the open sockets work on", func(t *testing.T) {
				first.wantWorking("q")
			})
			t.Run("a closed socket frees its place", func(t *testing.T) {
				msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
				if err := first.c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
					t.Fatal(err)
				}
				first.c.Close()
				// The server lets the socket go right after the close:
				// give it a moment.
				deadline := time.Now().Add(5 * time.Second)
				for {
					w := wsConnect(t, app, proto, key)
					m, err := w.read(5 * time.Second)
					if err == nil && m.Type == "connection_ack" {
						w.wantWorking("q")
						return
					}
					if time.Now().After(deadline) {
						t.Fatalf("no place after a socket closed: %+v, %v", m, err)
					}
					w.c.Close()
					time.Sleep(10 * time.Millisecond)
				}
			})
		})
	}
}

func TestWebsocketProtocolErrors(t *testing.T) {
	t.Parallel()
	e := wsRunEnv(t, server.WebsocketLimits{})
	run := e.newRun(t, syncrun.StatusQUEUED) // syncProgress sends its state, then stays open
	vars := map[string]any{"id": run.ID}
	for _, proto := range wsProtocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			// wantClose reads up to the close frame: a legacy client is told
			// why in a connection_error first.
			wantClose := func(t *testing.T, w *wsConn, code int, connectionError bool) {
				t.Helper()
				if connectionError && proto == apptest.LegacyWS {
					if m, err := w.read(5 * time.Second); err != nil || m.Type != "connection_error" {
						t.Fatalf("got %+v, %v; want a connection_error", m, err)
					}
				}
				if got := w.closeCode(5 * time.Second); got != code {
					t.Fatalf("close code %d, want %d", got, code)
				}
			}
			t.Run("an unknown message type closes with 4400", func(t *testing.T) {
				w := wsAcked(t, e.app, proto, e.adminKey)
				w.send("subscribe_all", "1", map[string]any{})
				wantClose(t, w, 4400, true)
			})
			t.Run("a message that is not JSON closes with 4400", func(t *testing.T) {
				w := wsAcked(t, e.app, proto, e.adminKey)
				if err := w.c.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
					t.Fatal(err)
				}
				wantClose(t, w, 4400, true)
			})
			t.Run("an operation without an id closes with 4400", func(t *testing.T) {
				w := wsAcked(t, e.app, proto, e.adminKey)
				w.subscribe("", subProgressQuery, vars)
				wantClose(t, w, 4400, true)
			})
			t.Run("an operation before connection_init is refused", func(t *testing.T) {
				w, _, err := wsDial(t, e.app, proto, "")
				if err != nil {
					t.Fatal(err)
				}
				w.subscribe("1", subProgressQuery, vars)
				if proto == apptest.LegacyWS {
					wantClose(t, w, 4400, true)
				} else {
					wantClose(t, w, 4401, false) // Unauthorized
				}
			})
			t.Run("a second connection_init closes with 4429", func(t *testing.T) {
				w := wsAcked(t, e.app, proto, e.adminKey)
				w.send("connection_init", "", map[string]any{"Authorization": "Bearer " + e.adminKey})
				wantClose(t, w, 4429, false)
			})
			t.Run("the ID of a running operation closes with 4409", func(t *testing.T) {
				w := wsAcked(t, e.app, proto, e.adminKey)
				w.subscribe("a", subProgressQuery, vars)
				w.wantNext("a")
				w.subscribe("a", subProgressQuery, vars)
				wantClose(t, w, 4409, false)
			})
			t.Run("an ID is free again once its operation completed", func(t *testing.T) {
				w := wsAcked(t, e.app, proto, e.adminKey)
				w.wantWorking("q")
				if m, err := w.read(5 * time.Second); err != nil || m.Type != "complete" || m.ID != "q" {
					t.Fatalf("got %+v, %v; want complete q", m, err)
				}
				w.wantWorking("q")
			})
			t.Run("a payload that is not a request gets an error for its ID", func(t *testing.T) {
				w := wsAcked(t, e.app, proto, e.adminKey)
				w.send(map[bool]string{true: "start", false: "subscribe"}[proto == apptest.LegacyWS], "x", "not a request")
				m, err := w.read(5 * time.Second)
				var errs []apptest.Error
				if err != nil || m.Type != "error" || m.ID != "x" || json.Unmarshal(m.Payload, &errs) != nil ||
					len(errs) != 1 || errs[0].Extensions.Code != "BAD_REQUEST" {
					t.Fatalf("got %+v, %v; want an error message with code BAD_REQUEST", m, err)
				}
				w.wantWorking("q") // the socket works on
			})
		})
	}
}

// TestIdleSubscriptionsHoldOneGoroutine: an idle socket with a running
// subscription holds one goroutine (the one reading it), none for the
// subscription itself; an event starts what it needs and lets it go. Not
// parallel: it counts the process's goroutines, and parallel tests only
// start once the sequential ones have ended.
func TestIdleSubscriptionsHoldOneGoroutine(t *testing.T) {
	e := wsRunEnv(t, server.WebsocketLimits{MaxConnectionsPerKey: 1000})
	run := e.newRun(t, syncrun.StatusRUNNING)
	vars := map[string]any{"id": run.ID}
	const sockets = 100
	var conns []*wsConn
	for i := range sockets {
		w := wsAcked(t, e.app, wsProtocols[i%2], e.adminKey)
		w.subscribe("1", subProgressQuery, vars)
		w.wantNext("1") // the run's state: the subscription runs
		conns = append(conns, w)
	}
	if held := settledSocketGoroutines(t); held > sockets+sockets/5 {
		t.Fatalf("%d sockets with an idle subscription each hold %d goroutines, want about one each", sockets, held)
	}

	// An event reaches every subscriber; then the goroutines it took end.
	e.updateRun(t, run.ID, func(u *ent.SyncRunUpdateOne) { u.SetFetched(10) })
	for _, w := range conns {
		if d := w.wantNext("1"); !strings.Contains(string(d), `"fetched":10`) {
			t.Fatalf("after the change: %s", d)
		}
	}
	if held := settledSocketGoroutines(t); held > sockets+sockets/5 {
		t.Fatalf("after an event the sockets hold %d goroutines, want about one each", held)
	}
}

// settledSocketGoroutines counts the goroutines serving websockets and
// their operations (any goroutine with a frame in the server's websocket
// code, the graph package, gqlgen or gorilla/websocket), once the count
// holds still.
func settledSocketGoroutines(t *testing.T) int {
	t.Helper()
	count := func() int {
		var buf bytes.Buffer
		if err := pprof.Lookup("goroutine").WriteTo(&buf, 2); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, g := range strings.Split(buf.String(), "\n\n") {
			if strings.Contains(g, "intake/server.(*wsConn)") || strings.Contains(g, "intake/server.(*wsOperation)") ||
				strings.Contains(g, "intake/graph.") || strings.Contains(g, "gqlgen/graphql") ||
				strings.Contains(g, "gorilla/websocket") {
				n++
			}
		}
		return n
	}
	n, stable := count(), 0
	for deadline := time.Now().Add(10 * time.Second); stable < 3 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		if m := count(); m == n {
			stable++
		} else {
			n, stable = m, 0
		}
	}
	t.Logf("goroutines serving websockets: %d", n)
	return n
}
