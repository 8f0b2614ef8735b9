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
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/intake/intake/internal/bench/benchkit"
	"github.com/intake/intake/internal/secrets"
	"github.com/intake/intake/internal/service"
	"github.com/intake/intake/internal/store"
	"github.com/intake/intake/server"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/connector/providers"
	"github.com/intake/intake/sync/engine"
	"github.com/intake/intake/sync/progress"
)

// serveFlag, as the first argument, makes the command the server process
// the load runs against (see serveChild).
const serveFlag = "-serve"

// encryptionKeyEnv passes the credentials key to the server process, as
// main.go reads it.
const encryptionKeyEnv = "INTAKE_ENCRYPTION_KEY"

// endpoints is the line the server process prints once it serves.
type endpoints struct {
	Intake   string `json:"intake"`   // base URL of the Intake server
	Baseline string `json:"baseline"` // base URL of the plain net/http baseline
}

// memStats is what the server process reports of its memory, after a
// full collection that returns free memory to the OS.
type memStats struct {
	HeapInuse  uint64 `json:"heapInuse"`
	StackInuse uint64 `json:"stackInuse"`
	Sys        uint64 `json:"sys"`
	Goroutines int    `json:"goroutines"`
}

// memPath is where the baseline listener reports the process's memory.
const memPath = "/_load/mem"

// serveChild is the server process: Intake wired as main.go wires it
// (store, service, PostgreSQL progress broker, sync engine, server.New) on
// a loopback port, and the baseline handler on another, sharing nothing
// but the database server. It prints their URLs as one JSON line on
// stdout and serves until its stdin closes or it is signalled, so it
// never outlives the load tool. Running in its own process, its memory
// is measured without the clients'.
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
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	st, err := store.Open(ctx, *dbURL, "")
	if err != nil {
		return err
	}
	defer st.Close()
	box, err := secrets.Parse(os.Getenv(encryptionKeyEnv))
	if err != nil {
		return fmt.Errorf("%s: %w", encryptionKeyEnv, err)
	}
	svc := service.New(service.Deps{
		DB: st.Client, Providers: providers.All(), Secrets: box, Logger: log,
		Connector: connector.Options{Logger: log, Egress: benchkit.LoopbackEgress()},
	})
	broker := progress.NewPostgres(st.DB, *dbURL, log)
	startCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = broker.Start(startCtx)
	cancel()
	if err != nil {
		return fmt.Errorf("listening for progress: %w", err)
	}
	defer broker.Stop(context.WithoutCancel(ctx)) //nolint:errcheck // shutting down
	queueDB, err := st.QueueDB()
	if err != nil {
		return err
	}
	// Only the tool's test syncs run: the scheduler looks for due triggers
	// at start and hourly (main.go: every 10s), so no scheduled run of a
	// newly enabled trigger races the run a phase follows.
	eng, err := engine.New(engine.Config{ScheduleEvery: time.Hour}, engine.Deps{
		Ent: st.Client, DB: st.DB, QueueDB: queueDB, Dialect: st.Dialect,
		Open: svc.Opener().Open, Broker: broker, Logger: log,
	})
	if err != nil {
		return err
	}
	svc.SetSyncer(eng)
	svc.SetCalls(eng)
	if err := eng.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("starting the sync engine: %w", err)
	}
	srv := server.New(serverConfig(), server.Deps{
		DB: st.Client, Ping: st.DB.PingContext, Service: svc, Broker: broker, Logger: log, Webhooks: eng,
	})
	addr, done, err := srv.Start()
	if err != nil {
		return err
	}

	// The baseline gets its own pool with the store's settings.
	bdb, err := sql.Open("postgres", *dbURL)
	if err != nil {
		return err
	}
	defer bdb.Close()
	bdb.SetMaxOpenConns(st.DB.Stats().MaxOpenConnections)
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

	line, _ := json.Marshal(endpoints{Intake: "http://" + addr.String(), Baseline: "http://" + bln.Addr().String()})
	fmt.Fprintf(stdout, "%s\n", line)

	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		close(stdinClosed)
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
	case <-stdinClosed:
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	return errors.Join(err, srv.Stop(stopCtx), bsrv.Shutdown(stopCtx), eng.Stop(stopCtx))
}

// serverConfig is the Intake server's configuration: main.go's defaults
// on a loopback port of its own choosing, except the per-key rate limit,
// which stays on (its cost is measured) at a rate no key of the tool
// reaches (the default, 20 a second, would cap the throughput measured).
// The websocket limits are the defaults: the tool opens at most
// connsPerKey sockets per key.
func serverConfig() server.Config {
	return server.Config{Addr: "127.0.0.1:0", Limits: server.Limits{RatePerSecond: 1e6}}
}

// serveMem reports the process's memory after returning what it can to
// the OS, so that VmRSS read next reflects what the process holds.
func serveMem(w http.ResponseWriter, _ *http.Request) {
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(memStats{
		HeapInuse: ms.HeapInuse, StackInuse: ms.StackInuse, Sys: ms.Sys, Goroutines: runtime.NumGoroutine(),
	})
}
