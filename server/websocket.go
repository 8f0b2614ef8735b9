package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/gorilla/websocket"

	"github.com/intake/intake/internal/logging"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/viewer"
)

// closeWait is how long peers have to answer the close frame of a stopping
// server before their connections are cut.
const closeWait = 2 * time.Second

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
	// WriteTimeout bounds one write to a socket: a peer that does not take
	// a message within it (it stopped reading, or its network stalled) is
	// dropped, so that it cannot hold a subscription's goroutine forever.
	WriteTimeout time.Duration
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
	WriteTimeout:         10 * time.Second,
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
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = d.WriteTimeout
	}
	if l.MaxSubscriptions <= 0 {
		l.MaxSubscriptions = d.MaxSubscriptions
	}
	if l.MaxConnectionsPerKey <= 0 {
		l.MaxConnectionsPerKey = d.MaxConnectionsPerKey
	}
	return l
}

// websockets serves GraphQL over websockets (wsConn) and enforces the
// WebsocketLimits. It keeps track of the open sockets because
// http.Server.Shutdown does not (they are hijacked): goAway and closeAll
// end them when the server stops.
type websockets struct {
	limits    WebsocketLimits
	readLimit int64 // the largest message a client may send
	upgrader  websocket.Upgrader
	// auth authenticates connection_init's Authorization value, sent from
	// the socket's remote address.
	auth func(ctx context.Context, remoteAddr, authorization string) (*viewer.Viewer, error)
	// opened counts a socket until the func it returns is called.
	opened func() (closed func())
	log    *slog.Logger

	mu    sync.Mutex
	conns map[*wsConn]struct{}
	// perKey holds the sockets past connection_init, per API key: the
	// per-key cap counts them, and the key sweep closes them.
	perKey   map[pulid.ID]map[*wsConn]struct{}
	closing  bool // set by goAway: sockets accepted later are closed at once
	goneAway sync.Once

	stopSweep context.CancelFunc // nil until startKeySweep
	swept     chan struct{}      // closed when the sweep has stopped
}

// wsSubprotocols are the subprotocols served, in order of preference when a
// client offers both (gqlgen's order). A client that asks for none gets
// graphql-ws.
var wsSubprotocols = []string{subprotocolLegacyWS, subprotocolTransportWS}

func newWebsockets(limits WebsocketLimits, allowedOrigins []string, readLimit int64) *websockets {
	return &websockets{
		limits:    limits.withDefaults(),
		readLimit: readLimit,
		upgrader: websocket.Upgrader{
			HandshakeTimeout: 10 * time.Second,
			Subprotocols:     wsSubprotocols,
			// A small read buffer of its own per socket (gorilla would
			// otherwise keep the HTTP server's 4 KB one), and write buffers
			// from a pool: an idle socket holds none.
			ReadBufferSize:  1024,
			WriteBufferSize: 4096,
			WriteBufferPool: &sync.Pool{},
			CheckOrigin:     newOriginPolicy(allowedOrigins).allowedOrigin,
		},
		log:    slog.New(slog.DiscardHandler),
		opened: func() func() { return func() {} },
		conns:  map[*wsConn]struct{}{},
		perKey: map[pulid.ID]map[*wsConn]struct{}{},
	}
}

// wsTransport is the websocket transport of the GraphQL handler.
type wsTransport struct{ sockets *websockets }

// Supports implements graphql.Transport: any upgrade request (as gqlgen's
// own websocket transport decides).
func (t wsTransport) Supports(r *http.Request) bool { return r.Header.Get("Upgrade") != "" }

// Do implements graphql.Transport: it upgrades the request and returns,
// leaving the socket to a goroutine of its own (wsConn.serve). The
// handler's goroutine, with its deep stack, and the HTTP server's buffers
// are not held for the socket's lifetime.
func (t wsTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	t.sockets.accept(w, r, exec)
}

func (w *websockets) accept(rw http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	c, err := w.upgrader.Upgrade(rw, r, nil)
	if err != nil {
		return // the upgrader has answered the request
	}
	if w.readLimit > 0 {
		c.SetReadLimit(w.readLimit)
	}
	// The request's context ends when this handler returns. The socket's
	// takes only the request ID from it (and no headers): it is held for
	// as long as the socket.
	ctx, cancel := context.WithCancel(logging.WithRequestID(context.Background(), logging.RequestID(r.Context())))
	conn := &wsConn{
		sockets: w, exec: exec, c: c, ctx: ctx, logCtx: ctx, cancel: cancel, opened: time.Now(), remoteAddr: r.RemoteAddr,
		legacy: c.Subprotocol() != subprotocolTransportWS,
		ops:    map[string]*wsOperation{}, done: make(chan struct{}),
	}
	w.mu.Lock()
	closing := w.closing
	if !closing {
		w.conns[conn] = struct{}{}
	}
	w.mu.Unlock()
	if closing {
		conn.closed = true
		_ = goingAway(c, time.Now().Add(time.Second))
		_ = c.Close()
		cancel()
		close(conn.done)
		return
	}
	conn.uncount = w.opened()
	go conn.serve()
}

// takeSlot gives an authenticated socket one of its API key's
// MaxConnectionsPerKey slots; false if they are all taken.
func (w *websockets) takeSlot(c *wsConn, key pulid.ID) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	conns := w.perKey[key]
	if len(conns) >= w.limits.MaxConnectionsPerKey {
		return false
	}
	if conns == nil {
		conns = map[*wsConn]struct{}{}
		w.perKey[key] = conns
	}
	conns[c] = struct{}{}
	return true
}

// forget drops a closed socket, and frees its key's slot if it took one.
func (w *websockets) forget(c *wsConn, key *pulid.ID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.conns, c)
	if key != nil {
		if conns := w.perKey[*key]; conns != nil {
			delete(conns, c)
			if len(conns) == 0 {
				delete(w.perKey, *key)
			}
		}
	}
}

// keySweepInterval is how often each process asks the database which of
// the API keys holding its websockets were revoked or have expired. With
// the database shared by every replica, a revocation made anywhere, and
// an expiry, close the key's sockets within this interval (plus the
// query) on every replica.
const keySweepInterval = 2 * time.Second

// keySweepBatch bounds the IDs of one query, below every database's bound
// on parameters. With MaxConnectionsPerKey sockets per key, 10,000 idle
// sockets are typically far fewer keys: one query.
const keySweepBatch = 5000

// startKeySweep starts closing, with 4403, the sockets whose API key no
// longer authenticates, as invalid (one query for a list of key IDs)
// answers every keySweepInterval. Checking the few keys that hold sockets
// costs the same whether they hold one socket or thousands, idle or not.
func (w *websockets) startKeySweep(invalid func(ctx context.Context, keys []pulid.ID, now time.Time) ([]pulid.ID, error)) {
	ctx, cancel := context.WithCancel(context.Background())
	w.stopSweep, w.swept = cancel, make(chan struct{})
	go func() {
		defer close(w.swept)
		t := time.NewTicker(keySweepInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				w.sweepKeys(ctx, invalid)
			}
		}
	}()
}

// stopKeySweep stops the sweep and waits for it (a query in flight is
// cancelled).
func (w *websockets) stopKeySweep() {
	if w.stopSweep != nil {
		w.stopSweep()
		<-w.swept
	}
}

// sweepKeys closes the sockets of the keys that invalid names. A failed
// query is logged and tried again at the next tick: sockets stay open
// until the database answers.
func (w *websockets) sweepKeys(ctx context.Context, invalid func(context.Context, []pulid.ID, time.Time) ([]pulid.ID, error)) {
	w.mu.Lock()
	keys := make([]pulid.ID, 0, len(w.perKey))
	for k := range w.perKey {
		keys = append(keys, k)
	}
	w.mu.Unlock()
	for len(keys) > 0 {
		batch := keys[:min(len(keys), keySweepBatch)]
		keys = keys[len(batch):]
		qctx, cancel := context.WithTimeout(ctx, keySweepInterval)
		gone, err := invalid(qctx, batch, time.Now())
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("checking the API keys of open websockets", "err", err)
			}
			return
		}
		var conns []*wsConn
		w.mu.Lock()
		for _, k := range gone {
			for c := range w.perKey[k] {
				conns = append(conns, c)
			}
		}
		w.mu.Unlock()
		// Each on its own goroutine: a stalled peer holds its close for up
		// to WriteTimeout, and must not hold up the others or the next sweep.
		for _, c := range conns {
			go func() {
				c.connectionError("the API key has been revoked or has expired")
				c.close(closeForbidden, "API key revoked or expired")
			}()
		}
	}
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
		for _, c := range conns {
			_ = goingAway(c.c, deadline)
		}
	})
}

// goingAway sends the close frame of a stopping server: 1001.
func goingAway(c *websocket.Conn, deadline time.Time) error {
	return c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), deadline)
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
	for _, c := range conns {
		select {
		case <-c.done:
		case <-ctx.Done():
			c.close(0, "")
		}
	}
}

// openConns lists the open sockets; w.mu must be held.
func (w *websockets) openConns() []*wsConn {
	conns := make([]*wsConn, 0, len(w.conns))
	for c := range w.conns {
		conns = append(conns, c)
	}
	return conns
}

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
