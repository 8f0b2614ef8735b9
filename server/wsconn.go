package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/gorilla/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/intake/intake/graph"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/viewer"
)

// The websocket subprotocols: graphql-transport-ws (the graphql-ws
// library's protocol) and the legacy graphql-ws of
// subscriptions-transport-ws, which GraphQL playgrounds still speak.
const (
	subprotocolTransportWS = "graphql-transport-ws"
	subprotocolLegacyWS    = "graphql-ws"
)

// Close codes beyond RFC 6455's, as graphql-transport-ws defines them. The
// legacy protocol gets the same codes, after a connection_error that says
// why.
const (
	closeBadRequest         = 4400 // a message the protocol does not allow here
	closeUnauthorized       = 4401 // subscribe before connection_init
	closeForbidden          = 4403 // connection_init without a valid API key, or the key was revoked or expired since
	closeInitTimeout        = 4408 // no connection_init within InitTimeout
	closeDuplicateID        = 4409 // subscribe with the ID of a running operation
	closeTooManyConnections = 4429 // the API key holds MaxConnectionsPerKey sockets (or a second connection_init)
)

// wsMessage is a message of either protocol.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wsConn is one GraphQL websocket.
//
// While idle it holds one goroutine, the one reading the socket (serve),
// and no write buffer. Pings, and the legacy protocol's keep-alives, are
// sent from a timer. An operation runs on a goroutine of its own only
// while it has something to do: a query or mutation until it is answered;
// a subscription while its stream has events to send (see graph.Demand).
type wsConn struct {
	sockets *websockets
	exec    graphql.GraphExecutor
	c       *websocket.Conn
	legacy  bool            // graphql-ws, else graphql-transport-ws
	ctx     context.Context // the socket's; after connection_init, with its viewer
	logCtx  context.Context // the socket's as accepted (its request ID), for any goroutine
	cancel  context.CancelFunc
	opened  time.Time
	uncount func() // ends the socket's count in the metrics
	// remoteAddr is the peer's address, which failed authentications are
	// counted by.
	remoteAddr string

	// Set by connection_init on the reading goroutine, before any operation
	// starts.
	key           *pulid.ID    // the API key's slot this socket holds
	subscriptions atomic.Int64 // subscriptions running
	initialised   atomic.Bool

	wmu sync.Mutex // gorilla allows one writer at a time

	mu     sync.Mutex
	ops    map[string]*wsOperation
	pinger *time.Timer
	closed bool
	done   chan struct{} // closed once the socket is closed
}

// serve reads the socket until it closes.
func (c *wsConn) serve() {
	l := c.sockets.limits
	_ = c.c.SetReadDeadline(time.Now().Add(l.InitTimeout))
	c.c.SetPongHandler(func(string) error { return c.alive() })
	c.mu.Lock()
	c.pinger = time.AfterFunc(l.PingInterval, c.ping)
	c.mu.Unlock()
	for {
		var m wsMessage
		_, r, err := c.c.NextReader()
		if err == nil {
			if err = json.NewDecoder(r).Decode(&m); err != nil {
				c.protocolError("the message is not a JSON object with a type")
				return
			}
		}
		if err != nil {
			c.readFailed(err)
			return
		}
		if c.initialised.Load() {
			_ = c.alive()
		}
		if !c.handle(m) {
			return
		}
	}
}

// alive moves the dead-peer deadline on: the peer answered a ping or sent
// a message. Before connection_init the deadline stays the init timeout.
func (c *wsConn) alive() error {
	if !c.initialised.Load() {
		return nil
	}
	l := c.sockets.limits
	return c.c.SetReadDeadline(time.Now().Add(l.PingInterval + l.PongTimeout))
}

// readFailed closes the socket after a failed read.
func (c *wsConn) readFailed(err error) {
	var ne net.Error
	var ce *websocket.CloseError
	switch {
	case !c.initialised.Load() && errors.As(err, &ne) && ne.Timeout():
		c.close(closeInitTimeout, "Connection initialisation timeout")
	case errors.As(err, &ce), errors.Is(err, websocket.ErrReadLimit):
		// The peer closed the socket (gorilla has answered its close
		// frame), or sent a message over the limit (gorilla has sent
		// 1009).
		c.close(0, "")
	default:
		// A dead peer (no pong in time), a reset or EOF.
		c.sockets.log.DebugContext(c.ctx, "websocket read failed", "err", err)
		c.close(websocket.CloseNormalClosure, "")
	}
}

// handle acts on one message; false once the socket is closed.
func (c *wsConn) handle(m wsMessage) bool {
	if !c.initialised.Load() {
		switch {
		case m.Type == "connection_init":
			return c.init(m.Payload)
		case c.legacy && m.Type == "connection_terminate":
			c.close(websocket.CloseNormalClosure, "")
			return false
		case !c.legacy && m.Type == "subscribe":
			c.close(closeUnauthorized, "Unauthorized")
			return false
		}
		c.protocolError(fmt.Sprintf("unexpected message %q before connection_init", m.Type))
		return false
	}
	switch {
	case m.Type == "connection_init":
		c.close(closeTooManyConnections, "Too many initialisation requests")
		return false
	case m.Type == "subscribe" && !c.legacy, m.Type == "start" && c.legacy:
		return c.start(m)
	case m.Type == "complete" && !c.legacy, m.Type == "stop" && c.legacy:
		c.mu.Lock()
		op := c.ops[m.ID]
		c.mu.Unlock()
		if op != nil {
			op.stop()
		}
	case m.Type == "ping" && !c.legacy:
		c.write(wsMessage{Type: "pong", Payload: m.Payload})
	case m.Type == "pong" && !c.legacy:
	case m.Type == "connection_terminate" && c.legacy:
		c.close(websocket.CloseNormalClosure, "")
		return false
	default:
		c.protocolError(fmt.Sprintf("unexpected message %q", m.Type))
		return false
	}
	return true
}

// protocolError closes the socket with 4400, after a connection_error on
// the legacy protocol.
func (c *wsConn) protocolError(msg string) {
	c.connectionError(msg)
	c.close(closeBadRequest, msg)
}

// connectionError tells a legacy client why its socket is about to close;
// graphql-transport-ws has only the close frame's reason for that.
func (c *wsConn) connectionError(msg string) {
	if c.legacy {
		payload, _ := json.Marshal(gqlerror.Error{Message: msg})
		c.write(wsMessage{Type: "connection_error", Payload: payload})
	}
}

// init authenticates the socket from connection_init's payload
// ({"Authorization": "Bearer <key>"}) and takes one of its API key's
// connection slots.
func (c *wsConn) init(payload json.RawMessage) bool {
	var p struct {
		Authorization  string `json:"Authorization"`
		Authorization2 string `json:"authorization"`
	}
	if len(payload) > 0 && json.Unmarshal(payload, &p) != nil {
		c.protocolError("the connection_init payload is not a JSON object")
		return false
	}
	if p.Authorization == "" {
		p.Authorization = p.Authorization2
	}
	v, err := c.sockets.auth(c.ctx, c.remoteAddr, p.Authorization)
	if err != nil {
		e := service.Classify(err)
		c.connectionError(e.Message)
		switch e.Code {
		case service.CodeRateLimited: // too many failed authentications from this address
			c.close(closeTooManyConnections, "Too many failed authentications")
		case service.CodeInternal:
			c.sockets.log.ErrorContext(c.logCtx, "authenticating a websocket", "err", err)
			c.close(websocket.CloseTryAgainLater, "Try again later")
		default:
			c.close(closeForbidden, "Forbidden")
		}
		return false
	}
	if !c.sockets.takeSlot(c, v.KeyID) {
		c.connectionError(fmt.Sprintf("this API key already has %d websockets open, the most allowed: close one first",
			c.sockets.limits.MaxConnectionsPerKey))
		c.close(closeTooManyConnections, "Too many connections")
		return false
	}
	c.mu.Lock()
	c.key = &v.KeyID
	closed := c.closed
	c.mu.Unlock()
	if closed { // closed meanwhile (server stopping): give the slot back
		c.sockets.forget(c, &v.KeyID)
		return false
	}
	c.ctx = viewer.NewContext(c.ctx, v)
	c.initialised.Store(true)
	_ = c.alive()
	c.write(wsMessage{Type: "connection_ack"})
	if c.legacy {
		c.write(wsMessage{Type: "ka"})
	}
	return true
}

// ping sends a ping control frame, and a legacy client a keep-alive
// message, every PingInterval until the socket closes. A ping that cannot
// be written needs no handling: without its pong, the read deadline drops
// the peer.
func (c *wsConn) ping() {
	_ = c.c.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.sockets.limits.WriteTimeout))
	if c.legacy && c.initialised.Load() {
		c.write(wsMessage{Type: "ka"})
	}
	c.mu.Lock()
	if !c.closed {
		c.pinger.Reset(c.sockets.limits.PingInterval)
	}
	c.mu.Unlock()
}

// start registers an operation, parses and validates it here (one at a
// time per socket, like every message), and runs it on a goroutine of its
// own (wsOperation.run).
func (c *wsConn) start(m wsMessage) bool {
	if m.ID == "" {
		c.protocolError("an operation message without an id")
		return false
	}
	op := &wsOperation{c: c, id: m.ID}
	op.ctx, op.cancel = context.WithCancel(c.ctx)
	c.mu.Lock()
	_, dup := c.ops[m.ID]
	closed := c.closed
	if !dup && !closed {
		c.ops[m.ID] = op
	}
	c.mu.Unlock()
	switch {
	case closed:
		op.cancel()
		return false
	case dup:
		op.cancel()
		c.close(closeDuplicateID, "Subscriber for "+m.ID+" already exists")
		return false
	}
	if ctx, rc, ok := op.prepare(m.Payload, graphql.Now()); ok {
		go op.run(ctx, rc)
	}
	return true
}

// write sends a message; a socket that cannot take it within WriteTimeout is
// closed.
func (c *wsConn) write(m wsMessage) {
	c.wmu.Lock()
	err := c.c.SetWriteDeadline(time.Now().Add(c.sockets.limits.WriteTimeout))
	if err == nil {
		var w interface {
			Write([]byte) (int, error)
			Close() error
		}
		if w, err = c.c.NextWriter(websocket.TextMessage); err == nil {
			err = errors.Join(json.NewEncoder(w).Encode(m), w.Close())
		}
	}
	c.wmu.Unlock()
	if err != nil {
		c.close(0, "")
	}
}

func (c *wsConn) sendResponse(id string, resp *graphql.Response) {
	payload, err := json.Marshal(resp)
	if err != nil {
		c.sockets.log.ErrorContext(c.logCtx, "encoding a websocket response", "err", err)
		return
	}
	typ := "next"
	if c.legacy {
		typ = "data"
	}
	c.write(wsMessage{ID: id, Type: typ, Payload: payload})
}

func (c *wsConn) sendErrors(id string, errs ...*gqlerror.Error) {
	payload, _ := json.Marshal(errs)
	c.write(wsMessage{ID: id, Type: "error", Payload: payload})
}

func (c *wsConn) complete(id string) { c.write(wsMessage{ID: id, Type: "complete"}) }

// close closes the socket, with a close frame unless code is 0, and ends
// its operations. Later calls do nothing.
func (c *wsConn) close(code int, reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	if c.pinger != nil {
		c.pinger.Stop()
	}
	ops := make([]*wsOperation, 0, len(c.ops))
	for _, op := range c.ops {
		ops = append(ops, op)
	}
	key := c.key
	c.mu.Unlock()
	if code != 0 {
		_ = c.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	}
	// The access log line of the upgrade has status 101; this one says how
	// long the socket lived and how it ended (code 0: closed by the peer,
	// or cut without a close frame).
	c.sockets.log.InfoContext(c.logCtx, "websocket closed", slog.Duration("duration", time.Since(c.opened)),
		slog.Int("code", code), slog.Int("operations", len(ops)))
	c.cancel()
	for _, op := range ops {
		op.stop()
	}
	_ = c.c.Close()
	c.sockets.forget(c, key)
	c.uncount()
	close(c.done)
}

// wsOperation is one running operation of a socket.
type wsOperation struct {
	c      *wsConn
	id     string
	ctx    context.Context // cancelled when the operation ends or is stopped
	cancel context.CancelFunc
	// Set by prepare, before the operation is dispatched.
	subscription bool // counted in c.subscriptions
	demand       *graph.Demand

	mu        sync.Mutex
	responses graphql.ResponseHandler // set once dispatched, if the stream took the demand
	rctx      context.Context         // the context to call responses with
	pending   int                     // responses the stream has announced (wake) and not yet given
	reading   bool                    // a goroutine is calling responses
	stopping  bool                    // cancelled: call responses until it returns nil
	ended     bool
}

// prepare parses and validates the operation, and takes a subscription's
// place; false if it ended there (with an error message, or a result with
// errors and complete).
func (op *wsOperation) prepare(payload json.RawMessage, start time.Time) (context.Context, *graphql.OperationContext, bool) {
	c := op.c
	var params graphql.RawParams
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&params); err != nil {
		c.sendErrors(op.id, &gqlerror.Error{Message: "the payload is not a GraphQL request",
			Extensions: map[string]any{"code": codeBadRequest}})
		op.finish(false) // an error message ends its operation
		return nil, nil, false
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	ctx := graphql.StartOperationTrace(op.ctx)
	rc, errs := c.exec.CreateOperationContext(ctx, &params)
	if errs != nil {
		resp := c.exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		if errcode.GetErrorKind(errs) == errcode.KindProtocol {
			c.sendErrors(op.id, resp.Errors...)
			op.finish(false)
			return nil, nil, false
		}
		c.sendResponse(op.id, resp)
		op.finish(true)
		return nil, nil, false
	}
	if rc.Operation != nil && rc.Operation.Operation == ast.Subscription {
		// A socket runs at most MaxSubscriptions at once. One more gets an
		// error message for its ID; the others run on.
		if max := int64(c.sockets.limits.MaxSubscriptions); c.subscriptions.Add(1) > max {
			c.subscriptions.Add(-1)
			c.sendErrors(op.id, &gqlerror.Error{
				Message:    fmt.Sprintf("this connection already runs %d subscriptions, the most allowed: complete one first", max),
				Extensions: map[string]any{"code": service.CodeRateLimited},
			})
			op.finish(false)
			return nil, nil, false
		}
		op.subscription = true
	}
	return ctx, rc, true
}

// run dispatches the operation. A query or mutation is answered here; so
// is a subscription whose resolver did not take the demand. A subscription
// that did leaves: from now on its stream's wake starts a reader when an
// event is due (wake, read).
func (op *wsOperation) run(ctx context.Context, rc *graphql.OperationContext) {
	c := op.c
	op.demand = graph.NewDemand(op.wake)
	ctx = graph.WithDemand(graphql.WithOperationContext(ctx, rc), op.demand)
	defer func() {
		if r := recover(); r != nil {
			err := rc.Recover(ctx, r)
			var gqlErr *gqlerror.Error
			if !errors.As(err, &gqlErr) {
				gqlErr = &gqlerror.Error{Message: "internal error"}
			}
			c.sendErrors(op.id, gqlErr)
			op.finish(false)
		}
	}()
	responses, ctx := c.exec.DispatchOperation(ctx, rc)
	if op.demand.Claimed() {
		op.mu.Lock()
		op.responses, op.rctx = responses, ctx
		read := (op.pending > 0 || op.stopping) && !op.reading
		op.reading = op.reading || read
		op.mu.Unlock()
		if read {
			op.read()
		}
		return
	}
	for {
		resp := responses(ctx)
		if resp == nil {
			break
		}
		c.sendResponse(op.id, resp)
	}
	op.finish(true)
}

// wake is the stream's announcement of one more response (graph.Demand).
func (op *wsOperation) wake() {
	op.mu.Lock()
	op.pending++
	read := op.responses != nil && !op.reading && !op.ended
	op.reading = op.reading || read
	op.mu.Unlock()
	if read {
		go op.read()
	}
}

// read calls the response handler once per announced response, or, once
// stopping, until it returns nil; then the goroutine ends.
func (op *wsOperation) read() {
	for {
		op.mu.Lock()
		if op.ended || (!op.stopping && op.pending == 0) {
			op.reading = false
			op.mu.Unlock()
			return
		}
		stopping := op.stopping
		if !stopping {
			op.pending--
		}
		op.mu.Unlock()
		resp := op.responses(op.rctx)
		if resp == nil {
			op.finish(true)
			return
		}
		if !stopping {
			op.c.sendResponse(op.id, resp)
		}
	}
}

// stop cancels the operation (the client completed it, or the socket
// closed); its response handler is then read to its end, so that every
// operation ends the same way (the metrics count on it).
func (op *wsOperation) stop() {
	op.cancel()
	op.mu.Lock()
	op.stopping = true
	read := op.responses != nil && !op.reading && !op.ended
	op.reading = op.reading || read
	op.mu.Unlock()
	if read {
		go op.read()
	}
}

// finish ends the operation: it tells the client (complete, unless the
// operation ended with an error message, or the socket is closing), and
// frees the operation's ID and place.
func (op *wsOperation) finish(complete bool) {
	op.mu.Lock()
	if op.ended {
		op.mu.Unlock()
		return
	}
	op.ended = true
	op.mu.Unlock()
	op.cancel()
	c := op.c
	c.mu.Lock()
	if c.ops[op.id] == op {
		delete(c.ops, op.id)
	}
	closed := c.closed
	c.mu.Unlock()
	if op.subscription {
		c.subscriptions.Add(-1)
	}
	if complete && !closed {
		c.complete(op.id)
	}
}
