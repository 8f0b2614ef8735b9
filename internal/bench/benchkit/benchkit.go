// Package benchkit holds what the benchmark commands share: a scratch
// PostgreSQL database per run, the configuration of the Intake they
// measure, and readings of the machine.
package benchkit

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	_ "github.com/lib/pq"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/integration"
	"github.com/intake/intake/internal/config"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/secrets"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/store"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/connector/providers"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/fakes"
)

// DefaultPostgresURL is the server used when neither -postgres nor
// TEST_DATABASE_URL is given.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresURL checks a -postgres flag's value: a postgres:// URL with a
// host. Without an sslmode it gets sslmode=disable (the server is on
// loopback).
func PostgresURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return "", fmt.Errorf("-postgres: %q is not a postgres:// URL", raw)
	}
	if !u.Query().Has("sslmode") {
		q := u.Query()
		q.Set("sslmode", "disable")
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// SearchAll picks the search of the provider d that fetches every person
// of data: the talent pool search over enough days where the provider has
// one, else new applications (whose first run looks back far enough).
func SearchAll(d connector.Descriptor, data sandbox.Dataset) (string, map[string]any) {
	if st, ok := d.SearchType(connector.SearchTalentPool); ok {
		for _, f := range st.Fields {
			if f.Key == "daysSinceLastChange" {
				span := time.Since(data.CreatedAt(0)) + time.Hour
				return st.Key, map[string]any{f.Key: int(span/(24*time.Hour)) + 1}
			}
		}
	}
	return connector.SearchNewApplications, map[string]any{}
}

// dbSeq tells apart the scratch databases of one process.
var dbSeq atomic.Int64

// ScratchDatabase creates a new database named prefix_<pid>_<time>_<n> on
// server and returns its URL, its name and a function that drops it.
func ScratchDatabase(ctx context.Context, server, prefix string) (dbURL, name string, drop func() error, err error) {
	admin, err := sql.Open("postgres", server)
	if err != nil {
		return "", "", nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := admin.PingContext(pctx); err != nil {
		admin.Close()
		return "", "", nil, fmt.Errorf("-postgres: cannot reach %s: %w", Redact(server), err)
	}
	name = fmt.Sprintf("%s_%d_%d_%d", prefix, os.Getpid(), time.Now().UnixNano()%1e9, dbSeq.Add(1))
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", "", nil, fmt.Errorf("creating the scratch database: %w", err)
	}
	u, _ := url.Parse(server)
	u.Path = "/" + name
	drop = func() error {
		defer admin.Close()
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		// FORCE: a run that failed may leave connections open.
		_, err := admin.ExecContext(dctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		return err
	}
	return u.String(), name, drop, nil
}

// Scratch is a migrated scratch database with its store open.
type Scratch struct {
	URL, Name string
	Store     *store.Store
	drop      func() error
}

// OpenScratch creates a scratch database on server (see
// ScratchDatabase), opens it and migrates it.
func OpenScratch(ctx context.Context, server, prefix string) (*Scratch, error) {
	dbURL, name, drop, err := ScratchDatabase(ctx, server, prefix)
	if err != nil {
		return nil, err
	}
	sc := &Scratch{URL: dbURL, Name: name, drop: drop}
	if sc.Store, err = store.Open(ctx, dbURL, ""); err == nil {
		if _, err = sc.Store.Migrate(ctx); err != nil {
			err = fmt.Errorf("migrating: %w", err)
		}
	}
	if err != nil {
		sc.Close(false, io.Discard, io.Discard, "")
		return nil, err
	}
	return sc, nil
}

// Close closes the store and drops the database, or with keep says on
// stdout where it is kept; cmd prefixes a failure to drop, on stderr.
func (sc *Scratch) Close(keep bool, stdout, stderr io.Writer, cmd string) {
	if sc.Store != nil {
		sc.Store.Close()
	}
	if keep {
		fmt.Fprintf(stdout, "kept the scratch database: %s\n", sc.URL)
		return
	}
	if err := sc.drop(); err != nil {
		fmt.Fprintf(stderr, "%s: dropping %s: %v\n", cmd, sc.Name, err)
	}
}

// Redact is a database URL without its password, for messages.
func Redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "the server"
	}
	return p.Redacted()
}

// LoadAverage is the machine's 1, 5 and 15 minute load averages.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// LoopbackAllow is INTAKE_EGRESS_ALLOW of a benchmark's Intake: the fakes
// it talks to listen on loopback, which the production default refuses.
const LoopbackAllow = "127.0.0.0/8"

// NewEncryptionKey returns a fresh credentials key as INTAKE_ENCRYPTION_KEY
// takes it: base64 of 32 random bytes.
func NewEncryptionKey() (string, error) {
	key := make([]byte, secrets.KeySize)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(key), nil
}

// Config is the configuration of the Intake a benchmark measures, read by
// config.FromEnv as main.go reads the process environment, but from env
// alone: INTAKE_* variables of the shell that runs a benchmark must not
// change what it measures. Unless env sets them, DATABASE_URL is dbURL,
// INTAKE_ADDR a loopback port of the system's choosing, INTAKE_EGRESS_ALLOW
// LoopbackAllow, and INTAKE_ENCRYPTION_KEY a fresh key.
func Config(dbURL string, env map[string]string) (config.Config, error) {
	vars := map[string]string{"DATABASE_URL": dbURL, "INTAKE_ADDR": "127.0.0.1:0", "INTAKE_EGRESS_ALLOW": LoopbackAllow}
	if v := os.Getenv("GOGC"); v != "" {
		vars["GOGC"] = v // the runtime has applied it: Intake keeps it
	}
	maps.Copy(vars, env)
	if vars["INTAKE_ENCRYPTION_KEY"] == "" {
		key, err := NewEncryptionKey()
		if err != nil {
			return config.Config{}, err
		}
		vars["INTAKE_ENCRYPTION_KEY"] = key
	}
	return config.FromEnv(func(k string) string { return vars[k] })
}

// Setup is what a benchmark created to sync: an organization acted for by
// Ctx (an admin key's viewer), an integration connected to a provider's
// fake, and a campaign with an enabled trigger that fetches every person.
type Setup struct {
	Ctx        context.Context
	OrgID      pulid.ID
	Integ      *ent.Integration
	Campaign   *ent.Campaign
	Trigger    *ent.Trigger
	SearchType string
	Params     map[string]any
}

// Prepare creates Setup through the service: name names the key, the
// integration and the campaign; adjust may change the trigger's input. The
// trigger's interval is the longest allowed, so the scheduler starts no
// second run while a benchmark runs.
func Prepare(ctx context.Context, svc *service.Service, fk *fakes.Set, p schematype.ProviderKey, data sandbox.Dataset,
	name string, adjust func(*service.ConfigureTriggerInput),
) (*Setup, error) {
	key, err := svc.CreateAPIKey(ctx, name, schematype.RoleAdmin)
	if err != nil {
		return nil, fmt.Errorf("creating an API key: %w", err)
	}
	v, err := svc.Authenticate(ctx, key)
	if err != nil {
		return nil, err
	}
	s := &Setup{Ctx: viewer.NewContext(ctx, v), OrgID: v.OrgID}
	creds := map[string]any{}
	for k, val := range fk.Credentials(p) {
		creds[k] = val
	}
	if s.Integ, err = svc.ConnectIntegration(s.Ctx, service.ConnectIntegrationInput{
		Provider: p, Name: name + " " + string(p), Credentials: creds, RateLimit: Unlimited,
	}); err != nil {
		return nil, fmt.Errorf("connecting %s: %w", p, err)
	}
	if s.Integ.Status != integration.StatusCONNECTED {
		msg := ""
		if s.Integ.LastError != nil {
			msg = *s.Integ.LastError
		}
		return nil, fmt.Errorf("the %s fake answered the connection check with %s: %s", p, s.Integ.Status, msg)
	}
	if s.Campaign, err = svc.CreateCampaign(s.Ctx, service.CreateCampaignInput{Name: name}); err != nil {
		return nil, err
	}
	desc, _ := providers.All().Get(p)
	s.SearchType, s.Params = SearchAll(desc.Descriptor(), data)
	if s.Trigger, err = s.Configure(svc, s.Campaign.ID, true, adjust); err != nil {
		return nil, fmt.Errorf("enabling the trigger: %w", err)
	}
	return s, nil
}

// Configure sets the trigger of the setup's integration on a campaign,
// with the setup's search and the longest interval.
func (s *Setup) Configure(svc *service.Service, campaignID pulid.ID, enabled bool, adjust func(*service.ConfigureTriggerInput)) (*ent.Trigger, error) {
	interval := service.MaxSyncInterval
	in := service.ConfigureTriggerInput{
		CampaignID: campaignID, IntegrationID: s.Integ.ID, Enabled: enabled,
		SearchType: &s.SearchType, SearchParams: s.Params, SyncIntervalSeconds: &interval,
	}
	if adjust != nil {
		adjust(&in)
	}
	return svc.ConfigureTrigger(s.Ctx, in)
}

// Unlimited is the rate limit of the benchmarks' integrations: the fakes
// answer as fast as the machine allows and enforce no account limits, and
// the benchmarks measure Intake's work, not an account's limits (ratebench
// measures those).
var Unlimited = &schematype.RateLimit{Requests: 100000, IntervalSeconds: 1, SearchesPerSecond: 1000}
