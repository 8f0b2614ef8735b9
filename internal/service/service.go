// Package service holds Intake's use cases behind the GraphQL API, the CLI
// and the demo: campaigns, integrations and triggers with every rule of the
// product, scoped to the caller's organization (see internal/viewer).
// Resolvers only translate between GraphQL and these methods.
package service

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/internal/egress"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/secrets"
	"github.com/intake/intake/internal/store"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/progress"
	"github.com/intake/intake/sync/ratebudget"
)

// Service implements the use cases.
type Service struct {
	db        *ent.Client
	store     *store.Store
	providers *connector.Registry
	box       *secrets.Box
	opener    *Opener
	jobs      Jobs
	log       *slog.Logger
	connOpts  connector.Options
	broker    progress.Broker
	keys      *keyCache
}

// Deps are what a Service needs.
type Deps struct {
	Store     *store.Store
	Providers *connector.Registry
	Secrets   *secrets.Box
	Logger    *slog.Logger
	// Connector options used to reach external systems. A nil
	// Connector.Egress means the strictest policy (public addresses only),
	// never no policy: every request made on a tenant's behalf goes
	// through one. Connector.HTTPClient must stay nil so that it applies.
	Connector connector.Options
	// Jobs queues syncs and pushbacks (the sync engine); nil answers
	// testSync, cancelSyncRun, recordCallResult and retryPushback with
	// NOT_AVAILABLE (processes that run no engine, like the CLI).
	Jobs Jobs
	// Opener opens connectors from integrations' credentials; nil: one
	// made of Providers, Secrets, Connector and Budgets.
	Opener *Opener
	// Budgets pace the requests to each external account; nil: no pacing
	// (tools and tests that reach their own fakes).
	Budgets *ratebudget.Budgets
	// Broker carries API key revocations between processes (see
	// KeyCacheTTL).
	Broker progress.Broker
	// CacheKeys lets the service trust a key it looked up for KeyCacheTTL.
	// Only where Broker reaches every process that may revoke a key
	// (PostgreSQL's): a process that would not hear of a revocation must
	// look the key up every time.
	CacheKeys bool
}

// New returns a Service.
func New(d Deps) *Service {
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d.Connector = withEgress(d.Connector)
	if d.Opener == nil {
		d.Opener = NewOpener(d.Providers, d.Secrets, d.Connector, d.Budgets)
	}
	s := &Service{
		db: d.Store.Client, store: d.Store, providers: d.Providers, box: d.Secrets, log: log, connOpts: d.Connector,
		jobs: d.Jobs, opener: d.Opener, broker: d.Broker, keys: newKeyCache(),
	}
	if d.CacheKeys && d.Broker != nil {
		s.keys.follow(d.Broker)
	} else {
		s.keys.off = true
	}
	return s
}

// Providers returns the provider catalogue.
func (s *Service) Providers() []connector.Descriptor { return s.providers.Descriptors() }

// tx runs fn in a transaction and rolls back when it fails. Like
// store.InTx, it runs fn again when PostgreSQL aborts the transaction for
// a deadlock or a serialization conflict.
func (s *Service) tx(ctx context.Context, fn func(tx *ent.Tx) error) error {
	return store.Retry(ctx, func() error { return s.txOnce(ctx, fn) })
}

func (s *Service) txOnce(ctx context.Context, fn func(tx *ent.Tx) error) error {
	tx, err := s.db.Tx(ctx)
	if err != nil {
		return fmt.Errorf("starting transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			s.log.ErrorContext(ctx, "rollback failed", slog.Any("err", rerr))
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// checkText trims s and enforces a length in characters.
func checkText(field, s string, required bool, max int) (string, error) {
	s = strings.TrimSpace(s)
	if required && s == "" {
		return "", invalid(field, "must not be empty")
	}
	if strings.ContainsRune(s, 0) {
		return "", invalid(field, "must not contain NUL characters")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return "", invalid(field, "must be at most %d characters (got %d)", max, n)
	}
	return s, nil
}

// checkRegion validates an ISO 3166-1 alpha-2 region the phone library knows.
func checkRegion(field, r string) (string, error) {
	r = strings.ToUpper(strings.TrimSpace(r))
	if len(r) != 2 || phonenumbers.GetCountryCodeForRegion(r) == 0 {
		return "", invalid(field, "%q is not an ISO 3166-1 alpha-2 region with a phone numbering plan", r)
	}
	return r, nil
}

// checkID refuses IDs that are not of the expected type: they cannot exist.
func checkID(field string, id pulid.ID, prefix, what string) error {
	if !id.Valid() || id.Prefix() != prefix {
		return notFound(field, what)
	}
	return nil
}

// sealCredentials encrypts creds, bound to the integration's row.
func (s *Service) sealCredentials(org, id pulid.ID, creds connector.Credentials) ([]byte, error) {
	plain, err := json.Marshal(creds)
	if err != nil {
		return nil, err
	}
	return s.box.Seal(plain, credentialsAD(org, id))
}

// OpenConnector decrypts an integration's credentials and opens its connector.
func (s *Service) OpenConnector(in *ent.Integration) (connector.Connector, error) {
	return s.opener.Open(in)
}

// Opener opens connectors from integrations' sealed credentials.
type Opener struct {
	providers *connector.Registry
	box       *secrets.Box
	opts      connector.Options
	budgets   *ratebudget.Budgets
	// DefaultLimits, if set, adjusts the providers' default limits (see
	// app.Options.RateLimits).
	DefaultLimits func(connector.RateLimits) connector.RateLimits
}

// NewOpener returns an Opener whose connectors spend budgets (nil: no
// pacing).
func NewOpener(providers *connector.Registry, box *secrets.Box, opts connector.Options, budgets *ratebudget.Budgets) *Opener {
	return &Opener{providers: providers, box: box, opts: withEgress(opts), budgets: budgets}
}

// limited returns opts with the rate budget of the account creds reach
// under the integration's own limit rl (nil: the provider's).
func (o *Opener) limited(opts connector.Options, d connector.Descriptor, creds connector.Credentials, rl *schematype.RateLimit) connector.Options {
	if o.budgets != nil {
		lim, fixed := o.limitsOf(d, rl)
		opts.Limiter = o.budgets.Limiter(d.Key, ratebudget.AccountKey(d, creds), lim, fixed)
	}
	return opts
}

// limitsOf is RateLimitsOf with the defaults adjusted by DefaultLimits.
func (o *Opener) limitsOf(d connector.Descriptor, rl *schematype.RateLimit) (connector.RateLimits, bool) {
	lim, fixed := RateLimitsOf(d, rl)
	if !fixed && o.DefaultLimits != nil {
		lim = o.DefaultLimits(lim)
	}
	return lim, fixed
}

// RateLimitsOf are the limits an integration's requests are paced by: its
// own rl, fixed, or the provider's documented default, which the
// account's answers may adjust.
func RateLimitsOf(d connector.Descriptor, rl *schematype.RateLimit) (lim connector.RateLimits, fixed bool) {
	if rl == nil {
		return d.RateLimits, false
	}
	return connector.RateLimits{Requests: rl.Requests, Interval: time.Duration(rl.IntervalSeconds) * time.Second,
		SearchesPerSecond: rl.SearchesPerSecond, Daily: rl.Daily}, true
}

// defaultEgress is the policy of services given none: public addresses only.
var defaultEgress = &egress.Policy{}

// withEgress returns opts with an egress policy, the default if it has none:
// connectors opened from tenants' credentials must never dial freely.
func withEgress(opts connector.Options) connector.Options {
	if opts.Egress == nil {
		opts.Egress = defaultEgress
	}
	return opts
}

// Open decrypts an integration's credentials and opens its connector.
func (o *Opener) Open(in *ent.Integration) (connector.Connector, error) {
	p, ok := o.providers.Get(in.Provider)
	if !ok {
		return nil, fmt.Errorf("provider %s is not registered", in.Provider)
	}
	if len(in.Credentials) == 0 {
		return nil, invalid("id", "the integration is disconnected: connect it again")
	}
	plain, err := o.box.Open(in.Credentials, credentialsAD(in.OrganizationID, in.ID))
	if err != nil {
		return nil, fmt.Errorf("opening credentials of integration %s: %w", in.ID, err)
	}
	var creds connector.Credentials
	if err := json.Unmarshal(plain, &creds); err != nil {
		return nil, fmt.Errorf("decoding credentials of integration %s: %w", in.ID, err)
	}
	return p.Open(creds, o.limited(o.opts, p.Descriptor(), creds, in.RateLimit))
}

// Account returns the rate budget's key of an integration's external
// account: stored with it, or, for integrations stored before it was,
// derived from its credentials.
func (o *Opener) Account(in *ent.Integration) (string, error) {
	if in.RateAccount != "" {
		return in.RateAccount, nil
	}
	p, ok := o.providers.Get(in.Provider)
	if !ok || len(in.Credentials) == 0 {
		return "", nil
	}
	plain, err := o.box.Open(in.Credentials, credentialsAD(in.OrganizationID, in.ID))
	if err != nil {
		return "", fmt.Errorf("opening credentials of integration %s: %w", in.ID, err)
	}
	var creds connector.Credentials
	if err := json.Unmarshal(plain, &creds); err != nil {
		return "", fmt.Errorf("decoding credentials of integration %s: %w", in.ID, err)
	}
	return ratebudget.AccountKey(p.Descriptor(), creds), nil
}

func credentialsAD(org, id pulid.ID) []byte {
	return []byte("integration/" + string(org) + "/" + string(id))
}
