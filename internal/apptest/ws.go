package apptest

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Websocket subprotocols a client can speak.
const (
	TransportWS = "graphql-transport-ws" // graphql-ws library (current)
	LegacyWS    = "graphql-ws"           // subscriptions-transport-ws (legacy)
)

// WS is a GraphQL websocket client connection.
type WS struct {
	t        testing.TB
	conn     *websocket.Conn
	protocol string
}

// Message is one websocket protocol message.
type Message struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Dial opens a websocket to the app's /graphql with a subprotocol and an
// Origin header (none when origin is "").
func (a *App) Dial(t testing.TB, protocol, origin string) (*WS, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	d := websocket.Dialer{Subprotocols: []string{protocol}, HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial("ws"+strings.TrimPrefix(a.URL, "http")+"/graphql", h)
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { conn.Close() })
	return &WS{t: t, conn: conn, protocol: protocol}, resp, nil
}

// Connect dials and sends connection_init with the key (none when ""),
// returning the connection once acknowledged.
func (a *App) Connect(t testing.TB, protocol, key string) *WS {
	t.Helper()
	ws, _, err := a.Dial(t, protocol, "")
	if err != nil {
		t.Fatalf("dialing: %v", err)
	}
	ws.Init(key)
	if m := ws.Next(); m.Type != "connection_ack" {
		t.Fatalf("connection_init answered %s %s", m.Type, m.Payload)
	}
	return ws
}

// Init sends connection_init carrying the key.
func (w *WS) Init(key string) {
	w.t.Helper()
	payload := map[string]any{}
	if key != "" {
		payload["Authorization"] = "Bearer " + key
	}
	w.Send(Message{Type: "connection_init", Payload: mustJSON(payload)})
}

// Subscribe starts an operation with the given id.
func (w *WS) Subscribe(id, query string, vars map[string]any) {
	w.t.Helper()
	typ := "subscribe"
	if w.protocol == LegacyWS {
		typ = "start"
	}
	w.Send(Message{Type: typ, ID: id, Payload: mustJSON(map[string]any{"query": query, "variables": vars})})
}

// Send writes a message.
func (w *WS) Send(m Message) {
	w.t.Helper()
	if err := w.conn.WriteJSON(m); err != nil {
		w.t.Fatalf("websocket write: %v", err)
	}
}

// Next returns the next message other than keep-alives, failing after 10s.
func (w *WS) Next() Message {
	w.t.Helper()
	m, err := w.Read(10 * time.Second)
	if err != nil {
		w.t.Fatalf("websocket read: %v", err)
	}
	return m
}

// Read returns the next message other than keep-alives, or the error that
// ended the connection (a *websocket.CloseError when the server closed it).
func (w *WS) Read(timeout time.Duration) (Message, error) {
	deadline := time.Now().Add(timeout)
	for {
		if err := w.conn.SetReadDeadline(deadline); err != nil {
			return Message{}, err
		}
		var m Message
		if err := w.conn.ReadJSON(&m); err != nil {
			return Message{}, err
		}
		switch m.Type {
		case "ka", "ping", "pong":
			if m.Type == "ping" {
				_ = w.conn.WriteJSON(Message{Type: "pong"})
			}
			continue
		}
		return m, nil
	}
}

// CloseCode waits for the server to close the connection and returns the
// close code (-1 when it ended otherwise).
func (w *WS) CloseCode(timeout time.Duration) int {
	for {
		_, err := w.Read(timeout)
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		return -1
	}
}

// Data is the payload of a next/data message.
type Data struct {
	Data   json.RawMessage `json:"data"`
	Errors []Error         `json:"errors"`
}

// NextData returns the next result of operation id, failing on anything else.
func (w *WS) NextData(id string) Data {
	w.t.Helper()
	m := w.Next()
	want := "next"
	if w.protocol == LegacyWS {
		want = "data"
	}
	if m.Type != want || m.ID != id {
		w.t.Fatalf("want %s for %s, got %s %s %s", want, id, m.Type, m.ID, m.Payload)
	}
	var d Data
	if err := json.Unmarshal(m.Payload, &d); err != nil {
		w.t.Fatal(err)
	}
	return d
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
