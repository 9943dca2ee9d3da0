package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authz/authz/internal/config"
	"github.com/authz/authz/internal/server"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/tools/loadgen"
)

// scaleOptions are the flags of `authz-load scale` (make bench-scale).
type scaleOptions struct {
	authz     string
	scale     float64
	duration  time.Duration
	workers   int
	users     int
	adminURL  string // a PostgreSQL server to create throwaway databases on
	targetURL string // a PostgreSQL database to use as it is
	dataDir   string // a SQLite data directory to use as it is
	backends  []string
	jsonOut   string
}

// scaleResult is what one backend measured, empty and seeded.
type scaleResult struct {
	Backend     string        `json:"backend"`
	Counts      scaleCounts   `json:"counts"`
	SeedSeconds float64       `json:"seed_seconds"`
	Empty       *scalePhase   `json:"empty"`
	Seeded      *scalePhase   `json:"seeded"`
	Cleanup     *cleanupPhase `json:"cleanup"`
	// Paired is, per scenario, the median over pairRounds of the seeded
	// store's rate ÷ an empty twin's, measured in turns (pairedRatios); the
	// growth verdicts judge it when present.
	Paired map[string]float64 `json:"paired_ratios,omitempty"`
	// BytesPerMillionTokens is the growth of the database per million
	// tokens seeded (tables and indexes).
	BytesPerMillionTokens float64           `json:"bytes_per_million_tokens"`
	Plans                 map[string]string `json:"plans"`
}

// scalePhase is one round of measurements.
type scalePhase struct {
	Runs map[string]*loadgen.Report `json:"runs"`
	// Admin lists: p99 of every page request, and how many were made.
	UsersP99ms float64 `json:"users_list_p99_ms"`
	UsersPages int     `json:"users_list_pages"`
	AuditP99ms float64 `json:"audit_list_p99_ms"`
	AuditPages int     `json:"audit_list_pages"`
}

// cleanupPhase is the janitor deleting the expired tokens under load.
type cleanupPhase struct {
	Seconds  float64         `json:"seconds"`
	Deleted  int             `json:"deleted"`
	Finished bool            `json:"finished"`
	Load     *loadgen.Report `json:"client_credentials_during"`
}

func runScale(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseScaleFlags(args, stderr)
	if err != nil {
		return err
	}
	var results []*scaleResult
	for _, b := range o.backends {
		if b == "postgres" && o.targetURL == "" && o.adminURL == "" {
			fmt.Fprintln(stderr, "bench-scale: postgres skipped: set AUTHZ_BENCH_DATABASE_URL or --database-url")
			continue
		}
		fmt.Fprintf(stderr, "bench-scale: %s at scale %g…\n", b, o.scale)
		r, err := scaleBackend(ctx, o, b, stderr)
		if err != nil {
			return fmt.Errorf("%s: %w", b, err)
		}
		results = append(results, r)
	}
	printScale(stdout, o, results)
	if o.jsonOut != "" {
		b, err := json.MarshalIndent(results, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(o.jsonOut, append(b, '\n'), 0o644)
	}
	return nil
}

func parseScaleFlags(args []string, stderr io.Writer) (*scaleOptions, error) {
	fs := flag.NewFlagSet("authz-load scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &scaleOptions{}
	fs.StringVar(&o.authz, "authz", "bin/authz", "the authz binary to measure")
	fs.Float64Var(&o.scale, "scale", 1, "fraction of the full data set (100k users, 1k clients, 1M+1M tokens, 1M audit events) to seed")
	dur := fs.String("duration", "10s", "duration of each load run")
	fs.IntVar(&o.workers, "workers", 8, "workers of each load run")
	fs.IntVar(&o.users, "users", 1000, "users with known passwords for the login scenario")
	fs.StringVar(&o.adminURL, "database-url", firstEnv("AUTHZ_BENCH_DATABASE_URL", "AUTHZ_TEST_DATABASE_URL"),
		"PostgreSQL URL to create a throwaway database from")
	fs.StringVar(&o.targetURL, "target-database-url", "", "seed and measure this PostgreSQL database instead of a throwaway one (refused unless empty or bench-scale's own)")
	fs.StringVar(&o.dataDir, "data-dir", "", "seed and measure this SQLite data directory instead of a throwaway one (refused unless empty or bench-scale's own)")
	backends := fs.String("backends", "sqlite,postgres", "stores to measure")
	fs.StringVar(&o.jsonOut, "json", "", "also write every figure to this JSON file")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	d, err := time.ParseDuration(*dur)
	if err != nil || d <= 0 || d > loadgen.MaxDuration {
		return nil, usageError(fmt.Sprintf("bad duration %q", *dur))
	}
	o.duration = d
	if o.scale <= 0 || o.scale > 10 {
		return nil, usageError("--scale must be more than 0 and at most 10")
	}
	if o.workers < 1 || o.users < 1 {
		return nil, usageError("--workers and --users must be at least 1")
	}
	for _, b := range strings.Split(*backends, ",") {
		if b = strings.TrimSpace(b); b != "sqlite" && b != "postgres" {
			return nil, usageError(fmt.Sprintf("unknown backend %q: want sqlite or postgres", b))
		}
		o.backends = append(o.backends, b)
	}
	if _, err := os.Stat(o.authz); err != nil {
		return nil, usageError(fmt.Sprintf("authz binary %s: %v (run make build, or pass --authz)", o.authz, err))
	}
	return o, nil
}

// scaleTarget is the database of one backend's run.
type scaleTarget struct {
	backend string
	dir     string // the data directory (the SQLite file lives in it)
	dbURL   string // PostgreSQL only
	cleanup []func()
}

func (t *scaleTarget) close() {
	for _, f := range slices.Backward(t.cleanup) {
		f()
	}
}

// openTarget picks the database, refuses one holding data bench-scale did
// not create, empties one it did, and marks it as bench-scale's.
func openTarget(ctx context.Context, o *scaleOptions, backend string) (*scaleTarget, error) {
	t := &scaleTarget{backend: backend}
	switch {
	case backend == "sqlite" && o.dataDir != "":
		t.dir = o.dataDir
	default:
		dir, err := os.MkdirTemp("", "authz-scale-")
		if err != nil {
			return nil, err
		}
		t.dir = dir
		t.cleanup = append(t.cleanup, func() { _ = os.RemoveAll(dir) })
	}
	if backend == "sqlite" {
		return t, claimSQLite(ctx, filepath.Join(t.dir, "authz.db"))
	}
	t.dbURL = o.targetURL
	if t.dbURL == "" {
		u, drop, err := benchDatabase(ctx, o.adminURL)
		if err != nil {
			t.close()
			return nil, err
		}
		t.dbURL = u
		t.cleanup = append(t.cleanup, drop)
	}
	if err := claimPostgres(ctx, t.dbURL); err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

// claimPostgres refuses a database with tables but no marker, drops what an
// earlier run left in one with the marker, and marks it.
func claimPostgres(ctx context.Context, dbURL string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var tables int
	var marked bool
	err = conn.QueryRow(ctx, `SELECT count(*), bool_or(table_name = $1) IS TRUE FROM information_schema.tables
		WHERE table_schema = 'public'`, scaleMarker).Scan(&tables, &marked)
	if err != nil {
		return err
	}
	switch {
	case tables > 0 && !marked:
		return errNotOurs
	case marked:
		if _, err := conn.Exec(ctx, `DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
			return err
		}
	}
	_, err = conn.Exec(ctx, `CREATE TABLE `+scaleMarker+` (created_at timestamptz NOT NULL DEFAULT now())`)
	return err
}

// claimSQLite does what claimPostgres does for a SQLite file.
func claimSQLite(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		db, err := sql.Open("sqlite", path)
		if err != nil {
			return err
		}
		var tables, marked int
		err = db.QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE name = ?) FROM sqlite_master WHERE type = 'table'`, scaleMarker).Scan(&tables, &marked)
		db.Close()
		if err != nil {
			return err
		}
		if tables > 0 && marked == 0 {
			return errNotOurs
		}
		for _, suffix := range []string{"", "-wal", "-shm"} {
			_ = os.Remove(path + suffix)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, `CREATE TABLE `+scaleMarker+` (created_at INTEGER NOT NULL)`)
	return err
}

// scaleSeed is the small seed of the load scenarios plus an administrator
// client for the admin API.
type scaleSeed struct {
	load    *loadgen.SeedFile
	adminID string
	secret  string
	hash    string // the seeded users' password hash
}

func scaleBackend(ctx context.Context, o *scaleOptions, backend string, stderr io.Writer) (*scaleResult, error) {
	t, err := openTarget(ctx, o, backend)
	if err != nil {
		return nil, err
	}
	defer t.close()
	res := &scaleResult{Backend: backend, Counts: countsAt(o.scale), Plans: map[string]string{}}
	target, args, seed, err := scaleServer(ctx, t, o.users)
	if err != nil {
		return nil, err
	}
	serve := func(janitor string) (*authzProcess, error) {
		return startAuthz(ctx, o.authz, append(slices.Clone(args), "--janitor-interval", janitor), filepath.Join(t.dir, "authz.log"))
	}

	fmt.Fprintln(stderr, "bench-scale: the empty store…")
	srv, err := serve("24h")
	if err != nil {
		return nil, err
	}
	res.Empty, err = measurePhase(ctx, o, target, seed, stderr)
	srv.stop()
	if err != nil {
		return nil, err
	}

	fmt.Fprintf(stderr, "bench-scale: seeding %+v…\n", res.Counts)
	started := time.Now()
	if err := bulkSeed(ctx, t, res, seed.hash); err != nil {
		return nil, err
	}
	res.SeedSeconds = time.Since(started).Seconds()
	fmt.Fprintf(stderr, "bench-scale: seeded in %.1f s\n", res.SeedSeconds)
	if err := queryPlans(ctx, t, res.Plans); err != nil {
		return nil, err
	}

	fmt.Fprintln(stderr, "bench-scale: the seeded store…")
	if srv, err = serve("24h"); err != nil {
		return nil, err
	}
	res.Seeded, err = measurePhase(ctx, o, target, seed, stderr)
	if err == nil {
		res.Paired, err = measurePaired(ctx, o, backend, target, seed.load, stderr)
	}
	srv.stop()
	if err != nil {
		return nil, err
	}

	fmt.Fprintln(stderr, "bench-scale: the janitor deletes the expired tokens under load…")
	if srv, err = serve("1s"); err != nil {
		return nil, err
	}
	defer srv.stop()
	res.Cleanup, err = measureCleanup(ctx, o, t, target, seed, res.Counts.ExpiredTokens)
	return res, err
}

// seedScaleClients opens the store as authz does (migrations, bootstrap
// administrator) and seeds the load scenarios' clients and users and an
// administrator client.
func seedScaleClients(ctx context.Context, args []string, users int) (*scaleSeed, error) {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	l := config.Register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	cfg, err := l.Load(func(string) (string, bool) { return "", false })
	if err != nil {
		return nil, err
	}
	app, err := server.Open(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		return nil, err
	}
	defer app.Close()
	s := &scaleSeed{adminID: "authz-scale-admin"}
	if s.load, err = loadgen.Seed(ctx, app, users); err != nil {
		return nil, err
	}
	secret, hash, err := app.Provider.Hasher().NewClientSecret()
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	c := &store.Client{ID: s.adminID, Name: s.adminID, SecretHash: hash, GrantTypes: []string{"client_credentials"},
		Scopes: []string{"authz.admin"}, CreatedAt: now, UpdatedAt: now}
	if err := app.Store.CreateClient(ctx, c); err != nil {
		return nil, err
	}
	s.secret = secret
	u, err := app.Store.GetUserByUsername(ctx, s.load.Users[0].Username)
	if err != nil {
		return nil, err
	}
	s.hash = u.PasswordHash
	return s, nil
}

// scaleScenarios are the scenarios whose rates bench-scale compares.
var scaleScenarios = []string{loadgen.ClientCredentials, loadgen.Introspect, loadgen.Refresh, loadgen.Login}

// scaleServer seeds t with the clients and users of the load runs and
// returns the flags of a server on t at a free port, and the URL it will
// answer at.
func scaleServer(ctx context.Context, t *scaleTarget, users int) (target string, args []string, seed *scaleSeed, err error) {
	port, err := freePort()
	if err != nil {
		return "", nil, nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	target = "http://" + addr
	// As in bench: every simulated user comes from this one address.
	args = []string{"--data-dir", t.dir, "--seal-key", randomKey(), "--log-level", "error", "--listen", addr, "--issuer", target,
		"--login-anonymous-per-address", "1000000"}
	if t.dbURL != "" {
		args = append(args, "--database-url", t.dbURL)
	}
	seed, err = seedScaleClients(ctx, args, users)
	return target, args, seed, err
}

// measurePaired starts a server on an empty twin of the backend's store
// (a throwaway directory or database) and compares the seeded store at
// seeded with it, pairedRatios. It returns nil when no twin can be made: a
// PostgreSQL given only as --target-database-url.
func measurePaired(ctx context.Context, o *scaleOptions, backend, seeded string, seededLoad *loadgen.SeedFile, stderr io.Writer) (map[string]float64, error) {
	if backend == "postgres" && o.adminURL == "" {
		fmt.Fprintln(stderr, "bench-scale: no empty twin without --database-url: growth judged on the phases alone")
		return nil, nil
	}
	twin, err := openTarget(ctx, &scaleOptions{adminURL: o.adminURL}, backend)
	if err != nil {
		return nil, err
	}
	defer twin.close()
	twinTarget, args, seed, err := scaleServer(ctx, twin, o.users)
	if err != nil {
		return nil, err
	}
	srv, err := startAuthz(ctx, o.authz, append(args, "--janitor-interval", "24h"), filepath.Join(twin.dir, "authz.log"))
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	fmt.Fprintf(stderr, "bench-scale: the seeded store and an empty twin in turns, %d rounds…\n", pairRounds)
	return pairedRatios(stderr, func(empty bool, sc string) (float64, error) {
		target, load := seeded, seededLoad
		if empty {
			target, load = twinTarget, seed.load
		}
		r, err := loadgen.Run(ctx, loadgen.Options{Target: target, Scenario: sc, Workers: o.workers, Duration: o.duration, Seed: load})
		if err != nil {
			return 0, fmt.Errorf("%s: %w", sc, err)
		}
		return r.PerSecond, nil
	})
}

// pairRounds is how many times bench-scale measures each scenario on the
// empty twin and on the seeded store in turn.
const pairRounds = 3

// pairedRatios measures each scenario on an empty store and on the seeded
// one in turns (which goes first alternating by round), pairRounds times,
// and returns per scenario the median of the rounds' seeded ÷ empty rates.
// The two rates of a ratio are measured seconds apart, so the drift of a
// shared host's speed (a third within minutes here) mostly cancels out of
// it; the empty and seeded phases lie minutes apart. rate runs one
// scenario on one side; each round's rates are logged to log.
func pairedRatios(log io.Writer, rate func(empty bool, scenario string) (float64, error)) (map[string]float64, error) {
	ratios := map[string]float64{}
	for _, sc := range scaleScenarios {
		var rs []float64
		for round := range pairRounds {
			var seeded, empty float64
			for _, onEmpty := range []bool{round%2 == 0, round%2 != 0} {
				r, err := rate(onEmpty, sc)
				if err != nil {
					return nil, err
				}
				if onEmpty {
					empty = r
				} else {
					seeded = r
				}
			}
			if empty > 0 {
				rs = append(rs, seeded/empty)
				fmt.Fprintf(log, "  %s, round %d: seeded %.1f/s, empty %.1f/s (%.0f%%)\n", sc, round+1, seeded, empty, 100*seeded/empty)
			}
		}
		if len(rs) > 0 {
			slices.Sort(rs)
			ratios[sc] = rs[len(rs)/2]
		}
	}
	return ratios, nil
}

// measurePhase runs the token and login scenarios, then pages through the
// admin lists.
func measurePhase(ctx context.Context, o *scaleOptions, target string, seed *scaleSeed, stderr io.Writer) (*scalePhase, error) {
	p := &scalePhase{Runs: map[string]*loadgen.Report{}}
	for _, sc := range scaleScenarios {
		r, err := loadgen.Run(ctx, loadgen.Options{Target: target, Scenario: sc, Workers: o.workers, Duration: o.duration, Seed: seed.load})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sc, err)
		}
		_ = r.WriteTable(stderr)
		p.Runs[sc] = r
	}
	token, err := adminToken(ctx, target, seed)
	if err != nil {
		return nil, err
	}
	// Users: a prefix search, then every page of the whole list (the last
	// one included), 100 a page.
	var lat []time.Duration
	for _, q := range []string{"?q=scale-0000&limit=100", "?q=load-&limit=100", "?limit=100"} {
		l, err := walkAPI(ctx, target, token, "/admin/api/v1/users"+q, 0)
		if err != nil {
			return nil, err
		}
		lat = append(lat, l...)
	}
	p.UsersP99ms, p.UsersPages = p99ms(lat), len(lat)
	// Audit: one user's logins newest first, and the newest 20 pages of
	// all logins.
	lat = nil
	for _, q := range []struct {
		path  string
		pages int
	}{{"/admin/api/v1/audit-events?type=login.success&user_id=scale000000000000000000000000042&limit=100", 0},
		{"/admin/api/v1/audit-events?type=login.success&limit=100", 20},
		{"/admin/api/v1/audit-events?limit=100", 20}} {
		l, err := walkAPI(ctx, target, token, q.path, q.pages)
		if err != nil {
			return nil, err
		}
		lat = append(lat, l...)
	}
	p.AuditP99ms, p.AuditPages = p99ms(lat), len(lat)
	fmt.Fprintf(stderr, "admin lists: users p99 %.1f ms over %d pages, audit p99 %.1f ms over %d pages\n",
		p.UsersP99ms, p.UsersPages, p.AuditP99ms, p.AuditPages)
	return p, nil
}

func adminToken(ctx context.Context, target string, seed *scaleSeed) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"authz.admin"}}
	req, _ := http.NewRequestWithContext(ctx, "POST", target+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(seed.adminID), url.QueryEscape(seed.secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("admin token: status %d, %v", resp.StatusCode, err)
	}
	return tok.AccessToken, nil
}

// walkAPI follows an admin list's Link headers from path, at most pages
// pages (0: to the end), and returns each request's latency.
func walkAPI(ctx context.Context, target, token, path string, pages int) ([]time.Duration, error) {
	var lat []time.Duration
	for path != "" && (pages == 0 || len(lat) < pages) {
		req, _ := http.NewRequestWithContext(ctx, "GET", target+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(start))
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: status %d", path, resp.StatusCode)
		}
		path = ""
		if link := resp.Header.Get("Link"); strings.HasPrefix(link, "<") {
			path = link[1:strings.Index(link, ">")]
		}
	}
	return lat, nil
}

func p99ms(lat []time.Duration) float64 {
	if len(lat) == 0 {
		return 0
	}
	slices.Sort(lat)
	return ms(lat[min(len(lat)-1, len(lat)*99/100)])
}

// bulkSeed writes the bulk rows, measuring what the tokens add to the
// database's size, and refreshes the planner's statistics, as autovacuum
// (or an operator's ANALYZE on SQLite) would, so that no background pass
// runs during the measurements.
func bulkSeed(ctx context.Context, t *scaleTarget, res *scaleResult, hash string) error {
	now := time.Now().UTC()
	if t.dbURL != "" {
		conn, err := pgx.Connect(ctx, t.dbURL)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		tmpl, err := pgTemplate(ctx, conn)
		if err != nil {
			return err
		}
		var before, after int64
		for _, rows := range scaleTables(res.Counts, now, hash, tmpl, false) {
			if rows.table == "oauth_tokens" {
				_ = conn.QueryRow(ctx, `SELECT pg_total_relation_size('oauth_tokens')`).Scan(&before)
			}
			if err := copyPostgres(ctx, conn, rows); err != nil {
				return err
			}
			if rows.table == "oauth_tokens" {
				_ = conn.QueryRow(ctx, `SELECT pg_total_relation_size('oauth_tokens')`).Scan(&after)
				res.BytesPerMillionTokens = float64(after-before) / float64(rows.n) * 1e6
			}
		}
		// VACUUM too: otherwise autovacuum visits the freshly copied
		// tables during the measurements that follow, on the same cores.
		_, err = conn.Exec(ctx, `VACUUM ANALYZE`)
		return err
	}
	path := filepath.Join(t.dir, "authz.db")
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	tmpl, err := sqliteTemplate(ctx, db)
	if err != nil {
		return err
	}
	for _, rows := range scaleTables(res.Counts, now, hash, tmpl, true) {
		var before, after int64
		if rows.table == "oauth_tokens" {
			before = sqliteBytes(ctx, db)
		}
		if err := insertSQLite(ctx, db, rows); err != nil {
			return err
		}
		if rows.table == "oauth_tokens" {
			after = sqliteBytes(ctx, db)
			res.BytesPerMillionTokens = float64(after-before) / float64(rows.n) * 1e6
		}
	}
	_, err = db.ExecContext(ctx, `ANALYZE; PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// sqliteBytes is the size of the database's pages in use.
func sqliteBytes(ctx context.Context, db *sql.DB) int64 {
	var pages, free, size int64
	_ = db.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages)
	_ = db.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free)
	_ = db.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&size)
	return (pages - free) * size
}

func pgTemplate(ctx context.Context, conn *pgx.Conn) (tokenTemplate, error) {
	var t tokenTemplate
	err := conn.QueryRow(ctx, `SELECT client_id, subject, session, form FROM oauth_tokens WHERE kind = 'access' LIMIT 1`).
		Scan(&t.ClientID, &t.Subject, &t.Session, &t.Form)
	return t, err
}

func sqliteTemplate(ctx context.Context, db *sql.DB) (tokenTemplate, error) {
	var t tokenTemplate
	err := db.QueryRowContext(ctx, `SELECT client_id, subject, session, form FROM oauth_tokens WHERE kind = 'access' LIMIT 1`).
		Scan(&t.ClientID, &t.Subject, &t.Session, &t.Form)
	return t, err
}

// expiredTokens counts the tokens past expiry.
func expiredTokens(ctx context.Context, t *scaleTarget) (int, error) {
	var n int
	now := time.Now()
	if t.dbURL != "" {
		conn, err := pgx.Connect(ctx, t.dbURL)
		if err != nil {
			return 0, err
		}
		defer conn.Close(ctx)
		err = conn.QueryRow(ctx, `SELECT count(*) FROM oauth_tokens WHERE expires_at <= $1`, now).Scan(&n)
		return n, err
	}
	db, err := sql.Open("sqlite", filepath.Join(t.dir, "authz.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	err = db.QueryRowContext(ctx, `SELECT count(*) FROM oauth_tokens WHERE expires_at > 0 AND expires_at <= ?`, now.UnixMicro()).Scan(&n)
	return n, err
}

// measureCleanup drives client-credentials while the server's janitor (every
// second, batches of 500) deletes the expired tokens, until none is left or
// ten load runs have passed.
func measureCleanup(ctx context.Context, o *scaleOptions, t *scaleTarget, target string, seed *scaleSeed, expired int) (*cleanupPhase, error) {
	c := &cleanupPhase{}
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg     sync.WaitGroup
		report *loadgen.Report
		runErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Long enough for the cleanup at full scale; cut short when done.
		report, runErr = loadgen.Run(ctx, loadgen.Options{Target: target, Scenario: loadgen.ClientCredentials,
			Workers: o.workers, Duration: loadgen.MaxDuration, Rate: 0, Seed: seed.load})
	}()
	left := expired
	for left > 0 && time.Since(start) < 10*o.duration*time.Duration(max(1, o.scale*10)) {
		time.Sleep(250 * time.Millisecond)
		n, err := expiredTokens(ctx, t)
		if err != nil {
			cancel()
			wg.Wait()
			return nil, err
		}
		left = n
	}
	c.Seconds, c.Finished, c.Deleted = time.Since(start).Seconds(), left == 0, expired-left
	cancel()
	wg.Wait()
	if runErr != nil && report == nil {
		return nil, runErr
	}
	c.Load = report
	return c, nil
}

// queryPlans records the plans of the admin lists' queries on the seeded
// store, for docs/performance.md.
func queryPlans(ctx context.Context, t *scaleTarget, plans map[string]string) error {
	queries := map[string]string{
		"users, prefix scale-0000":   `SELECT * FROM ((SELECT id, lower(username) AS folded FROM users WHERE lower(username) COLLATE "C" >= 'scale-0000' AND lower(username) COLLATE "C" < 'scale-0000' || chr(1114111) AND lower(username) COLLATE "C" > '' ORDER BY lower(username) COLLATE "C" LIMIT 101) UNION (SELECT id, lower(username) AS folded FROM users WHERE email <> '' AND lower(email) COLLATE "C" >= 'scale-0000' AND lower(email) COLLATE "C" < 'scale-0000' || chr(1114111) AND lower(username) COLLATE "C" > '' ORDER BY lower(username) COLLATE "C" LIMIT 101)) AS page ORDER BY folded COLLATE "C" LIMIT 101`,
		"users, last page":           `SELECT id FROM users WHERE lower(username) COLLATE "C" > 'scale-0099900' ORDER BY lower(username) COLLATE "C" LIMIT 101`,
		"audit, user and type":       `SELECT id FROM audit_events WHERE type = 'login.success' AND user_id = 'scale000000000000000000000000042' ORDER BY time DESC, id DESC LIMIT 101`,
		"audit, type after a cursor": `SELECT id FROM audit_events WHERE type = 'login.success' AND (time, id) < (now() - interval '15 days', 1) ORDER BY time DESC, id DESC LIMIT 101`,
		"expired tokens, one batch":  `SELECT kind, signature FROM oauth_tokens WHERE expires_at <= now() ORDER BY expires_at LIMIT 500`,
	}
	if t.dbURL != "" {
		conn, err := pgx.Connect(ctx, t.dbURL)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		for name, q := range queries {
			rows, err := conn.Query(ctx, `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) `+q)
			if err != nil {
				return fmt.Errorf("plan of %s: %w", name, err)
			}
			var lines []string
			for rows.Next() {
				var l string
				_ = rows.Scan(&l)
				lines = append(lines, l)
			}
			rows.Close()
			plans[name] = strings.Join(lines, "\n")
		}
		return nil
	}
	db, err := sql.Open("sqlite", filepath.Join(t.dir, "authz.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	sqliteQ := map[string]string{
		"users, prefix scale-0000":   `SELECT id FROM users WHERE rowid IN (SELECT rowid FROM (SELECT rowid FROM users WHERE lower(username) >= 'scale-0000' AND lower(username) < 'scale-0000' || char(1114111) AND lower(username) > '' ORDER BY lower(username) LIMIT 101) UNION SELECT rowid FROM (SELECT rowid FROM users WHERE email <> '' AND lower(email) >= 'scale-0000' AND lower(email) < 'scale-0000' || char(1114111) AND +lower(username) > '' ORDER BY +lower(username) LIMIT 101)) ORDER BY lower(username) LIMIT 101`,
		"users, last page":           `SELECT id FROM users WHERE lower(username) > 'scale-0099900' ORDER BY lower(username) LIMIT 101`,
		"audit, user and type":       `SELECT id FROM audit_events WHERE type = 'login.success' AND user_id = 'scale000000000000000000000000042' ORDER BY time DESC, id DESC LIMIT 101`,
		"audit, type after a cursor": `SELECT id FROM audit_events WHERE type = 'login.success' AND (time, id) < (1, 1) ORDER BY time DESC, id DESC LIMIT 101`,
		"expired tokens, one batch":  `SELECT kind, signature FROM oauth_tokens WHERE expires_at > 0 AND expires_at <= 1 LIMIT 500`,
	}
	for name, q := range sqliteQ {
		rows, err := db.QueryContext(ctx, `EXPLAIN QUERY PLAN `+q)
		if err != nil {
			return fmt.Errorf("plan of %s: %w", name, err)
		}
		var lines []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			_ = rows.Scan(&id, &parent, &notused, &detail)
			lines = append(lines, detail)
		}
		rows.Close()
		plans[name] = strings.Join(lines, "\n")
	}
	return nil
}

// printScale prints each backend's figures, seeded against empty.
func printScale(w io.Writer, o *scaleOptions, results []*scaleResult) {
	for _, r := range results {
		fmt.Fprintf(w, "\n== %s, scale %g: %d users, %d clients, %d live + %d expired tokens, %d audit events; seeded in %.1f s\n",
			r.Backend, o.scale, r.Counts.Users, r.Counts.Clients, r.Counts.LiveTokens, r.Counts.ExpiredTokens, r.Counts.AuditEvents, r.SeedSeconds)
		fmt.Fprintf(w, "%-20s %12s %12s %8s %8s %s\n", "", "empty", "seeded", "ratio", "paired", "target")
		for _, sc := range []struct {
			name   string
			within float64
		}{{loadgen.ClientCredentials, 0.2}, {loadgen.Introspect, 0.2}, {loadgen.Refresh, 0.2}, {loadgen.Login, 0.1}} {
			e, s := r.Empty.Runs[sc.name], r.Seeded.Runs[sc.name]
			ratio, paired := s.PerSecond/e.PerSecond, "-"
			if p, ok := r.Paired[sc.name]; ok {
				ratio, paired = p, fmt.Sprintf("%.0f%%", 100*p)
			}
			fmt.Fprintf(w, "%-20s %10.1f/s %10.1f/s %7.0f%% %8s %s\n", sc.name, e.PerSecond, s.PerSecond, 100*s.PerSecond/e.PerSecond, paired,
				scaleVerdict(ratio >= 1-sc.within, fmt.Sprintf("≥ %.0f%%", 100*(1-sc.within))))
		}
		fmt.Fprintf(w, "%-20s %10.1fms %10.1fms %17s %s (%d pages)\n", "users list p99", r.Empty.UsersP99ms, r.Seeded.UsersP99ms, "", scaleVerdict(r.Seeded.UsersP99ms <= 50, "≤ 50 ms"), r.Seeded.UsersPages)
		fmt.Fprintf(w, "%-20s %10.1fms %10.1fms %17s %s (%d pages)\n", "audit list p99", r.Empty.AuditP99ms, r.Seeded.AuditP99ms, "", scaleVerdict(r.Seeded.AuditP99ms <= 50, "≤ 50 ms"), r.Seeded.AuditPages)
		if c := r.Cleanup; c != nil && c.Load != nil {
			fmt.Fprintf(w, "cleanup: %d expired tokens deleted in %.1f s (finished: %v); client_credentials meanwhile %.0f/s, p99 %.1f ms, max %.1f ms, %d errors %s\n",
				c.Deleted, c.Seconds, c.Finished, c.Load.PerSecond, c.Load.P99ms, c.Load.MaxMs, c.Load.Errors, scaleVerdict(c.Load.P99ms <= 100 && c.Finished, "p99 ≤ 100 ms"))
		}
		fmt.Fprintf(w, "database size per million tokens: %.0f MB\n", r.BytesPerMillionTokens/1e6)
		for _, name := range slices.Sorted(maps.Keys(r.Plans)) {
			fmt.Fprintf(w, "plan of %s:\n    %s\n", name, strings.ReplaceAll(r.Plans[name], "\n", "\n    "))
		}
	}
}

func scaleVerdict(ok bool, target string) string {
	if ok {
		return "met (" + target + ")"
	}
	return "MISSED (" + target + ")"
}
