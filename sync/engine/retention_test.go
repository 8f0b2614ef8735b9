package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/callresult"
	"github.com/intake/intake/ent/importissue"
	"github.com/intake/intake/internal/dbtest"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/engine"
	"github.com/intake/intake/sync/progress"
)

// The leader deletes import issues and removes call transcripts once they
// are older than their retentions, and nothing younger.
func TestRetentionJob(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		c := db.Store.Client
		sys := viewer.SystemContext(context.Background())
		org := c.Organization.Create().SetName("acme").SaveX(sys)
		ctx := viewer.ForOrg(context.Background(), org.ID)
		now := time.Now().UTC()
		integ := c.Integration.Create().SetProvider(schematype.ProviderTalention).SetName("t").SetCredentials([]byte("x")).SaveX(ctx)
		cmp := c.Campaign.Create().SetName("c").SaveX(ctx)
		trg := c.Trigger.Create().SetCampaignID(cmp.ID).SetIntegrationID(integ.ID).SetSearchType("new_applications").SaveX(ctx)
		run := c.SyncRun.Create().SetTriggerID(trg.ID).SetKind("TEST").SaveX(ctx)
		issue := func(ext string, age time.Duration) {
			c.ImportIssue.Create().SetRunID(run.ID).SetExternalID(ext).SetCode(schematype.IssueInvalidPhone).
				SetMessage("phone number 0151 is not valid").SetRawPhone("0151").SetCreatedAt(now.Add(-age)).ExecX(ctx)
		}
		issue("old", 31*24*time.Hour)
		issue("recent", 29*24*time.Hour)
		con := c.Contact.Create().SetCampaignID(cmp.ID).SetPhoneE164("+4915112345678").SetPhoneRaw("0151 12345678").SetExternalID("1").SaveX(ctx)
		call := func(transcript string, age time.Duration) {
			c.CallResult.Create().SetContactID(con.ID).SetOutcome(schematype.OutcomeSuccess).SetTranscript(transcript).
				SetQuestionResults([]schematype.QuestionResult{{Question: "q", Answer: "a"}}).
				SetCalledAt(now.Add(-age)).SetCreatedAt(now.Add(-age)).ExecX(ctx)
		}
		call("old transcript", 61*24*time.Hour)
		call("recent transcript", 59*24*time.Hour)

		queueDB, err := db.Store.QueueDB()
		if err != nil {
			t.Fatal(err)
		}
		eng, err := engine.New(engine.Config{
			PollInterval: 20 * time.Millisecond, RetentionEvery: 50 * time.Millisecond,
			IssueRetention: 30 * 24 * time.Hour, TranscriptRetention: 60 * 24 * time.Hour,
		}, engine.Deps{Ent: c, DB: db.Store.DB, QueueDB: queueDB, Dialect: db.Dialect, Broker: progress.NewLocal()})
		if err != nil {
			t.Fatal(err)
		}
		if err := eng.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer eng.Stop(context.Background())

		deadline := time.Now().Add(20 * time.Second)
		for {
			issues := c.ImportIssue.Query().Select(importissue.FieldExternalID).StringsX(ctx)
			kept := c.CallResult.Query().Where(callresult.TranscriptPurgedAtIsNil()).AllX(ctx)
			purged := c.CallResult.Query().Where(callresult.TranscriptPurgedAtNotNil()).AllX(ctx)
			if len(issues) == 1 && issues[0] == "recent" && len(kept) == 1 && len(purged) == 1 {
				if kept[0].Transcript != "recent transcript" || len(kept[0].QuestionResults) != 1 {
					t.Fatalf("the recent call lost its transcript: %+v", kept[0])
				}
				if purged[0].Transcript != "" || len(purged[0].QuestionResults) != 0 {
					t.Fatalf("the old call keeps its transcript: %+v", purged[0])
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("issues left %v, %d calls with transcripts, %d purged; want the recent ones only", issues, len(kept), len(purged))
			}
			time.Sleep(20 * time.Millisecond)
		}
		// A second pass finds nothing more to do.
		if p, err := eng.PurgeExpired(context.Background(), time.Now().UTC()); err != nil || p != (engine.Purged{}) {
			t.Fatalf("a second pass purged %+v, %v; want nothing", p, err)
		}
	})
}

// A backlog larger than a batch is purged in one pass, batch after batch,
// including rows that share a created_at across a batch's end.
func TestPurgeBatches(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		c := db.Store.Client
		sys := viewer.SystemContext(context.Background())
		org := c.Organization.Create().SetName("acme").SaveX(sys)
		ctx := viewer.NewContext(context.Background(), &viewer.Viewer{OrgID: org.ID, Role: schematype.RoleAdmin})
		integ := c.Integration.Create().SetProvider(schematype.ProviderTalention).SetName("t").SetCredentials([]byte("x")).SaveX(ctx)
		cmp := c.Campaign.Create().SetName("c").SaveX(ctx)
		trg := c.Trigger.Create().SetCampaignID(cmp.ID).SetIntegrationID(integ.ID).SetSearchType("new_applications").SaveX(ctx)
		run := c.SyncRun.Create().SetTriggerID(trg.ID).SetKind("TEST").SaveX(ctx)
		now := time.Now().UTC().Truncate(time.Second)
		old := now.Add(-100 * 24 * time.Hour)
		// 1,500 issues at one instant (a batch ends among them), then 845
		// a second apart, then 3 recent ones.
		var at []time.Time
		for i := range 2345 {
			if i < 1500 {
				at = append(at, old)
			} else {
				at = append(at, old.Add(time.Duration(i)*time.Second))
			}
		}
		at = append(at, now, now, now)
		for chunk := 0; chunk < len(at); chunk += 500 {
			var bulk []*ent.ImportIssueCreate
			for _, t0 := range at[chunk:min(chunk+500, len(at))] {
				bulk = append(bulk, c.ImportIssue.Create().SetRunID(run.ID).SetExternalID("x").SetCode(schematype.IssueInvalidPhone).
					SetMessage("m").SetCreatedAt(t0))
			}
			c.ImportIssue.CreateBulk(bulk...).ExecX(ctx)
		}
		queueDB, err := db.Store.QueueDB()
		if err != nil {
			t.Fatal(err)
		}
		eng, err := engine.New(engine.Config{IssueRetention: 90 * 24 * time.Hour},
			engine.Deps{Ent: c, DB: db.Store.DB, QueueDB: queueDB, Dialect: db.Dialect, Broker: progress.NewLocal()})
		if err != nil {
			t.Fatal(err)
		}
		p, err := eng.PurgeExpired(context.Background(), now)
		if err != nil || p.Issues != 2345 {
			t.Fatalf("purged %+v, %v; want all 2,345 old issues", p, err)
		}
		if left := c.ImportIssue.Query().CountX(ctx); left != 3 {
			t.Errorf("%d issues left, want the 3 recent ones", left)
		}
	})
}
