// Package fakes runs every provider's sandbox FAKE on one loopback listener,
// each under its own path (/zvoove, /talention, /compleet, /hubspot), and a
// fake screening model under /llm (an OpenAI-compatible Chat Completions
// API at /llm/v1). It is what `intake sandbox`, the demo and end-to-end
// tests connect to. These are fakes of the external systems, not the
// systems.
package fakes

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/atsfake"
	"github.com/intake/intake/sync/sandbox/hubspotfake"
	"github.com/intake/intake/sync/sandbox/llmfake"
	"github.com/intake/intake/sync/sandbox/zvoovefake"
)

// Set is one fake of each provider.
type Set struct {
	Zvoove    *zvoovefake.Server
	Talention *atsfake.Server
	Compleet  *atsfake.Server
	HubSpot   *hubspotfake.Server
	// LLM is the fake screening model, served under /llm.
	LLM *llmfake.Server
	// URL is the listener's base, e.g. http://127.0.0.1:40123.
	URL string
	srv *http.Server
}

// New returns fakes serving d (each provider sees the same people).
func New(d sandbox.Dataset) *Set {
	return &Set{
		Zvoove:    zvoovefake.New(zvoovefake.Config{Dataset: d}),
		Talention: atsfake.New(atsfake.Config{Provider: "Talention", Dataset: d, StageMoves: true}),
		Compleet:  atsfake.New(atsfake.Config{Provider: "Compleet", Dataset: d}),
		HubSpot:   hubspotfake.New(hubspotfake.Config{Dataset: d}),
		LLM:       llmfake.New(llmfake.Options{Seed: d.Seed}),
	}
}

// llmPrefix is where the fake screening model is served.
const llmPrefix = "/llm"

// LLMURL is the base URL of the fake screening model (what
// INTAKE_SCREENING_URL takes), e.g. http://127.0.0.1:40123/llm/v1.
func (s *Set) LLMURL() string { return s.URL + llmPrefix + "/v1" }

var prefixes = map[schematype.ProviderKey]string{
	schematype.ProviderZvoove:    "/zvoove",
	schematype.ProviderTalention: "/talention",
	schematype.ProviderCompleet:  "/compleet",
	schematype.ProviderHubSpot:   "/hubspot",
}

// Handler serves every fake under its prefix.
func (s *Set) Handler() http.Handler {
	mux := http.NewServeMux()
	for p, h := range map[schematype.ProviderKey]http.Handler{
		schematype.ProviderZvoove:    s.Zvoove.Handler(),
		schematype.ProviderTalention: s.Talention.Handler(),
		schematype.ProviderCompleet:  s.Compleet.Handler(),
		schematype.ProviderHubSpot:   s.HubSpot.Handler(),
	} {
		prefix := prefixes[p]
		mux.Handle(prefix+"/", http.StripPrefix(prefix, h))
	}
	mux.Handle(llmPrefix+"/", http.StripPrefix(llmPrefix, s.LLM))
	return mux
}

// Start serves the fakes on addr (use "127.0.0.1:0" for any free port).
func (s *Set) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	s.URL = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln) //nolint:errcheck // ends with Close

	return nil
}

// Close stops serving.
func (s *Set) Close() error {
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

// BaseURL is the base URL of a provider's fake.
func (s *Set) BaseURL(p schematype.ProviderKey) string { return s.URL + prefixes[p] }

// Credentials returns credentials that connect to a provider's fake.
func (s *Set) Credentials(p schematype.ProviderKey) connector.Credentials {
	switch p {
	case schematype.ProviderZvoove:
		return s.Zvoove.Credentials(s.BaseURL(p))
	case schematype.ProviderTalention:
		return s.Talention.Credentials(s.BaseURL(p))
	case schematype.ProviderCompleet:
		return s.Compleet.Credentials(s.BaseURL(p))
	case schematype.ProviderHubSpot:
		return s.HubSpot.Credentials(s.BaseURL(p))
	}
	return nil
}
