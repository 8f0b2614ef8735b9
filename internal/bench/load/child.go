//go:build unix

package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/intake/intake/internal/app"
	"github.com/intake/intake/internal/bench/benchkit"
	"github.com/intake/intake/sync/engine"
)

// serveFlag, as the first argument, makes the command the server process
// the load runs against (see serveChild).
const serveFlag = "-serve"

// encryptionKeyEnv passes the credentials key to the server process,
// which reads it from its environment as main.go does.
const encryptionKeyEnv = "INTAKE_ENCRYPTION_KEY"

// intakeEnv is the configuration, as environment variables, of the Intake
// the load runs against, beyond what every benchmark's Intake has
// (benchkit.Config). The per-key rate limit stays on, so that its cost is
// measured, at a rate no key of the tool reaches (the default, 20 a second,
// would cap the throughput measured). The websocket limits are the
// defaults: the tool opens at most connsPerKey sockets per key.
func intakeEnv(key string, verbose bool) map[string]string {
	level := "warn"
	if verbose {
		level = "info"
	}
	return map[string]string{
		encryptionKeyEnv:    key,
		"INTAKE_RATE_LIMIT": "1000000",
		"INTAKE_LOG_FORMAT": "text",
		"INTAKE_LOG_LEVEL":  level,
	}
}

// endpoints is the line the server process prints once it serves.
type endpoints struct {
	Intake   string `json:"intake"`   // base URL of the Intake server
	Baseline string `json:"baseline"` // base URL of the plain net/http baseline
}

// memStats is what the server process reports of its memory, after a
// full collection that returns free memory to the OS (unless asked with
// ?collect=0, for the allocation counters alone).
type memStats struct {
	HeapInuse  uint64 `json:"heapInuse"`
	StackInuse uint64 `json:"stackInuse"`
	Sys        uint64 `json:"sys"`
	Goroutines int    `json:"goroutines"`
	// Mallocs and TotalAlloc count the heap objects and bytes allocated
	// since the process started.
	Mallocs    uint64 `json:"mallocs"`
	TotalAlloc uint64 `json:"totalAlloc"`
}

// memPath is where the baseline listener reports the process's memory.
const memPath = "/_load/mem"

// serveChild is the server process: Intake as main.go assembles it
// (internal/app: store, service, PostgreSQL progress broker, sync engine,
// HTTP server) on a loopback port, configured by intakeEnv, and the
// baseline handler on another port, sharing nothing but the database
// server. It prints their URLs as one JSON line on stdout and serves until
// its stdin closes or it is signalled, so it never outlives the load tool.
// Running in its own process, its memory is measured without the
// clients'.
func serveChild(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("load -serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := fs.String("database", "", "PostgreSQL database URL")
	verbose := fs.Bool("v", false, "log info messages")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dbURL == "" {
		return errors.New("-database is required")
	}
	key := os.Getenv(encryptionKeyEnv)
	if key == "" {
		return fmt.Errorf("%s is required", encryptionKeyEnv)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg, err := benchkit.Config(*dbURL, intakeEnv(key, *verbose))
	if err != nil {
		return err
	}
	a, err := app.New(ctx, cfg, app.Options{
		// Only the tool's test syncs run: the scheduler looks for due
		// triggers at start and hourly (main.go: every 10s), so no
		// scheduled run of a newly enabled trigger races the run a phase
		// follows.
		Engine: func(c *engine.Config) { c.ScheduleEvery = time.Hour },
	})
	if err != nil {
		return err
	}
	// Not ctx: a signal must not cut the stop short; each step is bounded.
	defer a.Stop(context.WithoutCancel(ctx)) //nolint:errcheck // after a failure: its error is the answer
	if err := a.Start(ctx); err != nil {
		return err
	}

	// The baseline gets its own pool with the store's settings.
	bdb, err := sql.Open("postgres", *dbURL)
	if err != nil {
		return err
	}
	defer bdb.Close()
	bdb.SetMaxOpenConns(a.Store.DB.Stats().MaxOpenConnections)
	bdb.SetMaxIdleConns(10)
	bdb.SetConnMaxIdleTime(5 * time.Minute)
	mux := http.NewServeMux()
	mux.Handle("/", newBaseline(bdb))
	mux.HandleFunc("GET "+memPath, serveMem)
	// The server process's profiles, for looking into a phase while it
	// runs: go tool pprof http://<baseline>/_load/pprof/profile?seconds=10
	mux.HandleFunc("GET /_load/pprof/profile", pprof.Profile)
	for _, p := range []string{"heap", "allocs", "goroutine", "mutex", "block"} {
		mux.Handle("GET /_load/pprof/"+p, pprof.Handler(p))
	}
	bln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	bsrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	go bsrv.Serve(bln) //nolint:errcheck // ends with Shutdown

	line, _ := json.Marshal(endpoints{Intake: "http://" + a.Addr().String(), Baseline: "http://" + bln.Addr().String()})
	fmt.Fprintf(stdout, "%s\n", line)

	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		close(stdinClosed)
	}()
	select {
	case err = <-a.Done():
	case <-ctx.Done():
	case <-stdinClosed:
	}
	err = errors.Join(err, a.Stop(context.WithoutCancel(ctx)))
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return errors.Join(err, bsrv.Shutdown(stopCtx))
}

// serveMem reports the process's memory after returning what it can to
// the OS, so that VmRSS read next reflects what the process holds.
func serveMem(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("collect") != "0" {
		debug.FreeOSMemory()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(memStats{
		HeapInuse: ms.HeapInuse, StackInuse: ms.StackInuse, Sys: ms.Sys, Goroutines: runtime.NumGoroutine(),
		Mallocs: ms.Mallocs, TotalAlloc: ms.TotalAlloc,
	})
}
