package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/authz/authz/tools/loadgen"
)

// benchOptions are the flags of `authz-load bench`.
type benchOptions struct {
	authz    string
	duration time.Duration
	workers  int
	// wideWorkers is the second worker count of the token scenarios, whose
	// better run counts: with few workers PostgreSQL's round trips leave the
	// cores idle, while SQLite is saturated by then.
	wideWorkers int
	users       int
	floodSize   int
	adminURL    string // a PostgreSQL database to create the benchmark's databases from
	backends    []string
	micro       bool
	jsonOut     string
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseBenchFlags(args, stderr)
	if err != nil {
		return err
	}
	res := &benchResults{GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(), Started: time.Now().UTC(),
		Duration: o.duration.String(), Workers: o.workers, WideWorkers: o.wideWorkers, FloodWorkers: o.floodSize}
	pgSkipped := ""
	if slices.ContainsFunc(o.backends, func(b string) bool { return storeOf(b) == "postgres" }) {
		var stop func()
		stop, pgSkipped = ensurePostgres(ctx, o)
		defer stop()
	}
	if o.micro {
		fmt.Fprintln(stderr, "bench: Go micro-benchmarks…")
		if res.Micro, err = runMicro(ctx, o, stderr); err != nil {
			return err
		}
	}
	for _, b := range o.backends {
		if storeOf(b) == "postgres" && pgSkipped != "" {
			fmt.Fprintln(stderr, "bench: postgres skipped:", pgSkipped)
			res.Backends = append(res.Backends, &backendResult{Backend: b, Skipped: pgSkipped})
			continue
		}
		fmt.Fprintf(stderr, "bench: load on %s…\n", b)
		r, err := benchBackend(ctx, o, b, stderr)
		if err != nil {
			return fmt.Errorf("%s: %w", b, err)
		}
		res.Backends = append(res.Backends, r)
	}
	res.summarize(stdout)
	if o.jsonOut != "" {
		return writeResults(o.jsonOut, res)
	}
	return nil
}

func parseBenchFlags(args []string, stderr io.Writer) (*benchOptions, error) {
	fs := flag.NewFlagSet("authz-load bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &benchOptions{}
	fs.StringVar(&o.authz, "authz", "bin/authz", "the authz binary to benchmark (make bench builds it)")
	dur := fs.String("duration", "10s", "duration of each load run")
	fs.IntVar(&o.workers, "workers", 8, "workers of each load run (the flood has its own)")
	fs.IntVar(&o.wideWorkers, "wide-workers", 32, "the token scenarios also run with this many workers, and the better run counts (0: only --workers)")
	fs.IntVar(&o.users, "users", defaultUsers, "users to seed for the login and refresh scenarios")
	fs.IntVar(&o.floodSize, "flood-workers", 512, "concurrent logins of the login flood (it runs at least 10 s)")
	fs.StringVar(&o.adminURL, "database-url", firstEnv("AUTHZ_BENCH_DATABASE_URL", "AUTHZ_TEST_DATABASE_URL"),
		"PostgreSQL URL to create throwaway databases from (default $AUTHZ_BENCH_DATABASE_URL or $AUTHZ_TEST_DATABASE_URL; empty: a throwaway cluster when initdb is installed)")
	backends := fs.String("backends", "sqlite,postgres,sqlite-es256,postgres-es256",
		"stores to benchmark; a -es256 backend signs ID tokens with ES256 instead of RS256 and runs only the scenarios that sign (refresh, login)")
	fs.BoolVar(&o.micro, "micro", true, "run the Go micro-benchmarks first (needs the go command and the source)")
	fs.StringVar(&o.jsonOut, "json", "", "also write every figure to this JSON file")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	d, err := time.ParseDuration(*dur)
	if err != nil || d <= 0 || d > loadgen.MaxDuration {
		return nil, usageError(fmt.Sprintf("bad duration %q: want a Go duration such as 10s, at most %s", *dur, loadgen.MaxDuration))
	}
	o.duration = d
	for _, b := range strings.Split(*backends, ",") {
		b = strings.TrimSpace(b)
		if st := storeOf(b); st != "sqlite" && st != "postgres" {
			return nil, usageError(fmt.Sprintf("unknown backend %q: want sqlite or postgres, optionally with -es256", b))
		}
		o.backends = append(o.backends, b)
	}
	if o.workers < 1 || o.floodSize < 1 || o.users < 1 {
		return nil, usageError("--workers, --flood-workers and --users must be at least 1")
	}
	if o.wideWorkers != 0 && o.wideWorkers <= o.workers {
		return nil, usageError(fmt.Sprintf("--wide-workers must be 0 (off) or more than --workers (%d)", o.workers))
	}
	if _, err := os.Stat(o.authz); err != nil {
		return nil, usageError(fmt.Sprintf("authz binary %s: %v (run make build, or pass --authz)", o.authz, err))
	}
	return o, nil
}

// storeOf is the store of a backend name: "postgres" for "postgres-es256".
func storeOf(backend string) string { return strings.TrimSuffix(backend, "-es256") }

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// benchResults is everything one bench run measured.
type benchResults struct {
	GOMAXPROCS int       `json:"gomaxprocs"`
	GoVersion  string    `json:"go_version"`
	Started    time.Time `json:"started"`
	Duration   string    `json:"run_duration"`
	Workers    int       `json:"workers"`
	// WideWorkers is the second worker count of the token scenarios.
	WideWorkers int `json:"wide_workers,omitempty"`
	// FloodWorkers is the number of concurrent logins of the flood.
	FloodWorkers int              `json:"flood_workers"`
	Micro        []microResult    `json:"micro,omitempty"`
	Backends     []*backendResult `json:"backends"`
}

// backendResult is what the load runs measured on one store.
type backendResult struct {
	Backend string  `json:"backend"`
	Skipped string  `json:"skipped,omitempty"`
	ReadyMs float64 `json:"ready_ms"`
	// Argon2idMs is one password check at the default cost, measured in the
	// bench process just before and just after the login run (the median of
	// eighteen), so under the same conditions.
	Argon2idMs float64 `json:"argon2id_ms"`
	// Argon2idAllCoresPerS is the rate of password checks with one running
	// on every core at once, measured beside Argon2idMs.
	Argon2idAllCoresPerS float64 `json:"argon2id_all_cores_per_s"`
	IdleRSSMB            float64 `json:"idle_rss_mb"`
	// IdlePrivateMB is RssAnon at idle: what a replica costs beyond the
	// binary's pages, which replicas on one host share (issue 12).
	IdlePrivateMB float64                    `json:"idle_private_mb"`
	Runs          map[string]*loadgen.Report `json:"runs"`
	FloodPeakMB   float64                    `json:"flood_peak_rss_mb"`
	FloodAlive    bool                       `json:"flood_server_alive"`
	Flood503      int                        `json:"flood_503s"`
	// JWTSigningPerS is the rate at which the bench process signs
	// access-token JWTs with the backend's algorithm on every core, measured
	// just before the JWT client-credentials runs.
	JWTSigningPerS float64 `json:"jwt_signing_per_s"`
	// JWTAlgorithm is that algorithm.
	JWTAlgorithm string `json:"jwt_algorithm"`
	// RequestTimeoutMs is the server's request deadline.
	RequestTimeoutMs float64 `json:"request_timeout_ms"`
}

func writeResults(path string, r *benchResults) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func randomKey() string {
	b := make([]byte, 32)
	if _, err := randRead(b); err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}
