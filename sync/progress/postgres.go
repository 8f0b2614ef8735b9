package progress

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"
)

// KindResync tells a subscriber that notices may have been lost (the
// replica's listener lost its connection to PostgreSQL and got it back, or
// has just started listening). It carries no ID, run or campaign: a
// subscriber that receives it must re-read from the database everything it
// follows, exactly as if every object it follows had changed.
const KindResync Kind = "resync"

// Channel is the PostgreSQL NOTIFY channel the Postgres broker uses.
const Channel = "intake_progress"

// MaxPayload is the largest NOTIFY payload, in bytes, that PostgreSQL
// accepts (the payload must be shorter than 8000 bytes).
const MaxPayload = 7999

// ErrPayloadTooLarge is returned by Publish and PublishTx for a notice whose
// JSON encoding is longer than MaxPayload.
var ErrPayloadTooLarge = errors.New("progress: notice too large for a PostgreSQL NOTIFY payload")

// FallbackApplicationName is the application_name of the listener's
// connection (visible in pg_stat_activity) unless the DSN sets one.
const FallbackApplicationName = "intake-progress"

// Defaults for the Postgres broker's tunables.
const (
	DefaultMinReconnect = 500 * time.Millisecond
	DefaultMaxReconnect = 15 * time.Second
	DefaultPingInterval = 30 * time.Second
)

// Postgres publishes notices with NOTIFY on one channel and listens with a
// lib/pq pq.Listener, dispatching to a Local broker in this process, so that
// a notice published on any replica reaches the subscribers of every
// replica. The payload is the JSON Notice.
//
// Nothing is delivered, not even to this replica's own subscribers, until
// Start has returned: a notice comes back to its publisher's replica
// through LISTEN like to every other.
//
// Whenever notices may have been lost (the listener reconnected, or Start
// began listening after subscriptions were opened) every subscription
// receives a Notice of KindResync.
type Postgres struct {
	// MinReconnect and MaxReconnect bound the listener's reconnect backoff;
	// PingInterval is how long the listener may be idle before it pings the
	// server (which lets it notice a dead connection). Set them before Start;
	// zero means the Default.
	MinReconnect, MaxReconnect, PingInterval time.Duration

	db    *sql.DB
	dsn   string
	log   *slog.Logger
	local *Local

	mu      sync.Mutex
	started bool
	stop    chan struct{} // closed by Stop (or by a failed Start)
	done    chan struct{} // closed once every goroutine has returned

	lastRecv atomic.Int64 // unix nanoseconds of the last notification

	outMu   sync.Mutex
	outbox  []outgoing // notices waiting for send
	sending bool       // a send goroutine is running
}

var _ Broker = (*Postgres)(nil)

// NewPostgres returns a broker that publishes through db and listens on a
// dedicated connection to dsn (the same database). log may be nil.
func NewPostgres(db *sql.DB, dsn string, log *slog.Logger) *Postgres {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Postgres{db: db, dsn: withFallbackApplicationName(dsn), log: log, local: NewLocal()}
}

// Start connects the listener, LISTENs on Channel and starts dispatching. It
// returns once the listener is listening, or with the first connection
// error, or with ctx's error; ctx bounds only the start, Stop ends the
// broker. Subscriptions opened before Start receive a KindResync once it is
// listening. A broker starts at most once.
func (p *Postgres) Start(ctx context.Context) error {
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return errors.New("progress: Postgres broker already started")
	}
	p.started = true
	stop, done := make(chan struct{}), make(chan struct{})
	p.stop, p.done = stop, done
	p.mu.Unlock()

	var connected atomic.Bool
	failed := make(chan error, 1)
	l := pq.NewListener(p.dsn, orDefault(p.MinReconnect, DefaultMinReconnect), orDefault(p.MaxReconnect, DefaultMaxReconnect),
		func(ev pq.ListenerEventType, err error) {
			// Called on the listener's goroutine: never block here.
			switch ev {
			case pq.ListenerEventConnected:
				connected.Store(true)
				p.log.Debug("progress listener connected")
			case pq.ListenerEventConnectionAttemptFailed:
				if !connected.Load() {
					select {
					case failed <- err:
					default:
					}
				}
				p.log.Warn("progress listener cannot connect", slog.Any("err", err))
			case pq.ListenerEventDisconnected:
				p.log.Warn("progress listener disconnected", slog.Any("err", err))
			case pq.ListenerEventReconnected:
				// The nil notification that follows on Notify triggers the resync.
				p.log.Info("progress listener reconnected; subscribers resync")
			}
		})

	var wg sync.WaitGroup
	// Drain Notify from the start: the listener blocks while Notify is full.
	wg.Go(func() { p.dispatch(l.Notify, stop) })
	p.lastRecv.Store(time.Now().UnixNano())
	wg.Go(func() { p.ping(l, stop) })
	listened := make(chan error, 1)
	wg.Go(func() { listened <- l.Listen(Channel) })
	// The only goroutine that closes the listener: it waits for Stop, so that
	// Close (which waits for a connection attempt or a ping in progress)
	// never holds up Start or Stop beyond their contexts.
	go func() {
		<-stop
		_ = l.Close()
		wg.Wait() // dispatch returns once the listener has closed Notify
		close(done)
	}()

	var err error
	select {
	case err = <-listened:
	case err = <-failed:
	case <-ctx.Done():
		err = ctx.Err()
	case <-stop:
		err = errors.New("stopped while starting")
	}
	if err != nil {
		p.mu.Lock()
		select {
		case <-stop:
		default:
			close(stop)
		}
		p.mu.Unlock()
		return fmt.Errorf("progress: listening on PostgreSQL: %w", err)
	}
	// Anyone who subscribed before now may have missed a notice.
	p.local.Broadcast(Notice{Kind: KindResync})
	return nil
}

// Stop closes the listener and waits, until ctx is done, for every goroutine
// of the broker to return. Subscriptions stay open but receive nothing more.
// Stop without Start, and a second Stop, return nil (once all is stopped).
func (p *Postgres) Stop(ctx context.Context) error {
	p.mu.Lock()
	stop, done := p.stop, p.done
	if stop != nil {
		select {
		case <-stop: // already stopped, or Start failed
		default:
			close(stop)
		}
	}
	p.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("progress: stopping the PostgreSQL listener: %w", ctx.Err())
	}
}

// dispatch delivers what the listener receives to this process's
// subscribers until the listener closes Notify. A nil notification (sent by
// lib/pq after it reconnected, LISTEN re-established) means notices may have
// been lost: every subscriber resyncs.
func (p *Postgres) dispatch(notify <-chan *pq.Notification, stop <-chan struct{}) {
	for n := range notify {
		p.lastRecv.Store(time.Now().UnixNano())
		select {
		case <-stop:
			continue // keep draining so the listener can shut down
		default:
		}
		if n == nil {
			p.local.Broadcast(Notice{Kind: KindResync})
			continue
		}
		var nt Notice
		if err := json.Unmarshal([]byte(n.Extra), &nt); err != nil {
			p.log.Warn("progress: ignoring a malformed notification", slog.String("channel", n.Channel), slog.Any("err", err))
			continue
		}
		p.local.Dispatch(nt)
	}
}

// ping pings the server whenever the listener has been idle for a
// PingInterval, so that a connection that died silently is noticed (and
// re-established by the listener). It runs apart from dispatch: a ping waits
// for the server's reply, which lib/pq cannot read while Notify is full.
func (p *Postgres) ping(l *pq.Listener, stop <-chan struct{}) {
	every := orDefault(p.PingInterval, DefaultPingInterval)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if time.Since(time.Unix(0, p.lastRecv.Load())) < every {
			continue
		}
		if err := l.Ping(); err != nil {
			p.log.Debug("progress listener ping failed", slog.Any("err", err))
		}
	}
}

// notifyBatch is the most notices one NOTIFY statement sends.
const notifyBatch = 500

// outgoing is a notice waiting for its NOTIFY.
type outgoing struct {
	payload string
	sent    chan error
}

// Publish implements Broker: it sends n with NOTIFY through the broker's
// *sql.DB and returns once it is sent. Notices published at the same time
// share one statement: every NOTIFY is a commit that takes PostgreSQL's
// notification queue lock, and one per notice would serialise busy
// publishers.
func (p *Postgres) Publish(ctx context.Context, n Notice) error {
	payload, err := Payload(n)
	if err != nil {
		return err
	}
	o := outgoing{payload: payload, sent: make(chan error, 1)}
	p.outMu.Lock()
	p.outbox = append(p.outbox, o)
	if !p.sending {
		p.sending = true
		go p.send()
	}
	p.outMu.Unlock()
	select {
	case err := <-o.sent:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// send sends the outbox, a batch per statement, until it is empty.
func (p *Postgres) send() {
	for {
		p.outMu.Lock()
		batch := p.outbox[:min(len(p.outbox), notifyBatch)]
		if len(batch) == 0 {
			p.outbox, p.sending = nil, false
			p.outMu.Unlock()
			return
		}
		p.outbox = p.outbox[len(batch):]
		p.outMu.Unlock()
		payloads := make(pq.StringArray, len(batch))
		for i, o := range batch {
			payloads[i] = o.payload
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		// unnest yields the array in order, and pg_notify queues in call
		// order. PostgreSQL sends identical notices of one transaction once,
		// which only coalesces what subscribers would re-read anyway.
		_, err := p.db.ExecContext(ctx, "SELECT pg_notify($1, n) FROM unnest($2::text[]) AS n", Channel, payloads)
		cancel()
		if err != nil {
			err = fmt.Errorf("progress: publishing: %w", err)
		}
		for _, o := range batch {
			o.sent <- err
		}
	}
}

// PublishTx sends n with NOTIFY inside tx: it is delivered only if, and
// once, tx commits.
func (p *Postgres) PublishTx(ctx context.Context, tx *sql.Tx, n Notice) error {
	return p.notify(ctx, tx, n)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (p *Postgres) notify(ctx context.Context, db execer, n Notice) error {
	payload, err := Payload(n)
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, "SELECT pg_notify($1, $2)", Channel, payload); err != nil {
		return fmt.Errorf("progress: publishing: %w", err)
	}
	return nil
}

// Payload is n as sent with NOTIFY: its JSON encoding, refused with
// ErrPayloadTooLarge when longer than MaxPayload.
func Payload(n Notice) (string, error) {
	b, err := json.Marshal(n)
	if err != nil {
		return "", fmt.Errorf("progress: encoding notice: %w", err)
	}
	if len(b) > MaxPayload {
		return "", fmt.Errorf("%w: %d bytes, at most %d", ErrPayloadTooLarge, len(b), MaxPayload)
	}
	return string(b), nil
}

// Subscribe implements Broker.
func (p *Postgres) Subscribe(topic string) *Subscription { return p.local.Subscribe(topic) }

// Subscribers returns the number of open subscriptions in this process (for
// metrics).
func (p *Postgres) Subscribers() int { return p.local.Subscribers() }

// Broadcast delivers n to every subscription, whatever its topic. It never
// blocks.
func (l *Local) Broadcast(n Notice) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, subs := range l.subs {
		for s := range subs {
			s.deliver(n)
		}
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// withFallbackApplicationName names the listener's connection in
// pg_stat_activity unless dsn (a URL or key=value pairs) already does.
func withFallbackApplicationName(dsn string) string {
	if strings.Contains(dsn, "application_name") {
		return dsn
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return dsn // let lib/pq report it
		}
		q := u.Query()
		q.Set("fallback_application_name", FallbackApplicationName)
		u.RawQuery = q.Encode()
		return u.String()
	}
	if strings.TrimSpace(dsn) == "" {
		return dsn
	}
	return dsn + " fallback_application_name=" + FallbackApplicationName
}
