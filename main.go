// Command intake is the Intake server: a GraphQL API that connects calling
// campaigns to the ATS and CRMs where their contacts live.
//
//	intake [serve] [--demo]                 run the server (default); --demo also
//	                                        runs the sandbox fakes and a demo org
//	                                        with a ready campaign
//	intake sandbox [--size N]               run the sandbox fakes of every provider
//	intake migrate                          apply database migrations and exit
//	intake apikey create --org NAME [--name NAME] [--role admin|viewer] [--expires 90d]
//	                                        create an API key and print it
//	intake apikey list --org NAME           list an organization's keys (never the keys)
//	intake apikey revoke ID                 revoke a key
//
// Configuration comes from the environment; see README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/intake/intake/internal/app"
	"github.com/intake/intake/internal/config"
	"github.com/intake/intake/internal/demo"
	"github.com/intake/intake/internal/egress"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/store"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector/providers"
	"github.com/intake/intake/sync/sandbox"
	"github.com/intake/intake/sync/sandbox/fakes"
	"github.com/intake/intake/sync/sandbox/hubspotfake"
	"github.com/intake/intake/sync/sandbox/llmfake"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "intake:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return err
	}
	switch cmd {
	case "serve":
		return serve(ctx, cfg, args, stdout)
	case "migrate":
		return migrate(ctx, cfg, stdout)
	case "apikey":
		return apikey(ctx, cfg, args, stdout)
	case "sandbox":
		return runSandbox(ctx, cfg, args, stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, "usage: intake [serve [--demo] | migrate | sandbox [--size N] | apikey create|list|revoke]")
		return nil
	}
	return fmt.Errorf("unknown command %q (serve, migrate, apikey)", cmd)
}

func serve(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	demoMode := fs.Bool("demo", false, "also run the sandbox fakes and connect a demo organization to them")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var fk *fakes.Set
	if *demoMode {
		// The fakes listen on loopback, which the egress policy refuses:
		// the demo allows exactly their address and port.
		var err error
		if fk, err = startSandbox(cfg, demoSize); err != nil {
			return err
		}
		defer fk.Close()
		rule, err := egress.ParseRule(strings.TrimPrefix(fk.URL, "http://"))
		if err != nil {
			return err
		}
		cfg.EgressAllow = append(slices.Clip(cfg.EgressAllow), rule)
		if !cfg.Screening.Configured() {
			// Descriptions are applied by the sandbox's fake model, unless
			// a real one is configured.
			cfg.Screening.URL, cfg.Screening.Model = fk.LLMURL(), llmfake.DefaultModel
		}
	}
	a, err := app.New(ctx, cfg, app.Options{})
	if err != nil {
		return err
	}
	// Not ctx: a signal must not cut the stop short; each step is bounded.
	defer a.Stop(context.WithoutCancel(ctx)) //nolint:errcheck // after a failure: its error is the answer
	if *demoMode {
		res, err := demo.Setup(ctx, a.Service, a.Store.Client, fk)
		if err != nil {
			return err
		}
		key := res.Key
		fmt.Fprintf(stdout, "demo: screening model: %s\n", cfg.Screening)
		fmt.Fprintf(stdout, "demo: sandbox fakes at %s\ndemo: API key for organization %q: %s\ndemo: playground at http://%s/ (paste the key into its API key field)\n",
			fk.URL, demo.Org, key, cfg.Addr)
		fmt.Fprintf(stdout, "demo: console at http://%s/console#/campaigns/%s (paste the key into its API key field)\n", cfg.Addr, res.Campaign)
	}
	if err := a.Start(ctx); err != nil {
		return err
	}
	select {
	case err := <-a.Done():
		return err
	case <-ctx.Done():
	}
	a.Log.Info("shutting down")
	if err := a.Stop(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("stopping: %w", err)
	}
	a.Log.Info("stopped")
	return nil
}

// open assembles Intake for a command that uses its service without
// serving (the CLI); the caller stops it.
func open(ctx context.Context, cfg config.Config) (*app.App, error) {
	return app.New(ctx, cfg, app.Options{})
}

func migrate(ctx context.Context, cfg config.Config, stdout io.Writer) error {
	st, err := store.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	applied, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "database is up to date")
	}
	for _, v := range applied {
		fmt.Fprintln(stdout, "applied", v)
	}
	return nil
}

const apikeyUsage = "usage: intake apikey create --org NAME [--name NAME] [--role admin|viewer] [--expires 90d] | apikey list --org NAME | apikey revoke ID"

// apikey runs `apikey create|list|revoke`. Flags are checked before the
// database is opened, so a refused command changes nothing.
func apikey(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(apikeyUsage)
	}
	switch args[0] {
	case "create":
		return apikeyCreate(ctx, cfg, args[1:], stdout)
	case "list":
		return apikeyList(ctx, cfg, args[1:], stdout)
	case "revoke":
		return apikeyRevoke(ctx, cfg, args[1:], stdout)
	}
	return errors.New(apikeyUsage)
}

// apikeyCreate prints only the new key, so that scripts can capture it.
// Without --name the key's name is "", like keys made before keys had
// names; without --expires it never expires.
func apikeyCreate(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("apikey create", flag.ContinueOnError)
	org := fs.String("org", "", "organization name (created if it does not exist)")
	name := fs.String("name", "", "what the key is for")
	role := fs.String("role", "admin", "admin (may mutate) or viewer (read-only)")
	expires := fs.String("expires", "", "lifetime, e.g. 90d, 12h or 30m (default: never expires)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q; %s", fs.Arg(0), apikeyUsage)
	}
	if *org == "" {
		return errors.New("--org is required")
	}
	in := service.NewAPIKeyInput{Name: *name, Role: schematype.Role(strings.ToUpper(*role))}
	if in.Role != schematype.RoleAdmin && in.Role != schematype.RoleViewer {
		return fmt.Errorf("--role: %q must be admin or viewer", *role)
	}
	if *expires != "" {
		d, err := parseLifetime(*expires)
		if err != nil {
			return fmt.Errorf("--expires: %w", err)
		}
		at := time.Now().Add(d)
		in.ExpiresAt = &at
	}
	a, err := open(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Stop(context.WithoutCancel(ctx)) //nolint:errcheck // nothing started: closes the database
	key, _, err := a.Service.CreateOrgAPIKey(ctx, *org, in)
	if err != nil {
		return cliError(err)
	}
	fmt.Fprintln(stdout, key)
	return nil
}

// parseLifetime parses a key's lifetime: a number of days ("90d") or a Go
// duration ("12h", "30m", "1h30m"); it must be positive.
func parseLifetime(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n > 100*365 {
			return 0, fmt.Errorf("%q is not a number of days (up to 36500) followed by d", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is not a lifetime such as 90d, 12h or 30m", s)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q must be positive", s)
	}
	return d, nil
}

// apikeyList prints the organization's keys, oldest first, one a line:
// never the key or its hash, which are not stored and not shown.
func apikeyList(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("apikey list", flag.ContinueOnError)
	org := fs.String("org", "", "organization name")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *org == "" {
		return errors.New("--org is required")
	}
	a, err := open(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Stop(context.WithoutCancel(ctx)) //nolint:errcheck // nothing started: closes the database
	keys, err := a.Service.OrgAPIKeys(ctx, *org)
	if err != nil {
		return cliError(err)
	}
	when := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tEXPIRES\tLAST USED\tREVOKED")
	for _, k := range keys {
		// Quoted: a name may hold tabs or newlines, and "" is a name too.
		fmt.Fprintf(tw, "%s\t%q\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Role, when(&k.CreatedAt), when(k.ExpiresAt), when(k.LastUsedAt), when(k.RevokedAt))
	}
	return tw.Flush()
}

// apikeyRevoke revokes a key of any organization by its ID (from apikey
// list). Servers close its websockets within seconds.
func apikeyRevoke(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		return errors.New("usage: intake apikey revoke ID")
	}
	a, err := open(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Stop(context.WithoutCancel(ctx)) //nolint:errcheck // nothing started: closes the database
	k, err := a.Service.RevokeAPIKey(viewer.SystemContext(ctx), pulid.ID(args[0]))
	if err != nil {
		return cliError(err)
	}
	fmt.Fprintf(stdout, "%s revoked at %s\n", k.ID, k.RevokedAt.UTC().Format(time.RFC3339))
	return nil
}

// cliError words a service error for the command line: its field is the
// flag or argument.
func cliError(err error) error {
	var e *service.Error
	if errors.As(err, &e) && e.Code != service.CodeInternal {
		switch e.Field {
		case "":
			return errors.New(e.Message)
		case "id":
			return fmt.Errorf("ID: %s", e.Message)
		}
		return fmt.Errorf("--%s: %s", e.Field, e.Message)
	}
	return err
}

// demoSize is how many people each fake serves in the demo.
const demoSize = 500

// startSandbox serves the fakes on INTAKE_SANDBOX_ADDR, with people created
// up to now so every search type finds some.
func startSandbox(cfg config.Config, size int) (*fakes.Set, error) {
	fk := fakes.New(sandbox.Dataset{Seed: 1, Size: size, Step: time.Hour}.AnchoredAt(time.Now()))
	// The sandbox's HubSpot answers like a Free account: 100 requests per
	// 10 s and 4 searches a second, 429 beyond.
	fk.HubSpot.SetLimits(&hubspotfake.FreeAccount)
	if err := fk.Start(cfg.SandboxAddr); err != nil {
		return nil, fmt.Errorf("INTAKE_SANDBOX_ADDR %s: %w", cfg.SandboxAddr, err)
	}
	return fk, nil
}

func runSandbox(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	size := fs.Int("size", demoSize, "people each fake serves (10 to 1000000)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *size < 10 || *size > 1_000_000 {
		return fmt.Errorf("--size: %d is not between 10 and 1000000", *size)
	}
	fk, err := startSandbox(cfg, *size)
	if err != nil {
		return err
	}
	defer fk.Close()
	fmt.Fprintln(stdout, "sandbox FAKES of the external systems (not the real systems):")
	for _, p := range providers.All().Descriptors() {
		creds, _ := json.Marshal(fk.Credentials(p.Key))
		fmt.Fprintf(stdout, "%-10s %s\n           credentials: %s\n", p.Key, fk.BaseURL(p.Key), creds)
	}
	fmt.Fprintf(stdout, "%-10s %s (a screening model: INTAKE_SCREENING_URL=%s INTAKE_SCREENING_MODEL=%s)\n",
		"LLM", fk.LLMURL(), fk.LLMURL(), llmfake.DefaultModel)
	// A server's egress policy refuses loopback: it must allow the fakes.
	fmt.Fprintf(stdout, "to connect a server to them, run it with INTAKE_EGRESS_ALLOW=%s\n", strings.TrimPrefix(fk.URL, "http://"))
	<-ctx.Done()
	return nil
}
