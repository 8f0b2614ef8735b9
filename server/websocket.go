package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/viewer"
)

// writeWait bounds one websocket write, so a stalled peer cannot hold a
// subscription's goroutine forever.
const writeWait = 10 * time.Second

// closeWait is how long peers have to answer the close frame of a stopping
// server before their connections are cut.
const closeWait = 2 * time.Second

// Close codes beyond RFC 6455's, as graphql-transport-ws defines them. The
// legacy graphql-ws protocol gets the same codes.
const (
	closeInitTimeout        = 4408 // no connection_init within InitTimeout
	closeTooManyConnections = 4429 // the API key holds MaxConnectionsPerKey sockets
)

// WebsocketLimits bound what websocket clients may hold. A zero field takes
// its default (defaultWebsocketLimits).
type WebsocketLimits struct {
	// InitTimeout is how long a new socket has to send connection_init
	// before it is closed with 4408.
	InitTimeout time.Duration
	// PingInterval is how often the server sends every socket a ping
	// control frame; browsers and websocket libraries answer them by
	// themselves.
	PingInterval time.Duration
	// PongTimeout is how long a peer has to answer a ping. A socket that
	// goes PingInterval+PongTimeout without a pong is dropped: its peer is
	// gone (a laptop closed, a network that lost the connection) and would
	// otherwise hold its subscriptions for as long as TCP takes to notice.
	PongTimeout time.Duration
	// MaxSubscriptions caps the subscriptions running at once on one socket;
	// one more is answered with an error message, code RATE_LIMITED.
	MaxSubscriptions int
	// MaxConnectionsPerKey caps the sockets one API key holds open at once
	// in this process; one more is closed at connection_init with 4429.
	MaxConnectionsPerKey int
}

var defaultWebsocketLimits = WebsocketLimits{
	InitTimeout:          10 * time.Second,
	PingInterval:         15 * time.Second,
	PongTimeout:          10 * time.Second,
	MaxSubscriptions:     100,
	MaxConnectionsPerKey: 50,
}

func (l WebsocketLimits) withDefaults() WebsocketLimits {
	d := defaultWebsocketLimits
	if l.InitTimeout <= 0 {
		l.InitTimeout = d.InitTimeout
	}
	if l.PingInterval <= 0 {
		l.PingInterval = d.PingInterval
	}
	if l.PongTimeout <= 0 {
		l.PongTimeout = d.PongTimeout
	}
	if l.MaxSubscriptions <= 0 {
		l.MaxSubscriptions = d.MaxSubscriptions
	}
	if l.MaxConnectionsPerKey <= 0 {
		l.MaxConnectionsPerKey = d.MaxConnectionsPerKey
	}
	return l
}

// websockets accepts GraphQL websockets through gorilla/websocket for
// gqlgen's transport and enforces the WebsocketLimits. It keeps track of the
// open sockets because http.Server.Shutdown does not (they are hijacked):
// goAway and closeAll end them when the server stops.
//
// The transport must run with InitTimeout 0 and without PingPongInterval:
// the connection_init timeout and the dead-peer check are read deadlines
// set here, on the socket, for both subprotocols (gqlgen's own pings are
// graphql-transport-ws messages only, and its pong handling clears the read
// deadline).
type websockets struct {
	limits   WebsocketLimits
	upgrader websocket.Upgrader

	mu       sync.Mutex
	conns    map[*gorillaConn]struct{}
	perKey   map[pulid.ID]int // sockets past connection_init, per API key
	closing  bool             // set by goAway: sockets accepted later are closed at once
	goneAway sync.Once
}

func newWebsockets(limits WebsocketLimits, allowedOrigins []string) *websockets {
	return &websockets{
		limits: limits.withDefaults(),
		upgrader: websocket.Upgrader{
			HandshakeTimeout: 10 * time.Second,
			ReadBufferSize:   1024,
			WriteBufferSize:  1024,
			CheckOrigin:      newOriginPolicy(allowedOrigins).allowedOrigin,
		},
		conns:  map[*gorillaConn]struct{}{},
		perKey: map[pulid.ID]int{},
	}
}

// Accept implements transport.WebsocketImplementation.
func (w *websockets) Accept(rw http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	up := w.upgrader
	up.Subprotocols = opts.Subprotocols
	c, err := up.Upgrade(rw, r, opts.ResponseHeader)
	if err != nil {
		return nil, err // the upgrader has answered the request
	}
	g := &gorillaConn{
		c: c, sockets: w, done: make(chan struct{}),
		pongWait: w.limits.PingInterval + w.limits.PongTimeout,
	}
	_ = c.SetReadDeadline(time.Now().Add(w.limits.InitTimeout))
	c.SetPongHandler(g.pong)

	w.mu.Lock()
	closing := w.closing
	if !closing {
		w.conns[g] = struct{}{}
	}
	w.mu.Unlock()
	if closing {
		_ = g.goAway(time.Now().Add(time.Second))
		_ = g.Close()
		return g, nil // gqlgen's first read fails and ends the connection
	}
	go g.ping(w.limits.PingInterval)
	return g, nil
}

// session is a socket past connection_init: it holds one of its API key's
// connection slots and counts its running subscriptions.
type session struct {
	key           pulid.ID
	subscriptions atomic.Int64
	released      sync.Once
}

type sessionKey struct{}

// limitConnections wraps the transport's InitFunc: an authenticated socket
// takes one of its API key's MaxConnectionsPerKey slots, or is closed with
// 4429 (and, on legacy graphql-ws, a connection_error first). The slot is
// freed by closed, the transport's CloseFunc.
func (w *websockets) limitConnections(next transport.WebsocketInitFunc) transport.WebsocketInitFunc {
	return func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		ctx, ack, err := next(ctx, p)
		if err != nil {
			return ctx, ack, err
		}
		key := viewer.FromContext(ctx).KeyID
		w.mu.Lock()
		full := w.perKey[key] >= w.limits.MaxConnectionsPerKey
		if !full {
			w.perKey[key]++
		}
		w.mu.Unlock()
		if full {
			ctx = transport.AppendCloseReason(transport.WithWebsocketCloseCode(ctx, closeTooManyConnections), "Too many connections")
			return ctx, nil, fmt.Errorf("this API key already has %d websockets open, the most allowed: close one first", w.limits.MaxConnectionsPerKey)
		}
		return context.WithValue(ctx, sessionKey{}, &session{key: key}), ack, nil
	}
}

// closed is the transport's CloseFunc: it frees the socket's connection
// slot. gqlgen calls it with the context limitConnections returned once the
// socket got past connection_init, else with one without a session.
func (w *websockets) closed(ctx context.Context, _ int) {
	s, ok := ctx.Value(sessionKey{}).(*session)
	if !ok {
		return
	}
	s.released.Do(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.perKey[s.key]--; w.perKey[s.key] <= 0 {
			delete(w.perKey, s.key)
		}
	})
}

// limitSubscriptions is an operation interceptor: a socket runs at most
// MaxSubscriptions subscriptions at once. One more gets an error message
// for its operation ID (code RATE_LIMITED); the others run on.
func (w *websockets) limitSubscriptions(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	s, ok := ctx.Value(sessionKey{}).(*session)
	op := graphql.GetOperationContext(ctx).Operation
	if !ok || op == nil || op.Operation != ast.Subscription {
		return next(ctx)
	}
	if s.subscriptions.Add(1) > int64(w.limits.MaxSubscriptions) {
		s.subscriptions.Add(-1)
		transport.AddSubscriptionError(ctx, &gqlerror.Error{
			Message: fmt.Sprintf("this connection already runs %d subscriptions, the most allowed: complete one first",
				w.limits.MaxSubscriptions),
			Extensions: map[string]any{"code": service.CodeRateLimited},
		})
		return func(context.Context) *graphql.Response { return nil }
	}
	// The transport cancels an operation's context when it ends, whether
	// completed by either side or cut off with its socket.
	context.AfterFunc(ctx, func() { s.subscriptions.Add(-1) })
	return next(ctx)
}

// goAway starts closing every socket of a stopping server: each gets a close
// frame with 1001 (going away), which clients take as a cue to reconnect
// elsewhere or later. Sockets accepted from now on are closed at once. Only
// the first call does anything; the HTTP server calls it when Shutdown
// starts, after it stopped listening.
func (w *websockets) goAway() {
	w.goneAway.Do(func() {
		w.mu.Lock()
		w.closing = true
		conns := w.openConns()
		w.mu.Unlock()
		deadline := time.Now().Add(time.Second)
		for _, g := range conns {
			_ = g.goAway(deadline)
		}
	})
}

// closeAll sends every socket goAway's close frame if that has not happened
// yet, waits for the peers to answer it (up to closeWait, or ctx), and cuts
// the connections left.
func (w *websockets) closeAll(ctx context.Context) {
	w.goAway()
	ctx, cancel := context.WithTimeout(ctx, closeWait)
	defer cancel()
	w.mu.Lock()
	conns := w.openConns()
	w.mu.Unlock()
	for _, g := range conns {
		select {
		case <-g.done:
		case <-ctx.Done():
			_ = g.Close()
		}
	}
}

// openConns lists the open sockets; w.mu must be held.
func (w *websockets) openConns() []*gorillaConn {
	conns := make([]*gorillaConn, 0, len(w.conns))
	for g := range w.conns {
		conns = append(conns, g)
	}
	return conns
}

// gorillaConn is one socket, as gqlgen's transport uses it. It does not
// implement transport.WebsocketReadDeadliner: the read deadline is its own
// (see websockets).
type gorillaConn struct {
	c        *websocket.Conn
	sockets  *websockets
	pongWait time.Duration // how long the peer may go without a pong
	mu       sync.Mutex    // gorilla allows one writer at a time
	// started is set once the first message (connection_init) arrived.
	// Only the reading goroutine, which also runs the pong handler, uses it.
	started   bool
	done      chan struct{} // closed by Close; stops the pings
	closeOnce sync.Once
}

func (g *gorillaConn) NextReader() (int, io.Reader, error) {
	t, r, err := g.c.NextReader()
	if err != nil {
		var ne net.Error
		if !g.started && errors.As(err, &ne) && ne.Timeout() {
			_ = g.WriteClose(closeInitTimeout, "Connection initialisation timeout")
		}
		if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
			return 0, nil, transport.ErrWebsocketClosed
		}
		return 0, nil, err
	}
	if !g.started {
		// From now on the deadline is the dead-peer check, moved on by
		// every pong.
		g.started = true
		_ = g.c.SetReadDeadline(time.Now().Add(g.pongWait))
	}
	return t, r, nil
}

// pong is the pong handler: the peer is alive. Before connection_init the
// deadline stays the init timeout.
func (g *gorillaConn) pong(string) error {
	if g.started {
		return g.c.SetReadDeadline(time.Now().Add(g.pongWait))
	}
	return nil
}

// ping sends a ping control frame every interval until the socket closes. A
// ping that cannot be written needs no handling: without its pong, the read
// deadline drops the peer.
func (g *gorillaConn) ping(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-g.done:
			return
		case <-t.C:
			_ = g.c.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait))
		}
	}
}

func (g *gorillaConn) goAway(deadline time.Time) error {
	return g.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), deadline)
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

// Close closes the connection and forgets it; later calls do nothing.
func (g *gorillaConn) Close() error {
	err := net.ErrClosed
	g.closeOnce.Do(func() {
		close(g.done)
		g.sockets.mu.Lock()
		delete(g.sockets.conns, g)
		g.sockets.mu.Unlock()
		err = g.c.Close()
	})
	return err
}

func (g *gorillaConn) Subprotocol() string  { return g.c.Subprotocol() }
func (g *gorillaConn) SetReadLimit(n int64) { g.c.SetReadLimit(n) }

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
	// An origin is scheme://host[:port] and nothing else (RFC 6454).
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") ||
		u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
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
