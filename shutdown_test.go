package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/gorilla/websocket"

	"github.com/intake/intake/internal/apptest"
	"github.com/intake/intake/internal/dbtest"
)

// shutdownListening is serve's JSON log line once it accepts requests.
var shutdownListening = regexp.MustCompile(`"msg":"intake listening","addr":"(127\.0\.0\.1:\d+)"`)

// shutdownBound is how long serve may take to exit after SIGTERM here:
// nothing runs but one short request, so far less than the sum of the
// shutdown steps' bounds (httpStopTimeout, engineStopTimeout,
// brokerStopTimeout), which only a request or a sync that does not stop
// would use up.
const shutdownBound = 10 * time.Second

// TestServeGracefulShutdown runs the real binary, `intake serve`, with an
// open websocket subscription and a request in flight, and sends it
// SIGTERM. The socket must get a close frame with 1001 (going away), the
// request must be answered, no new connection accepted, and the process
// must exit 0 within shutdownBound. (TestCrashSafety in sync/engine covers
// a sync running at SIGTERM: it is left RUNNING and resumes after a
// restart.)
func TestServeGracefulShutdown(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the intake binary and runs it; skipped under -short")
	}
	bin := apptest.BuildIntake(t, t.TempDir())
	for _, dia := range dbtest.Dialects {
		name := "sqlite"
		if dia == dialect.Postgres {
			name = "postgres"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			shutdownScenario(t, bin, dia)
		})
	}
}

func shutdownScenario(t *testing.T, bin, dia string) {
	vars := cliEnv(t, dia)
	vars["INTAKE_LOG_LEVEL"] = "info"
	vars["INTAKE_ADDR"] = "127.0.0.1:0"
	env := apptest.ChildEnv(vars)
	key := strings.TrimSpace(apptest.RunIntake(t, bin, env, "apikey", "create", "--org", "shutdown"))
	serve := apptest.StartChild(t, "intake serve", bin, env, "serve")
	addr := serve.WaitOutput(t, true, shutdownListening, time.Minute)[1]

	var camp struct{ CreateCampaign struct{ ID string } }
	(&apptest.Client{URL: "http://" + addr, Key: key}).MustDo(t,
		`mutation($in: CreateCampaignInput!) { createCampaign(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"name": "Shutdown", "phoneRegion": "DE"}}, &camp)

	ws := shutdownSubscribe(t, addr, key, camp.CreateCampaign.ID)
	slow := shutdownSlowRequest(t, addr, key)

	// What the clients see, watched while serve shuts down.
	type seen struct {
		closeCode  int
		closeErr   error
		redial     error
		slowStatus int
		slowBody   string
		slowErr    error
	}
	result := make(chan seen, 1)
	go func() {
		var s seen
		defer func() { result <- s }()
		_ = ws.SetReadDeadline(time.Now().Add(shutdownBound))
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					s.closeCode = ce.Code
				}
				s.closeErr = err
				break
			}
		}
		// The close frame comes once serve stopped listening.
		var conn net.Conn
		if conn, s.redial = net.DialTimeout("tcp", addr, time.Second); s.redial == nil {
			conn.Close()
		}
		s.slowStatus, s.slowBody, s.slowErr = slow()
	}()

	start := time.Now()
	code := serve.Terminate(t, shutdownBound)
	took := time.Since(start)
	var s seen
	select {
	case s = <-result:
	case <-time.After(shutdownBound):
		t.Fatal("the clients saw nothing of the shutdown")
	}

	t.Run("the websocket gets a close frame with 1001", func(t *testing.T) {
		if s.closeCode != websocket.CloseGoingAway {
			t.Fatalf("the socket ended with %v, want a close frame with 1001 (going away)", s.closeErr)
		}
	})
	t.Run("the request in flight is answered", func(t *testing.T) {
		if s.slowErr != nil || s.slowStatus != http.StatusOK || !strings.Contains(s.slowBody, `"name":"shutdown"`) {
			t.Fatalf("HTTP %d %q, %v; want 200 with the viewer's organization", s.slowStatus, s.slowBody, s.slowErr)
		}
	})
	t.Run("no new connection is accepted", func(t *testing.T) {
		if s.redial == nil {
			t.Fatal("a new connection was accepted after the websockets were closed")
		}
	})
	t.Run("serve exits 0 within the bound", func(t *testing.T) {
		if code != 0 {
			t.Fatalf("exit code %d after SIGTERM, want 0", code)
		}
		if !strings.Contains(serve.Stderr(), `"msg":"stopped"`) {
			t.Fatal(`serve exited without logging "stopped"`)
		}
		t.Logf("exited %s after SIGTERM", took.Round(time.Millisecond))
	})
}

// shutdownSubscribe opens a graphql-transport-ws socket and subscribes to
// the campaign's events.
func shutdownSubscribe(t *testing.T, addr, key, campaignID string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{apptest.TransportWS}, HandshakeTimeout: 5 * time.Second}
	ws, _, err := d.Dial("ws://"+addr+"/graphql", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	send := func(typ, id string, payload any) {
		raw, _ := json.Marshal(payload)
		if err := ws.WriteJSON(apptest.Message{Type: typ, ID: id, Payload: raw}); err != nil {
			t.Fatal(err)
		}
	}
	read := func() apptest.Message {
		var m apptest.Message
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		if err := ws.ReadJSON(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	send("connection_init", "", map[string]any{"Authorization": "Bearer " + key})
	if m := read(); m.Type != "connection_ack" {
		t.Fatalf("connection_init answered %+v", m)
	}
	send("subscribe", "events", map[string]any{
		"query":     `subscription($id: ID!) { campaignEvents(campaignID: $id) { __typename } }`,
		"variables": map[string]any{"id": campaignID},
	})
	// Operations start in order: once a later query answers, the
	// subscription has started without an error.
	send("subscribe", "q", map[string]any{"query": `{ viewer { role } }`})
	if m := read(); m.Type != "next" || m.ID != "q" {
		t.Fatalf("got %+v, want the query's result (an error for the subscription?)", m)
	}
	if m := read(); m.Type != "complete" || m.ID != "q" {
		t.Fatalf("got %+v, want complete q", m)
	}
	return ws
}

// shutdownSlowRequest starts a GraphQL POST and holds it in flight: the
// headers are sent with Expect: 100-continue and the server's "100
// Continue" shows the handler runs, waiting for the body. The function
// returned sends the body and reads the answer.
func shutdownSlowRequest(t *testing.T, addr, key string) func() (int, string, error) {
	t.Helper()
	body := `{"query":"{ viewer { organization { name } } }"}`
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	fmt.Fprintf(conn, "POST /graphql HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAuthorization: Bearer %s\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", addr, key, len(body))
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
		t.Fatalf("the request got %q, %v; want 100 Continue", line, err)
	}
	if blank, err := br.ReadString('\n'); err != nil || blank != "\r\n" {
		t.Fatalf("after 100 Continue: %q, %v", blank, err)
	}
	return func() (int, string, error) {
		if _, err := io.WriteString(conn, body); err != nil {
			return 0, "", err
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
}
