//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// gqlRequest is a GraphQL request body.
type gqlRequest struct {
	Query     string         `json:"query"`
	Variables map[string]any `json:"variables,omitempty"`
}

// gqlError is one entry of a GraphQL response's errors.
type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

func (e gqlError) Error() string { return fmt.Sprintf("%s (%v)", e.Message, e.Extensions["code"]) }

// gqlResponse is a GraphQL response body.
type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

// post sends body as JSON to url with the API key (none if key is empty)
// and returns the response body, failing on a status other than 200.
func post(ctx context.Context, hc *http.Client, url, key string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, truncate(b, 300))
	}
	return b, nil
}

// graphQL runs one GraphQL operation over HTTP and decodes its data into
// out (when not nil). A response with errors is an error.
func graphQL(ctx context.Context, hc *http.Client, url, key, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(gqlRequest{Query: query, Variables: vars})
	if err != nil {
		return err
	}
	b, err := post(ctx, hc, url, key, body)
	if err != nil {
		return err
	}
	var resp gqlResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		return fmt.Errorf("decoding the response: %w: %s", err, truncate(b, 300))
	}
	if len(resp.Errors) > 0 {
		return resp.Errors[0]
	}
	if out != nil {
		return json.Unmarshal(resp.Data, out)
	}
	return nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// wsMessage is one graphql-transport-ws message.
type wsMessage struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wsConn is a client connection speaking graphql-transport-ws. One
// goroutine reads it (next); writes come from that goroutine too, or
// before reading starts.
type wsConn struct {
	c *websocket.Conn
}

// wsDialer keeps the client's buffers small: ten thousand idle
// connections live in the load tool's process too.
var wsDialer = websocket.Dialer{
	Subprotocols:     []string{"graphql-transport-ws"},
	HandshakeTimeout: 30 * time.Second,
	ReadBufferSize:   1024,
	WriteBufferSize:  1024,
}

// dialWS opens a websocket to the server's /graphql, sends connection_init
// with the key and waits for connection_ack.
func dialWS(ctx context.Context, baseURL, key string) (*wsConn, error) {
	c, resp, err := wsDialer.DialContext(ctx, "ws"+strings.TrimPrefix(baseURL, "http")+"/graphql", nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dialing: %w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, fmt.Errorf("dialing: %w", err)
	}
	w := &wsConn{c: c}
	init, _ := json.Marshal(map[string]string{"Authorization": "Bearer " + key})
	if err := w.send(wsMessage{Type: "connection_init", Payload: init}); err != nil {
		c.Close()
		return nil, err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(30 * time.Second)
	}
	m, _, err := w.next(deadline)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("waiting for connection_ack: %w", err)
	}
	if m.Type != "connection_ack" {
		c.Close()
		return nil, fmt.Errorf("connection_init answered %s %s", m.Type, m.Payload)
	}
	return w, nil
}

func (w *wsConn) send(m wsMessage) error {
	if err := w.c.SetWriteDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	return w.c.WriteJSON(m)
}

// subscribe starts operation id.
func (w *wsConn) subscribe(id, query string, vars map[string]any) error {
	payload, err := json.Marshal(gqlRequest{Query: query, Variables: vars})
	if err != nil {
		return err
	}
	return w.send(wsMessage{Type: "subscribe", ID: id, Payload: payload})
}

// next returns the next message other than keep-alives (answering pings),
// and the time it arrived, taken before it is decoded.
func (w *wsConn) next(deadline time.Time) (wsMessage, time.Time, error) {
	for {
		if err := w.c.SetReadDeadline(deadline); err != nil {
			return wsMessage{}, time.Time{}, err
		}
		_, b, err := w.c.ReadMessage()
		if err != nil {
			return wsMessage{}, time.Time{}, err
		}
		at := time.Now()
		var m wsMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return wsMessage{}, at, fmt.Errorf("decoding a websocket message: %w", err)
		}
		switch m.Type {
		case "ping":
			if err := w.send(wsMessage{Type: "pong"}); err != nil {
				return wsMessage{}, at, err
			}
			continue
		case "pong", "ka":
			continue
		case "error":
			return m, at, fmt.Errorf("operation %s failed: %s", m.ID, m.Payload)
		}
		return m, at, nil
	}
}

// close ends the connection politely, then closes it.
func (w *wsConn) close() {
	_ = w.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	w.c.Close()
}
