package store_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/store"
)

// Upgrading keeps every row: each migration is applied on a database filled
// by the previous ones, and all rows of every table survive it. SQLite
// rebuilds tables to alter them, which must not cascade into child tables.
func TestUpgradeKeepsData(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := dbtest.Empty(t, d)
			st, err := store.Open(ctx, db.URL, "")
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			migs, err := store.Migrations(st.Dialect)
			if err != nil || len(migs) < 2 {
				t.Fatalf("migrations: %d, %v", len(migs), err)
			}
			// Apply the first migration by hand and fill every table.
			if _, err := st.DB.ExecContext(ctx, migs[0].SQL); err != nil {
				t.Fatal(err)
			}
			if _, err := st.DB.ExecContext(ctx, `CREATE TABLE intake_schema_migrations (version text PRIMARY KEY, applied_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP)`); err != nil {
				t.Fatal(err)
			}
			if _, err := st.DB.ExecContext(ctx, `INSERT INTO intake_schema_migrations (version) VALUES ('`+migs[0].Version+`')`); err != nil {
				t.Fatal(err)
			}
			fill(t, st.DB)
			before := counts(t, st.DB)

			applied, err := st.Migrate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var ours []string
			for _, v := range applied {
				if !strings.HasPrefix(v, "river_") {
					ours = append(ours, v)
				}
			}
			if len(ours) != len(migs)-1 {
				t.Fatalf("applied %v, want the %d later migrations", applied, len(migs)-1)
			}
			after := counts(t, st.DB)
			for table, n := range before {
				if after[table] != n {
					t.Errorf("%s: %d rows before the upgrade, %d after", table, n, after[table])
				}
			}
			if again, err := st.Migrate(ctx); err != nil || len(again) != 0 {
				t.Fatalf("second Migrate applied %v, %v", again, err)
			}
		})
	}
}

var tables = []string{"organizations", "api_keys", "integrations", "campaigns", "triggers", "\"references\"", "status_mappings", "contacts", "sync_runs", "import_issues", "call_results", "pushbacks"}

// fill inserts one row per table with the columns of the first migration.
func fill(t *testing.T, db *sql.DB) {
	t.Helper()
	now := "2026-01-01 00:00:00"
	stmts := []string{
		`INSERT INTO organizations (id, created_at, name) VALUES ('org_1', '` + now + `', 'acme')`,
		`INSERT INTO api_keys (id, organization_id, created_at, hash, role) VALUES ('key_1', 'org_1', '` + now + `', 'h', 'ADMIN')`,
		`INSERT INTO integrations (id, organization_id, created_at, updated_at, provider, name, status, credentials) VALUES ('int_1', 'org_1', '` + now + `', '` + now + `', 'TALENTION', 'T', 'CONNECTED', 'x')`,
		`INSERT INTO campaigns (id, organization_id, created_at, updated_at, name, phone_region) VALUES ('cmp_1', 'org_1', '` + now + `', '` + now + `', 'C', 'DE')`,
		`INSERT INTO triggers (id, organization_id, created_at, updated_at, enabled, search_type, search_params, description, pushback_enabled, sync_interval_seconds, campaign_id, integration_id) VALUES ('trg_1', 'org_1', '` + now + `', '` + now + `', true, 'new_applications', '{}', '', true, 900, 'cmp_1', 'int_1')`,
		`INSERT INTO "references" (id, organization_id, created_at, external_id, kind, name, trigger_id) VALUES ('ref_1', 'org_1', '` + now + `', 'job_1', 'JOB', 'J', 'trg_1')`,
		`INSERT INTO status_mappings (id, organization_id, created_at, updated_at, success, partial, failure, not_answered, trigger_id) VALUES ('stm_1', 'org_1', '` + now + `', '` + now + `', 'a', 'b', 'c', 'd', 'trg_1')`,
		`INSERT INTO contacts (id, organization_id, created_at, phone_e164, phone_raw, external_id, attributes, campaign_id, trigger_id) VALUES ('con_1', 'org_1', '` + now + `', '+4915112345678', '0151 12345678', 'c1', '{}', 'cmp_1', 'trg_1')`,
		`INSERT INTO sync_runs (id, organization_id, created_at, updated_at, kind, status, fetched, imported, duplicates, invalid_phone, filtered_out, failed, trigger_id) VALUES ('run_1', 'org_1', '` + now + `', '` + now + `', 'TEST', 'SUCCEEDED', 1, 1, 0, 0, 0, 0, 'trg_1')`,
		`INSERT INTO import_issues (id, organization_id, created_at, external_id, code, message, run_id) VALUES ('iss_1', 'org_1', '` + now + `', 'c2', 'MISSING_PHONE', 'm', 'run_1')`,
		`INSERT INTO call_results (id, organization_id, created_at, outcome, transcript, question_results, called_at, duration_seconds, contact_id) VALUES ('cal_1', 'org_1', '` + now + `', 'SUCCESS', '', '[]', '` + now + `', 0, 'con_1')`,
		`INSERT INTO pushbacks (id, organization_id, created_at, updated_at, status, attempts, call_result_id, trigger_id) VALUES ('pbk_1', 'org_1', '` + now + `', '` + now + `', 'PENDING', 0, 'cal_1', 'trg_1')`,
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func counts(t *testing.T, db *sql.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range tables {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		out[table] = n
	}
	return out
}
