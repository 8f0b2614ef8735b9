//go:build unix

package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/intake/intake/internal/pulid"
)

// baseline is the yardstick of the query mix: a plain net/http JSON
// handler doing the same database reads as Intake's resolvers for the
// same operations (the API key lookup, the same rows and every column the
// response needs, the same counts), and the same writes for
// configureTrigger, with hand-written SQL through database/sql. It has no
// GraphQL, no ent, no privacy layer; each query filters on the caller's
// organization as Intake's tenancy rules do.
type baseline struct {
	db *sql.DB
}

func newBaseline(db *sql.DB) http.Handler {
	b := &baseline{db: db}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+pathCampaigns, b.handle(b.campaigns))
	mux.HandleFunc("POST "+pathContacts, b.handle(b.contacts))
	mux.HandleFunc("POST "+pathIssues, b.handle(b.issues))
	mux.HandleFunc("POST "+pathContact, b.handle(b.contact))
	mux.HandleFunc("POST "+pathConfigure, b.handle(b.configure))
	return mux
}

// The baseline's routes, one per operation of the mix.
const (
	pathCampaigns = "/campaigns"
	pathContacts  = "/contacts"
	pathIssues    = "/issues"
	pathContact   = "/contact"
	pathConfigure = "/configureTrigger"
)

// baselineArgs are the request bodies of every route.
type baselineArgs struct {
	ID    string                `json:"id"`
	First int                   `json:"first"`
	Input *configureTriggerArgs `json:"input"`
}

type configureTriggerArgs struct {
	CampaignID          string            `json:"campaignID"`
	IntegrationID       string            `json:"integrationID"`
	Enabled             bool              `json:"enabled"`
	SearchType          string            `json:"searchType"`
	SearchParams        map[string]any    `json:"searchParams"`
	Description         string            `json:"description"`
	References          []referenceJSON   `json:"references"`
	PushbackEnabled     bool              `json:"pushbackEnabled"`
	StatusMapping       *statusMappingOut `json:"statusMapping"`
	SyncIntervalSeconds int               `json:"syncIntervalSeconds"`
}

type referenceJSON struct {
	ExternalID string `json:"externalID"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
}

type statusMappingOut struct {
	Success     string `json:"success"`
	Partial     string `json:"partial"`
	Failure     string `json:"failure"`
	NotAnswered string `json:"notAnswered"`
}

// errUnauthenticated answers a request without a valid key.
var errUnauthenticated = errors.New("invalid API key")

// handle authenticates the request, decodes its arguments, runs op and
// writes {"data": result} as Intake's GraphQL handler does.
func (b *baseline) handle(op func(ctx context.Context, org string, args baselineArgs) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		org, err := b.authenticate(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			status := http.StatusServiceUnavailable
			if errors.Is(err, errUnauthenticated) {
				status = http.StatusUnauthorized
			}
			http.Error(w, err.Error(), status)
			return
		}
		var args baselineArgs
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&args); err != nil {
			http.Error(w, "decoding the request: "+err.Error(), http.StatusBadRequest)
			return
		}
		if args.First < 1 || args.First > 1000 {
			args.First = 50
		}
		out, err := op(r.Context(), org, args)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"data": out})
	}
}

// authenticate looks the bearer key up as service.Authenticate does.
func (b *baseline) authenticate(ctx context.Context, header string) (string, error) {
	scheme, key, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || len(key) > 100 {
		return "", errUnauthenticated
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(key)))
	var org string
	err := b.db.QueryRowContext(ctx, `SELECT organization_id FROM api_keys WHERE hash = $1 AND revoked_at IS NULL`,
		hex.EncodeToString(sum[:])).Scan(&org)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errUnauthenticated
	}
	return org, err
}

type pageInfo struct {
	HasNextPage bool    `json:"hasNextPage"`
	EndCursor   *string `json:"endCursor"`
}

// page trims the one row read beyond the page and returns the page info.
func page[T any](rows []T, first int, id func(T) string) ([]T, pageInfo) {
	var pi pageInfo
	if len(rows) > first {
		rows, pi.HasNextPage = rows[:first], true
	}
	if len(rows) > 0 {
		c := base64.StdEncoding.EncodeToString([]byte(id(rows[len(rows)-1])))
		pi.EndCursor = &c
	}
	return rows, pi
}

type campaignOut struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	PhoneRegion string       `json:"phoneRegion"`
	CreatedAt   time.Time    `json:"createdAt"`
	UpdatedAt   time.Time    `json:"updatedAt"`
	Triggers    []triggerOut `json:"triggers"`
}

type triggerOut struct {
	ID                  string         `json:"id"`
	Enabled             bool           `json:"enabled"`
	SearchType          string         `json:"searchType"`
	Description         string         `json:"description"`
	PushbackEnabled     bool           `json:"pushbackEnabled"`
	SyncIntervalSeconds int            `json:"syncIntervalSeconds"`
	LastSyncAt          *time.Time     `json:"lastSyncAt"`
	NextSyncAt          *time.Time     `json:"nextSyncAt"`
	Integration         integrationOut `json:"integration"`
	LastRun             *runOut        `json:"lastRun"`
}

type integrationOut struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
}

type runOut struct {
	ID           string     `json:"id"`
	Kind         string     `json:"kind,omitempty"`
	Status       string     `json:"status"`
	StartedAt    *time.Time `json:"startedAt,omitempty"`
	FinishedAt   *time.Time `json:"finishedAt,omitempty"`
	Fetched      int        `json:"fetched"`
	Imported     int        `json:"imported"`
	Duplicates   int        `json:"duplicates"`
	InvalidPhone int        `json:"invalidPhone"`
	Failed       int        `json:"failed,omitempty"`
}

// campaigns is the campaign list: a page of campaigns with their triggers,
// each trigger's integration and latest run.
func (b *baseline) campaigns(ctx context.Context, org string, args baselineArgs) (any, error) {
	var total int
	if err := b.db.QueryRowContext(ctx, `SELECT count(*) FROM campaigns WHERE organization_id = $1`, org).Scan(&total); err != nil {
		return nil, err
	}
	rows, err := b.db.QueryContext(ctx, `SELECT id, name, phone_region, created_at, updated_at FROM campaigns
		WHERE organization_id = $1 ORDER BY id LIMIT $2`, org, args.First+1)
	if err != nil {
		return nil, err
	}
	var camps []*campaignOut
	for rows.Next() {
		c := &campaignOut{Triggers: []triggerOut{}}
		if err := rows.Scan(&c.ID, &c.Name, &c.PhoneRegion, &c.CreatedAt, &c.UpdatedAt); err != nil {
			rows.Close()
			return nil, err
		}
		camps = append(camps, c)
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	camps, pi := page(camps, args.First, func(c *campaignOut) string { return c.ID })
	byID := make(map[string]*campaignOut, len(camps))
	ids := make([]string, len(camps))
	for i, c := range camps {
		byID[c.ID], ids[i] = c, c.ID
	}
	rows, err = b.db.QueryContext(ctx, `SELECT t.campaign_id, t.id, t.enabled, t.search_type, t.description, t.pushback_enabled,
			t.sync_interval_seconds, t.last_sync_at, t.next_sync_at, i.id, i.name, i.status,
			r.id, r.kind, r.status, r.started_at, r.finished_at, r.fetched, r.imported, r.duplicates, r.invalid_phone, r.failed
		FROM triggers t
		JOIN integrations i ON i.id = t.integration_id AND i.organization_id = t.organization_id
		LEFT JOIN LATERAL (SELECT * FROM sync_runs WHERE trigger_id = t.id AND organization_id = t.organization_id
			ORDER BY id DESC LIMIT 1) r ON true
		WHERE t.campaign_id = ANY($1) AND t.organization_id = $2
		ORDER BY t.campaign_id, t.created_at`, pq.Array(ids), org)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var (
			campaignID string
			t          triggerOut
			runID      sql.NullString
			kind, stat sql.NullString
			r          runOut
			counts     [5]sql.NullInt64
		)
		if err := rows.Scan(&campaignID, &t.ID, &t.Enabled, &t.SearchType, &t.Description, &t.PushbackEnabled,
			&t.SyncIntervalSeconds, &t.LastSyncAt, &t.NextSyncAt, &t.Integration.ID, &t.Integration.Name, &t.Integration.Status,
			&runID, &kind, &stat, &r.StartedAt, &r.FinishedAt, &counts[0], &counts[1], &counts[2], &counts[3], &counts[4]); err != nil {
			rows.Close()
			return nil, err
		}
		if runID.Valid {
			r.ID, r.Kind, r.Status = runID.String, kind.String, stat.String
			r.Fetched, r.Imported, r.Duplicates = int(counts[0].Int64), int(counts[1].Int64), int(counts[2].Int64)
			r.InvalidPhone, r.Failed = int(counts[3].Int64), int(counts[4].Int64)
			t.LastRun = &r
		}
		c := byID[campaignID]
		c.Triggers = append(c.Triggers, t)
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	edges := make([]map[string]any, len(camps))
	for i, c := range camps {
		edges[i] = map[string]any{"node": c}
	}
	return map[string]any{"campaigns": map[string]any{"totalCount": total, "pageInfo": pi, "edges": edges}}, nil
}

type contactOut struct {
	ID         string          `json:"id"`
	PhoneE164  string          `json:"phoneE164"`
	PhoneRaw   string          `json:"phoneRaw"`
	FirstName  *string         `json:"firstName"`
	LastName   *string         `json:"lastName"`
	Email      *string         `json:"email"`
	ExternalID string          `json:"externalID"`
	Attributes json.RawMessage `json:"attributes,omitempty"`
	CreatedAt  time.Time       `json:"createdAt"`
	Campaign   *campaignRef    `json:"campaign,omitempty"`
}

type campaignRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// contacts is a campaign with the first page of its contacts.
func (b *baseline) contacts(ctx context.Context, org string, args baselineArgs) (any, error) {
	var c campaignRef
	err := b.db.QueryRowContext(ctx, `SELECT id, name FROM campaigns WHERE id = $1 AND organization_id = $2`, args.ID, org).Scan(&c.ID, &c.Name)
	if errors.Is(err, sql.ErrNoRows) {
		return map[string]any{"node": nil}, nil
	}
	if err != nil {
		return nil, err
	}
	var total int
	if err := b.db.QueryRowContext(ctx, `SELECT count(*) FROM contacts WHERE campaign_id = $1 AND organization_id = $2`, c.ID, org).Scan(&total); err != nil {
		return nil, err
	}
	rows, err := b.db.QueryContext(ctx, `SELECT id, phone_e164, phone_raw, first_name, last_name, email, external_id, attributes, created_at
		FROM contacts WHERE campaign_id = $1 AND organization_id = $2 ORDER BY id LIMIT $3`, c.ID, org, args.First+1)
	if err != nil {
		return nil, err
	}
	var list []contactOut
	for rows.Next() {
		var ct contactOut
		var attrs []byte
		if err := rows.Scan(&ct.ID, &ct.PhoneE164, &ct.PhoneRaw, &ct.FirstName, &ct.LastName, &ct.Email, &ct.ExternalID, &attrs, &ct.CreatedAt); err != nil {
			rows.Close()
			return nil, err
		}
		ct.Attributes = attrs
		list = append(list, ct)
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	list, pi := page(list, args.First, func(c contactOut) string { return c.ID })
	edges := make([]map[string]any, len(list))
	for i, ct := range list {
		edges[i] = map[string]any{"cursor": base64.StdEncoding.EncodeToString([]byte(ct.ID)), "node": ct}
	}
	return map[string]any{"node": map[string]any{
		"id": c.ID, "name": c.Name, "contacts": map[string]any{"totalCount": total, "pageInfo": pi, "edges": edges},
	}}, nil
}

type issueOut struct {
	ID         string    `json:"id"`
	ExternalID string    `json:"externalID"`
	Code       string    `json:"code"`
	Message    string    `json:"message"`
	RawPhone   *string   `json:"rawPhone"`
	CreatedAt  time.Time `json:"createdAt"`
}

// issues is a sync run with the first page of its import issues.
func (b *baseline) issues(ctx context.Context, org string, args baselineArgs) (any, error) {
	var r runOut
	err := b.db.QueryRowContext(ctx, `SELECT id, status, fetched, imported, duplicates, invalid_phone FROM sync_runs
		WHERE id = $1 AND organization_id = $2`, args.ID, org).Scan(&r.ID, &r.Status, &r.Fetched, &r.Imported, &r.Duplicates, &r.InvalidPhone)
	if errors.Is(err, sql.ErrNoRows) {
		return map[string]any{"node": nil}, nil
	}
	if err != nil {
		return nil, err
	}
	var total int
	if err := b.db.QueryRowContext(ctx, `SELECT count(*) FROM import_issues WHERE run_id = $1 AND organization_id = $2`, r.ID, org).Scan(&total); err != nil {
		return nil, err
	}
	rows, err := b.db.QueryContext(ctx, `SELECT id, external_id, code, message, raw_phone, created_at FROM import_issues
		WHERE run_id = $1 AND organization_id = $2 ORDER BY id LIMIT $3`, r.ID, org, args.First+1)
	if err != nil {
		return nil, err
	}
	var list []issueOut
	for rows.Next() {
		var is issueOut
		if err := rows.Scan(&is.ID, &is.ExternalID, &is.Code, &is.Message, &is.RawPhone, &is.CreatedAt); err != nil {
			rows.Close()
			return nil, err
		}
		list = append(list, is)
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	list, pi := page(list, args.First, func(is issueOut) string { return is.ID })
	edges := make([]map[string]any, len(list))
	for i, is := range list {
		edges[i] = map[string]any{"node": is}
	}
	return map[string]any{"node": map[string]any{
		"id": r.ID, "status": r.Status, "fetched": r.Fetched, "imported": r.Imported, "duplicates": r.Duplicates,
		"invalidPhone": r.InvalidPhone, "issues": map[string]any{"totalCount": total, "pageInfo": pi, "edges": edges},
	}}, nil
}

// contact is a node lookup of a contact with its campaign.
func (b *baseline) contact(ctx context.Context, org string, args baselineArgs) (any, error) {
	var ct contactOut
	var campaignID string
	err := b.db.QueryRowContext(ctx, `SELECT id, phone_e164, phone_raw, first_name, last_name, email, external_id, created_at, campaign_id
		FROM contacts WHERE id = $1 AND organization_id = $2`, args.ID, org).
		Scan(&ct.ID, &ct.PhoneE164, &ct.PhoneRaw, &ct.FirstName, &ct.LastName, &ct.Email, &ct.ExternalID, &ct.CreatedAt, &campaignID)
	if errors.Is(err, sql.ErrNoRows) {
		return map[string]any{"node": nil}, nil
	}
	if err != nil {
		return nil, err
	}
	ct.Campaign = &campaignRef{}
	if err := b.db.QueryRowContext(ctx, `SELECT id, name FROM campaigns WHERE id = $1 AND organization_id = $2`, campaignID, org).
		Scan(&ct.Campaign.ID, &ct.Campaign.Name); err != nil {
		return nil, err
	}
	return map[string]any{"node": ct}, nil
}

// configure replaces an existing trigger's configuration as
// service.ConfigureTrigger does, in one transaction: the same checks
// against the database, the update, and references and status mapping
// replaced.
func (b *baseline) configure(ctx context.Context, org string, args baselineArgs) (any, error) {
	in := args.Input
	if in == nil {
		return nil, errors.New("input is required")
	}
	params, err := json.Marshal(in.SearchParams)
	if err != nil {
		return nil, err
	}
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var status string
	if err := tx.QueryRowContext(ctx, `SELECT status FROM integrations WHERE id = $1 AND organization_id = $2`, in.IntegrationID, org).Scan(&status); err != nil {
		return nil, fmt.Errorf("integration: %w", err)
	}
	var campaignID string
	if err := tx.QueryRowContext(ctx, `SELECT id FROM campaigns WHERE id = $1 AND organization_id = $2`, in.CampaignID, org).Scan(&campaignID); err != nil {
		return nil, fmt.Errorf("campaign: %w", err)
	}
	var triggerID string
	if err := tx.QueryRowContext(ctx, `SELECT id FROM triggers WHERE campaign_id = $1 AND integration_id = $2 AND organization_id = $3`,
		in.CampaignID, in.IntegrationID, org).Scan(&triggerID); err != nil {
		return nil, fmt.Errorf("trigger: %w", err)
	}
	if in.PushbackEnabled {
		var taken bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM triggers WHERE campaign_id = $1 AND pushback_enabled AND id <> $2 AND organization_id = $3)`,
			in.CampaignID, triggerID, org).Scan(&taken); err != nil {
			return nil, err
		}
		if taken {
			return nil, errors.New("another trigger of this campaign already pushes call results back")
		}
	}
	out := struct {
		ID                  string            `json:"id"`
		Enabled             bool              `json:"enabled"`
		SearchType          string            `json:"searchType"`
		SearchParams        json.RawMessage   `json:"searchParams"`
		Description         string            `json:"description"`
		PushbackEnabled     bool              `json:"pushbackEnabled"`
		SyncIntervalSeconds int               `json:"syncIntervalSeconds"`
		NextSyncAt          *time.Time        `json:"nextSyncAt"`
		UpdatedAt           time.Time         `json:"updatedAt"`
		References          []referenceJSON   `json:"references"`
		StatusMapping       *statusMappingOut `json:"statusMapping"`
	}{References: []referenceJSON{}}
	// An enabled trigger keeps its next sync time; a disabled one has none.
	if err := tx.QueryRowContext(ctx, `UPDATE triggers SET enabled = $1, search_type = $2, search_params = $3, description = $4,
			pushback_enabled = $5, sync_interval_seconds = $6, updated_at = $7,
			next_sync_at = CASE WHEN NOT $1 THEN NULL WHEN enabled AND next_sync_at IS NOT NULL THEN next_sync_at ELSE $7 END
		WHERE id = $8
		RETURNING id, enabled, search_type, search_params, description, pushback_enabled, sync_interval_seconds, next_sync_at, updated_at`,
		in.Enabled, in.SearchType, params, in.Description, in.PushbackEnabled, in.SyncIntervalSeconds, time.Now().UTC(), triggerID).
		Scan(&out.ID, &out.Enabled, &out.SearchType, &out.SearchParams, &out.Description, &out.PushbackEnabled,
			&out.SyncIntervalSeconds, &out.NextSyncAt, &out.UpdatedAt); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM "references" WHERE trigger_id = $1`, triggerID); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM status_mappings WHERE trigger_id = $1`, triggerID); err != nil {
		return nil, err
	}
	if len(in.References) > 0 {
		var sb strings.Builder
		sb.WriteString(`INSERT INTO "references" (id, organization_id, created_at, external_id, kind, name, trigger_id) VALUES `)
		vals := []any{org, time.Now().UTC(), triggerID}
		for i, r := range in.References {
			if i > 0 {
				sb.WriteString(", ")
			}
			n := len(vals)
			fmt.Fprintf(&sb, "($%d, $1, $2, $%d, $%d, $%d, $3)", n+1, n+2, n+3, n+4)
			vals = append(vals, string(pulid.New("ref")), r.ExternalID, r.Kind, r.Name)
		}
		sb.WriteString(` RETURNING external_id, kind, name`)
		rows, err := tx.QueryContext(ctx, sb.String(), vals...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var r referenceJSON
			if err := rows.Scan(&r.ExternalID, &r.Kind, &r.Name); err != nil {
				rows.Close()
				return nil, err
			}
			out.References = append(out.References, r)
		}
		if err := closeRows(rows); err != nil {
			return nil, err
		}
	}
	if m := in.StatusMapping; m != nil {
		out.StatusMapping = &statusMappingOut{}
		now := time.Now().UTC()
		if err := tx.QueryRowContext(ctx, `INSERT INTO status_mappings (id, organization_id, created_at, updated_at, success, partial, failure, not_answered, trigger_id)
			VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8) RETURNING success, partial, failure, not_answered`,
			string(pulid.New("stm")), org, now, m.Success, m.Partial, m.Failure, m.NotAnswered, triggerID).
			Scan(&out.StatusMapping.Success, &out.StatusMapping.Partial, &out.StatusMapping.Failure, &out.StatusMapping.NotAnswered); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return map[string]any{"configureTrigger": out}, nil
}

func closeRows(rows *sql.Rows) error {
	if err := rows.Err(); err != nil {
		rows.Close()
		return err
	}
	return rows.Close()
}
