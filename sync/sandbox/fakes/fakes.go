// Package fakes runs every provider's sandbox FAKE on one loopback listener,
// each under its own path (/zvoove, /talention, /compleet, /hubspot). It is
// what `intake sandbox`, the demo and end-to-end tests connect to. These are
// fakes of the external systems, not the systems.
package fakes

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/atsfake"
	"github.com/intake/intake/sync/sandbox/hubspotfake"
	"github.com/intake/intake/sync/sandbox/zvoovefake"
)

// Set is one fake of each provider.
type Set struct {
	Zvoove    *zvoovefake.Server
	Talention *atsfake.Server
	Compleet  *atsfake.Server
	HubSpot   *hubspotfake.Server
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
	}
}

var prefixes = map[connector.ProviderKey]string{
	connector.Zvoove:    "/zvoove",
	connector.Talention: "/talention",
	connector.Compleet:  "/compleet",
	connector.HubSpot:   "/hubspot",
}

// Handler serves every fake under its prefix.
func (s *Set) Handler() http.Handler {
	mux := http.NewServeMux()
	for p, h := range map[connector.ProviderKey]http.Handler{
		connector.Zvoove:    s.Zvoove.Handler(),
		connector.Talention: s.Talention.Handler(),
		connector.Compleet:  s.Compleet.Handler(),
		connector.HubSpot:   s.HubSpot.Handler(),
	} {
		prefix := prefixes[p]
		mux.Handle(prefix+"/", http.StripPrefix(prefix, h))
	}
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
func (s *Set) BaseURL(p connector.ProviderKey) string { return s.URL + prefixes[p] }

// Credentials returns credentials that connect to a provider's fake.
func (s *Set) Credentials(p connector.ProviderKey) connector.Credentials {
	switch p {
	case connector.Zvoove:
		return s.Zvoove.Credentials(s.BaseURL(p))
	case connector.Talention:
		return s.Talention.Credentials(s.BaseURL(p))
	case connector.Compleet:
		return s.Compleet.Credentials(s.BaseURL(p))
	case connector.HubSpot:
		return s.HubSpot.Credentials(s.BaseURL(p))
	}
	return nil
}
