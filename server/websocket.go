package server

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"
)

// writeWait bounds one websocket write, so a stalled peer cannot hold a
// subscription's goroutine forever.
const writeWait = 10 * time.Second

// gorillaWebsocket adapts gorilla/websocket to gqlgen's websocket transport.
type gorillaWebsocket struct {
	upgrader websocket.Upgrader
}

func newGorillaWebsocket(origins *originPolicy) gorillaWebsocket {
	return gorillaWebsocket{upgrader: websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   1024,
		WriteBufferSize:  1024,
		CheckOrigin:      origins.allowedOrigin,
	}}
}

// Accept implements transport.WebsocketImplementation.
func (g gorillaWebsocket) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	up := g.upgrader
	up.Subprotocols = opts.Subprotocols
	c, err := up.Upgrade(w, r, opts.ResponseHeader)
	if err != nil {
		return nil, err // the upgrader has answered the request
	}
	return &gorillaConn{c: c}, nil
}

type gorillaConn struct {
	c  *websocket.Conn
	mu sync.Mutex // gorilla allows one writer at a time
}

func (g *gorillaConn) NextReader() (int, io.Reader, error) {
	t, r, err := g.c.NextReader()
	if err != nil {
		if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
			return 0, nil, transport.ErrWebsocketClosed
		}
		return 0, nil, err
	}
	return t, r, nil
}

func (g *gorillaConn) WriteJSON(v any) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.c.SetWriteDeadline(time.Now().Add(writeWait)); err != nil {
		return err
	}
	return g.c.WriteJSON(v)
}

func (g *gorillaConn) WriteClose(code int, msg string) error {
	return g.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, msg), time.Now().Add(time.Second))
}

func (g *gorillaConn) Subprotocol() string               { return g.c.Subprotocol() }
func (g *gorillaConn) Close() error                      { return g.c.Close() }
func (g *gorillaConn) SetReadLimit(n int64)              { g.c.SetReadLimit(n) }
func (g *gorillaConn) SetReadDeadline(t time.Time) error { return g.c.SetReadDeadline(t) }

// originPolicy decides which browser origins may open websockets. The
// server's own origin is always allowed; a request without an Origin header
// comes from a non-browser client and is allowed (it carries no ambient
// credentials: the API key travels in connection_init).
type originPolicy struct {
	allowed map[string]bool // "scheme://host[:port]", lower case
}

func newOriginPolicy(origins []string) *originPolicy {
	p := &originPolicy{allowed: map[string]bool{}}
	for _, o := range origins {
		if o = strings.ToLower(strings.TrimRight(strings.TrimSpace(o), "/")); o != "" {
			p.allowed[o] = true
		}
	}
	return p
}

func (p *originPolicy) allowedOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	if p.allowed[strings.ToLower(u.Scheme+"://"+u.Host)] {
		return true
	}
	// Same origin: the browser page was served by this host.
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return strings.EqualFold(u.Host, r.Host) && u.Scheme == scheme
}
