// Package atsfake is a FAKE of the "unified ATS" API that Talention and
// Compleet are modelled on, for tests and the demo. It is not Talention or
// Compleet: neither vendor publishes an API description, so the shape it
// serves is ASSUMED (docs/providers.md). One fake serves both; Config
// names the provider it stands for and whether it accepts stage moves.
//
// Endpoints, all behind "Authorization: Bearer <apiKey>":
//
//	GET  /jobs                      ?cursor&page_size&name_contains&created_after&updated_after
//	GET  /jobs/{id}                 a job with its stages
//	GET  /applications              ?cursor&page_size&created_after&updated_after&job_id (repeatable)
//	GET  /candidates/{id}
//	GET  /candidates/{id}/notes     ?cursor&page_size, newest first
//	POST /candidates/{id}/notes     {content}
//	PUT  /applications/{id}/stage   {stage_id} (only with Config.StageMoves)
//
// Answers are {status:"success", data:...}; lists carry data.next (a cursor,
// null on the last page) and data.results. Errors are {status:"error",
// message}. The created_after and updated_after filters are inclusive.
// Contract holds these facts (ContractFor) and checks all traffic against
// them.
//
// The data comes from a sandbox.Dataset, read lazily: person i is
// candidate Dataset.ExternalID(i) and has one application, ApplicationID(i),
// to job JobID(i % Groups), created when the person was, whose source is
// Person.Source. The candidate's title is Person.Profession, its locations
// [Person.City] and its tags Person.Tags (empty values are null or []).
// Every request costs
// O(page size), so a data set of a million people is served as easily as a
// small one. Writes go through Writes, which logs them; like the real API
// is assumed to, the fake applies every write it receives, retries
// included (no Idempotency-Key or other de-duplication is documented).
// The notes and stage moves they make are kept in maps.
package atsfake

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/contract"
)

// Credentials the fake accepts unless Config says otherwise.
const (
	DefaultAPIKey = "atsfake-api-key"
	// DefaultWebhookSecret is a Standard Webhooks secret ("whsec_" + base64).
	DefaultWebhookSecret = "whsec_YXRzZmFrZS13ZWJob29rLXNpZ25pbmcta2V5" // atsfake-webhook-signing-key
)

// Page sizes (ASSUMED, as the whole API shape is): page_size defaults to
// 50 (or to the maximum, when that is lower), and a larger one than the
// maximum is served as the maximum.
const (
	defaultPageSize    = 50
	defaultMaxPageSize = 100
	// defaultGroups is sandbox.Dataset's number of groups when Groups is 0.
	defaultGroups = 5
	maxBodyBytes  = 1 << 20
)

// stageNames are every job's stages, in pipeline order; applications start
// in the first.
var stageNames = []string{"New", "Interview", "Accepted", "Rejected", "Unreachable"}

var jobTitles = []string{
	"Pflegefachkraft (m/w/d)", "Lagerhelfer (m/w/d)", "Staplerfahrer (m/w/d)",
	"Elektriker (m/w/d)", "Kommissionierer (m/w/d)", "Produktionshelfer (m/w/d)",
	"Bürokaufmann (m/w/d)", "Berufskraftfahrer CE (m/w/d)", "Reinigungskraft (m/w/d)",
	"Servicetechniker (m/w/d)",
}

// Config configures a fake.
type Config struct {
	// Provider labels the fake in messages, e.g. "Talention".
	Provider string
	Dataset  sandbox.Dataset
	// APIKey is the bearer token accepted; "" means DefaultAPIKey.
	APIKey string
	// WebhookSecret is what Credentials returns for webhook signing; ""
	// means DefaultWebhookSecret.
	WebhookSecret string
	// StageMoves enables PUT /applications/{id}/stage (Talention).
	StageMoves bool
	// MaxPageSize caps page_size; 0 means 100. Tests set it lower to make
	// short lists span pages; the contract keeps documenting 100.
	MaxPageSize int
	// Now is the clock of created notes; nil means time.Now.
	Now func() time.Time
}

// Server is a running fake's state. Its methods are safe for concurrent use.
type Server struct {
	// Faults decides which requests fail.
	Faults *sandbox.Faults
	// Writes logs every write received.
	Writes *sandbox.WriteLog
	// Contract checks every request and answer against ContractFor.
	Contract *contract.Checker

	cfg     Config
	groups  int
	handler http.Handler

	mu     sync.Mutex
	stages map[int]int    // person index -> index into stageNames, when moved
	notes  map[int][]note // person index -> notes, oldest first
	nextID int
}

// note is a note written on a candidate.
type note struct {
	id      string
	content string
	created time.Time
}

// New returns a fake serving cfg.Dataset.
func New(cfg Config) *Server {
	if cfg.APIKey == "" {
		cfg.APIKey = DefaultAPIKey
	}
	if cfg.WebhookSecret == "" {
		cfg.WebhookSecret = DefaultWebhookSecret
	}
	if cfg.MaxPageSize <= 0 {
		cfg.MaxPageSize = defaultMaxPageSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{
		Faults:   sandbox.NewFaults(cfg.Dataset.Seed),
		Writes:   sandbox.NewWriteLog(),
		Contract: contract.New(ContractFor(cfg.Provider, cfg.StageMoves)),
		cfg:      cfg,
		groups:   cfg.Dataset.Groups,
		stages:   map[int]int{},
		notes:    map[int][]note{},
	}
	if s.groups <= 0 {
		s.groups = defaultGroups
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jobs", s.listJobs)
	mux.HandleFunc("GET /jobs/{id}", s.getJob)
	mux.HandleFunc("GET /applications", s.listApplications)
	mux.HandleFunc("GET /candidates/{id}", s.getCandidate)
	mux.HandleFunc("GET /candidates/{id}/notes", s.listNotes)
	mux.HandleFunc("POST /candidates/{id}/notes", s.createNote)
	if cfg.StageMoves {
		mux.HandleFunc("PUT /applications/{id}/stage", s.moveStage)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("%s %s is not an endpoint of this %s API (sandbox fake)", r.Method, r.URL.Path, cfg.Provider))
	})
	// The checker is outermost, so that it sees every request, and every
	// answer as the client gets it, faults included.
	s.handler = s.Contract.Wrap(s.Faults.Middleware(s.authorize(mux), writeError))
	return s
}

// Handler serves the API; it works under http.StripPrefix too.
func (s *Server) Handler() http.Handler { return s.handler }

// Credentials returns the credentials that connect to the fake at baseURL.
func (s *Server) Credentials(baseURL string) connector.Credentials {
	return connector.Credentials{"baseURL": baseURL, "apiKey": s.cfg.APIKey, "webhookSecret": s.cfg.WebhookSecret}
}

// JobID is the ID of the job of reference group g.
func JobID(g int) string { return "job-" + strconv.Itoa(g+1) }

// JobName is the title of the job of reference group g.
func JobName(g int) string {
	name := jobTitles[g%len(jobTitles)]
	if n := g / len(jobTitles); n > 0 {
		name += fmt.Sprintf(" #%d", n+1)
	}
	return name
}

// StageID is the ID of the stage named name of job g ("" when no stage has
// that name).
func StageID(g int, name string) string {
	k := slices.Index(stageNames, name)
	if k < 0 {
		return ""
	}
	return stageID(g, k)
}

func stageID(g, k int) string { return fmt.Sprintf("stg-%d-%d", g+1, k+1) }

// ApplicationID is the ID of person i's application.
func ApplicationID(d sandbox.Dataset, i int) string { return "app-" + d.ExternalID(i) }

// Stage returns the name of the stage an application is in.
func (s *Server) Stage(applicationID string) (string, bool) {
	i, ok := s.applicationIndex(applicationID)
	if !ok {
		return "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return stageNames[s.stages[i]], true
}

// Notes returns the contents of the notes written on a candidate, oldest
// first.
func (s *Server) Notes(candidateID string) []string {
	i, ok := s.cfg.Dataset.IndexOf(candidateID)
	if !ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.notes[i]))
	for k, n := range s.notes[i] {
		out[k] = n.content
	}
	return out
}

// SignWebhook returns the Standard Webhooks headers that sign body with
// secret (a "whsec_" base64 secret, or raw bytes otherwise).
func SignWebhook(secret, id string, ts time.Time, body []byte) http.Header {
	key := []byte(secret)
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		if k, err := base64.StdEncoding.DecodeString(rest); err == nil {
			key = k
		}
	}
	unix := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", id, unix, body)
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", unix)
	h.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return h
}

// ApplicationCreated returns a signed "application.created" webhook for an
// application, as the provider would send it at time at.
func (s *Server) ApplicationCreated(applicationID string, at time.Time) (http.Header, []byte) {
	body, _ := json.Marshal(map[string]any{
		"type": "application.created",
		"data": map[string]string{"application_id": applicationID},
	})
	return SignWebhook(s.cfg.WebhookSecret, "msg_"+applicationID, at, body), body
}

type envelope struct {
	Status string `json:"status"`
	Data   any    `json:"data"`
}

type page struct {
	Next    *string `json:"next"`
	Results []any   `json:"results"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	sandbox.WriteJSON(w, status, map[string]string{"status": "error", "message": msg})
}

func writeData(w http.ResponseWriter, status int, data any) {
	sandbox.WriteJSON(w, status, envelope{Status: "success", Data: data})
}

func errorAnswer(status int, msg string) sandbox.Answer {
	return sandbox.Answer{Status: status, Body: map[string]string{"status": "error", "message": msg}}
}

func (s *Server) authorize(next http.Handler) http.Handler {
	want := []byte("Bearer " + s.cfg.APIKey)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			writeError(w, http.StatusUnauthorized, "invalid or missing API key")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// listParams are the paging and date filters every list endpoint takes.
type listParams struct {
	pos                        int // where the cursor resumes, 0 without one
	size                       int
	createdAfter, updatedAfter time.Time
}

func (s *Server) parseList(w http.ResponseWriter, r *http.Request, kind string) (listParams, bool) {
	var p listParams
	var ok bool
	if p.pos, p.size, ok = s.parsePaging(w, r, kind); !ok {
		return p, false
	}
	q := r.URL.Query()
	for name, t := range map[string]*time.Time{"created_after": &p.createdAfter, "updated_after": &p.updatedAfter} {
		if v := q.Get(name); v != "" {
			var err error
			if *t, err = time.Parse(time.RFC3339Nano, v); err != nil {
				writeError(w, http.StatusBadRequest, name+" must be an RFC 3339 timestamp")
				return p, false
			}
		}
	}
	return p, true
}

// parsePaging reads the cursor (of a list of kind) and page_size of a
// list request, answering a bad one with a 400.
func (s *Server) parsePaging(w http.ResponseWriter, r *http.Request, kind string) (pos, size int, ok bool) {
	q := r.URL.Query()
	size = min(defaultPageSize, s.cfg.MaxPageSize)
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "page_size must be a positive integer")
			return 0, 0, false
		}
		size = min(n, s.cfg.MaxPageSize)
	}
	if v := q.Get("cursor"); v != "" {
		if pos, ok = decodeCursor(kind, v); !ok {
			writeError(w, http.StatusBadRequest, "invalid cursor")
			return 0, 0, false
		}
	}
	return pos, size, true
}

func encodeCursor(kind string, pos int) *string {
	c := base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + strconv.Itoa(pos)))
	return &c
}

func decodeCursor(kind, c string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	rest, ok := strings.CutPrefix(string(b), kind+":")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil && n >= 0
}

// Jobs are created, and last changed, at the data set's start.
func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	p, ok := s.parseList(w, r, "jobs")
	if !ok {
		return
	}
	out := page{Results: []any{}}
	if start := s.cfg.Dataset.CreatedAt(0); p.createdAfter.After(start) || p.updatedAfter.After(start) {
		writeData(w, http.StatusOK, out)
		return
	}
	search := strings.ToLower(r.URL.Query().Get("name_contains"))
	next := func(g int) int {
		for g < s.groups && !strings.Contains(strings.ToLower(JobName(g)), search) {
			g++
		}
		return g
	}
	g := next(p.pos)
	for ; g < s.groups && len(out.Results) < p.size; g = next(g + 1) {
		out.Results = append(out.Results, s.job(g))
	}
	if g < s.groups {
		out.Next = encodeCursor("jobs", g)
	}
	writeData(w, http.StatusOK, out)
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	g, ok := s.jobIndex(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "job not found")
		return
	}
	writeData(w, http.StatusOK, s.job(g))
}

func (s *Server) jobIndex(id string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimPrefix(id, "job-"))
	if err != nil || JobID(n-1) != id || n < 1 || n > s.groups {
		return 0, false
	}
	return n - 1, true
}

func (s *Server) job(g int) map[string]any {
	stages := make([]map[string]string, len(stageNames))
	for k, name := range stageNames {
		stages[k] = map[string]string{"id": stageID(g, k), "name": name}
	}
	created := s.cfg.Dataset.CreatedAt(0)
	return map[string]any{
		"id": JobID(g), "name": JobName(g), "status": "open", "stages": stages,
		"remote_created_at": created, "changed_at": created,
	}
}

func (s *Server) listApplications(w http.ResponseWriter, r *http.Request) {
	p, ok := s.parseList(w, r, "applications")
	if !ok {
		return
	}
	groups, all := s.jobFilter(r.URL.Query()["job_id"])
	next := func(i int) int { return s.nextApplication(i, groups, all) }
	out := page{Results: []any{}}
	d := s.cfg.Dataset
	i := next(min(max(p.pos, d.FirstCreatedAtOrAfter(p.createdAfter), d.FirstUpdatedAtOrAfter(p.updatedAfter)), d.Size))
	for ; i < d.Size && len(out.Results) < p.size; i = next(i + 1) {
		out.Results = append(out.Results, s.application(i))
	}
	if i < d.Size {
		out.Next = encodeCursor("applications", i)
	}
	writeData(w, http.StatusOK, out)
}

// jobFilter returns the sorted groups of the known job IDs given; all is
// true when no job_id was given at all.
func (s *Server) jobFilter(ids []string) (groups []int, all bool) {
	for _, id := range ids {
		if g, ok := s.jobIndex(id); ok && !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	slices.Sort(groups)
	return groups, len(ids) == 0
}

// nextApplication returns the first index at or after i whose job is in
// groups (or Size when none is left), in O(len(groups)).
func (s *Server) nextApplication(i int, groups []int, all bool) int {
	size := s.cfg.Dataset.Size
	if all {
		return min(i, size)
	}
	best := size
	for _, g := range groups {
		best = min(best, i+(g-i%s.groups+s.groups)%s.groups)
	}
	return best
}

func (s *Server) applicationIndex(id string) (int, bool) {
	rest, ok := strings.CutPrefix(id, "app-")
	if !ok {
		return 0, false
	}
	return s.cfg.Dataset.IndexOf(rest)
}

func (s *Server) application(i int) map[string]any {
	d := s.cfg.Dataset
	g := i % s.groups
	s.mu.Lock()
	k := s.stages[i]
	s.mu.Unlock()
	return map[string]any{
		"id":                ApplicationID(d, i),
		"candidate_id":      d.ExternalID(i),
		"job_id":            JobID(g),
		"current_stage_id":  stageID(g, k),
		"outcome":           nil,
		"source":            nullable(d.Person(i).Source),
		"remote_created_at": d.CreatedAt(i),
		"changed_at":        d.UpdatedAt(i),
	}
}

func (s *Server) getCandidate(w http.ResponseWriter, r *http.Request) {
	i, ok := s.cfg.Dataset.IndexOf(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "candidate not found")
		return
	}
	p := s.cfg.Dataset.Person(i)
	// The preferred phone is the mobile one; the API lists the others
	// first, so a client has to honour the types.
	phones := make([]map[string]string, 0, len(p.Phones))
	for k := len(p.Phones) - 1; k >= 0; k-- {
		typ := "home"
		if k == 0 {
			typ = "mobile"
		}
		phones = append(phones, map[string]string{"phone_number": p.Phones[k], "type": typ})
	}
	locations := []string{}
	if p.City != "" {
		locations = append(locations, p.City)
	}
	writeData(w, http.StatusOK, map[string]any{
		"id":                p.ID,
		"first_name":        p.FirstName,
		"last_name":         p.LastName,
		"title":             nullable(p.Profession),
		"locations":         locations,
		"tags":              append([]string{}, p.Tags...),
		"phone_numbers":     phones,
		"email_addresses":   []map[string]string{{"email_address": p.Email, "type": "personal"}},
		"changed_at":        p.UpdatedAt,
		"remote_created_at": p.CreatedAt,
	})
}

// nullable is v, or null when it is empty.
func nullable(v string) any {
	if v == "" {
		return nil
	}
	return v
}

func (s *Server) createNote(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	if err != nil {
		writeError(w, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	a := s.Writes.Apply(r, body, func() sandbox.Answer {
		id := r.PathValue("id")
		i, ok := s.cfg.Dataset.IndexOf(id)
		if !ok {
			return errorAnswer(http.StatusNotFound, "candidate not found")
		}
		var in struct {
			Content *string `json:"content"`
		}
		if json.Unmarshal(body, &in) != nil || in.Content == nil || strings.TrimSpace(*in.Content) == "" {
			return errorAnswer(http.StatusBadRequest, "body must be {\"content\": \"<non-empty text>\"}")
		}
		s.mu.Lock()
		s.nextID++
		n := note{id: fmt.Sprintf("note-%d", s.nextID), content: *in.Content, created: s.cfg.Now().UTC()}
		s.notes[i] = append(s.notes[i], n)
		s.mu.Unlock()
		return sandbox.Answer{Status: http.StatusCreated, Body: envelope{Status: "success", Data: n.fields(id)}}
	})
	sandbox.WriteJSON(w, a.Status, a.Body)
}

// listNotes serves a candidate's notes, newest first (ASSUMED: the order
// is not known, and clients must not depend on it). The cursor counts the
// notes still to serve from the oldest, so notes written while a client
// pages shift nothing: it sees each older note exactly once.
func (s *Server) listNotes(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	i, ok := s.cfg.Dataset.IndexOf(id)
	if !ok {
		writeError(w, http.StatusNotFound, "candidate not found")
		return
	}
	// The cursor is bound to the candidate: another list's is refused.
	kind := "notes/" + id
	pos, size, ok := s.parsePaging(w, r, kind)
	if !ok {
		return
	}
	s.mu.Lock()
	notes := s.notes[i]
	left := len(notes)
	if r.URL.Query().Get("cursor") != "" {
		left = min(pos, left)
	}
	out := page{Results: []any{}}
	for ; left > 0 && len(out.Results) < size; left-- {
		out.Results = append(out.Results, notes[left-1].fields(id))
	}
	s.mu.Unlock()
	if left > 0 {
		out.Next = encodeCursor(kind, left)
	}
	writeData(w, http.StatusOK, out)
}

func (n note) fields(candidateID string) map[string]any {
	return map[string]any{"id": n.id, "candidate_id": candidateID, "content": n.content, "remote_created_at": n.created}
}

func (s *Server) moveStage(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	if err != nil {
		writeError(w, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	a := s.Writes.Apply(r, body, func() sandbox.Answer {
		i, ok := s.applicationIndex(r.PathValue("id"))
		if !ok {
			return errorAnswer(http.StatusNotFound, "application not found")
		}
		var in struct {
			StageID string `json:"stage_id"`
		}
		if json.Unmarshal(body, &in) != nil || in.StageID == "" {
			return errorAnswer(http.StatusBadRequest, "body must be {\"stage_id\": \"<id>\"}")
		}
		g := i % s.groups
		k := slices.IndexFunc(stageNames, func(name string) bool { return StageID(g, name) == in.StageID })
		if k < 0 {
			return errorAnswer(http.StatusBadRequest, fmt.Sprintf("stage %s is not a stage of job %s", in.StageID, JobID(g)))
		}
		s.mu.Lock()
		s.stages[i] = k
		s.mu.Unlock()
		return sandbox.Answer{Status: http.StatusOK, Body: envelope{Status: "success", Data: s.application(i)}}
	})
	sandbox.WriteJSON(w, a.Status, a.Body)
}
