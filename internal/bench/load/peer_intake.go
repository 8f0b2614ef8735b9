//go:build unix

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/intake/intake/internal/bench/benchkit"
)

// peerIntake is `intake serve` itself, built from this module: the
// production binary as main.go assembles it, to compare with the load
// tool's own server process on the same reads.
const peerIntake = "intake"

// intakeModule is the main package go build builds.
const intakeModule = "github.com/intake/intake"

// startIntakeServe builds the intake binary with go build into a scratch
// folder and starts `intake serve` on the database with the production
// defaults, but for what the load tool's own server also sets: its
// address (a free loopback port), the database, the credentials key, the
// per-key rate limit (1,000,000 a second, so that it never binds), and
// the egress policy, which lets it reach the fakes on loopback: it is a
// replica, and may work the seeding's syncs.
// Its logs (JSON at info, the defaults) go to a file in the scratch
// folder, as a deployment writes them to its log collector. It waits
// until /readyz answers 200. Without go on PATH it prints why and
// returns no peer.
func startIntakeServe(ctx context.Context, cfg peerConfig, stdout, stderr io.Writer) (*peerProcess, error) {
	goBin, err := cfg.lookPath("go")
	if err != nil {
		fmt.Fprintln(stdout, "peer: skipped: go not found on PATH (needed to build intake)")
		return nil, nil
	}
	dir, err := os.MkdirTemp("", "intake-load-serve-")
	if err != nil {
		return nil, err
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	bin := filepath.Join(dir, "intake")
	began := time.Now()
	build := exec.CommandContext(ctx, goBin, "build", "-o", bin, intakeModule)
	if out, err := build.CombinedOutput(); err != nil {
		cleanup()
		return nil, fmt.Errorf("go build %s (run the tool inside the module): %w: %s", intakeModule, err, tail(out, 2000))
	}
	fmt.Fprintf(stdout, "peer: built intake in %.1fs\n", time.Since(began).Seconds())

	port, err := freePort()
	if err != nil {
		cleanup()
		return nil, err
	}
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	logPath := filepath.Join(dir, "intake.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		cleanup()
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	// Only what the environment of a deployment sets; INTAKE_* variables
	// of the tool's own environment are left out.
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"DATABASE_URL=" + cfg.dbURL,
		encryptionKeyEnv + "=" + cfg.encKey,
		"INTAKE_ADDR=127.0.0.1:" + strconv.Itoa(port),
		"INTAKE_DATA_DIR=" + dir,
		"INTAKE_RATE_LIMIT=1000000",
		// A replica: it may work the seeding's syncs, from the fakes.
		"INTAKE_EGRESS_ALLOW=" + benchkit.LoopbackAllow,
	}
	if v := os.Getenv("GOGC"); v != "" {
		cmd.Env = append(cmd.Env, "GOGC="+v)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if cfg.verbose {
		cmd.Stderr = io.MultiWriter(logFile, stderr)
	}
	g, err := startGroup(cmd, 30*time.Second)
	if err != nil {
		logFile.Close()
		cleanup()
		return nil, fmt.Errorf("starting intake serve: %w", err)
	}
	pid := g.pid
	stop := sync.OnceFunc(func() {
		g.stop()
		logFile.Close()
		cleanup()
	})
	hc := &http.Client{Timeout: 5 * time.Second}
	if err := g.await(ctx, 2*time.Minute, func() error { return ready(ctx, hc, url) }); err != nil {
		b, _ := os.ReadFile(logPath)
		stop()
		return nil, fmt.Errorf("intake serve on %s: %w; its log: %s", url, err, tail(b, 2000))
	}
	fmt.Fprintf(stdout, "peer: intake serve at %s (pid %d, production defaults, logs in %s) on the same database\n", url, pid, logPath)
	return &peerProcess{name: "intake serve", version: "(this module)", url: url, pid: pid, stop: stop, auth: true}, nil
}

// ready asks url's /readyz, which answers 200 once the database answers
// and the sync engine runs.
func ready(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}
