// Package engine is Intake's sync engine: it pulls contacts from external
// systems into campaigns on a schedule, on a webhook, or on Test Sync, all
// through one code path on River jobs.
//
// # State model
//
// A SyncRun is QUEUED when created, together with its River job, in one
// transaction. A partial unique index allows one QUEUED or RUNNING run per
// trigger, so concurrent Test Sync clicks, webhooks and schedulers on any
// replica end up with one run; the losers get that run back.
//
// A worker takes a run by acquiring its lease (RUNNING, lease_owner, and
// lease_expires_at, renewed while it works). Each fetched page is imported
// in one transaction that also advances the run's cursor and counters, and
// that commits only while the worker still holds the lease and the run is
// still RUNNING. So a page is applied exactly once: a crash before commit
// refetches the page from the last cursor, a crash after commit resumes
// after it, and a worker that lost its lease (River rescued its job while it
// was stalled) or whose run was cancelled rolls the page back and stops.
//
// Every fetched record ends as one Contact or one ImportIssue with a code:
// INVALID_RECORD (the connector could not read it), MISSING_PHONE,
// INVALID_PHONE, FILTERED_OUT (none of the trigger's references), DUPLICATE
// (same E.164 number earlier in the page or already in the campaign, named in
// the message), SCREENED_OUT (the screening model judged it does not fit the
// trigger's description), ERASED (the person is erased: erase.go),
// DO_NOT_CALL (the number is on the organization's do-not-call list). The
// counters always add up: fetched = imported + duplicates + invalidPhone +
// filteredOut + failed + screenedOut + erased + doNotCall.
//
// # Screening
//
// When the engine has a screening model and the trigger a description, the
// candidates of each page (what would otherwise be imported) are judged
// before the page is imported (screen.go). Batches span pages and run
// Concurrency at once while later pages are fetched; pages are still
// imported in order, one transaction each. Decisions are cached per
// organization as they arrive, so a page that is not imported costs nothing
// the next time. A page with a record the model could not judge is not
// imported: the run ends PARTIAL there, keeping its cursor.
//
// # Endings
//
// SUCCEEDED: the fetch reached its end. PARTIAL: the external system failed
// temporarily (5xx, 429, timeouts) after the connector's retries, or the
// screening model failed for some record; the cursor is kept on the trigger
// and the next run continues from it. FAILED: a
// permanent error (bad credentials, refused request), or the job's attempts
// ran out. CANCELLED: cancelSyncRun. A run that fetched nothing says so in
// its error field.
//
// "New applications" fetch records created at or after the trigger's
// watermark, which a successful run advances to the time its fetch began
// (a trigger's first run looks back InitialLookback). "Talent pool research"
// uses its days parameter on every run.
package engine
