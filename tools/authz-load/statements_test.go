package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authz/authz/internal/config"
	"github.com/authz/authz/internal/server"
	"github.com/authz/authz/internal/store/postgres"
	"github.com/authz/authz/internal/testsupport/pgcluster"
	"github.com/authz/authz/tools/loadgen"
)

// statementCounter counts the round trips a PostgreSQL store makes: each
// statement, and each batch as one.
type statementCounter struct {
	mu    sync.Mutex
	on    bool
	ops   int // operations counted, of count
	total int
	texts map[string]int
}

func (c *statementCounter) record(sql string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.on {
		return
	}
	c.total++
	sql = strings.Join(strings.Fields(sql), " ")
	c.texts[sql[:min(len(sql), 70)]]++
}

// TraceQueryStart implements pgx.QueryTracer.
func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.record(d.SQL)
	return ctx
}

// TraceQueryEnd implements pgx.QueryTracer.
func (c *statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TraceBatchStart implements pgx.BatchTracer: a batch is one round trip.
func (c *statementCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	c.record("batch of " + strings.Repeat("x", d.Batch.Len()))
	return ctx
}

// TraceBatchQuery implements pgx.BatchTracer.
func (c *statementCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

// TraceBatchEnd implements pgx.BatchTracer.
func (c *statementCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// maxLoginStatements is what one MFA login (authorize, password, one-time
// code, code exchange) may cost on PostgreSQL: docs/performance.md counts
// them ("Login round trips on PostgreSQL"): 53, then 51 with the features
// since, 38 since a failure within its free budget is counted in one
// upsert and each request reads its login transaction with the user's
// records in one batch, 36 since a step's form reads its address's
// throttle in that batch too, 34 since the new session, the last login
// and the sign-in's audit event are written in one batch, 31 since the
// code exchange reads its code, PKCE request and OpenID Connect session in
// one batch (four reads before), 29 since the authorization response
// stores those three in one batch, 27 since an accepted one-time code
// clears its lockout in the same statement and the session's client is
// stored with the code's records, 26 since a code exchange stores its
// access and refresh token at its commit in one batch, and 25 since the sign-in ends the login
// transaction in the sign-in's batch.
const maxLoginStatements = 25

// maxRefreshStatements is what one refresh-token rotation may cost on
// PostgreSQL (docs/performance.md, "Login round trips on PostgreSQL"): 8,
// then 6 since the rotation deletes the access token issued with the old
// refresh token in its own statement, with no read of it before.
const maxRefreshStatements = 6

// TestLoginStatementsPostgres counts the statements of five full logins
// one after another, the journey of the login scenario, on PostgreSQL: their
// number per login must not grow past maxLoginStatements.
func TestLoginStatementsPostgres(t *testing.T) {
	counter, logins := countingServer(t)
	// One login first, uncounted, so that what is read once and then
	// cached (the client) is not counted as a login's.
	if err := logins.SignIn(context.Background()); err != nil {
		t.Fatalf("login: %v", err)
	}
	const n = 5
	counter.count(n, func() {
		for range n {
			if err := logins.SignIn(context.Background()); err != nil {
				t.Fatalf("login: %v", err)
			}
		}
	})
	counter.check(t, "login", maxLoginStatements)
}

// TestRefreshStatementsPostgres counts the statements of five rotations of
// one refresh token, the refresh scenario's operation.
func TestRefreshStatementsPostgres(t *testing.T) {
	counter, logins := countingServer(t)
	refresh, err := logins.Refresher(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	counter.count(n, func() {
		for range n {
			if err := refresh(context.Background()); err != nil {
				t.Fatalf("refresh: %v", err)
			}
		}
	})
	counter.check(t, "refresh", maxRefreshStatements)
}

// countingServer serves authz on a new PostgreSQL database whose statements
// counter counts, with seeded users for logins.
func countingServer(t *testing.T) (*statementCounter, *loadgen.Logins) {
	t.Helper()
	admin := os.Getenv("AUTHZ_TEST_DATABASE_URL")
	if admin == "" {
		if os.Getenv("AUTHZ_REQUIRE_POSTGRES") != "" {
			t.Fatal("AUTHZ_TEST_DATABASE_URL is not set")
		}
		t.Skip("AUTHZ_TEST_DATABASE_URL is not set")
	}
	ctx := context.Background()
	dbURL, drop, err := pgcluster.CreateDatabase(ctx, admin, "authz_statements_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = drop(context.Background()) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := "http://" + ln.Addr().String()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	l := config.Register(fs)
	if err := fs.Parse([]string{"--data-dir", t.TempDir(), "--database-url", dbURL, "--issuer", target,
		"--password-memory-kib", "1024", "--password-iterations", "1", "--seal-key", randomKey()}); err != nil {
		t.Fatal(err)
	}
	cfg, err := l.Load(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	counter := &statementCounter{texts: map[string]int{}}
	app, err := server.Open(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard, server.WithPostgres(postgres.WithTracer(counter)))
	if err != nil {
		t.Fatal(err)
	}
	seed, err := loadgen.Seed(ctx, app, 20)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: app.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Shutdown(context.Background())
		_ = app.Close()
	})
	logins, err := loadgen.NewLogins(ctx, loadgen.Options{Target: target, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(logins.Close)
	return counter, logins
}

// count counts the statements of fn, which makes n operations.
func (c *statementCounter) count(n int, fn func()) {
	c.mu.Lock()
	c.on, c.ops = true, n
	c.mu.Unlock()
	fn()
	c.mu.Lock()
	c.on = false
	c.mu.Unlock()
}

// check logs the statements counted and fails t when an operation took more
// than max.
func (c *statementCounter) check(t *testing.T, op string, max int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	per := c.total / c.ops
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(c.texts)) {
		lines = append(lines, strconv.Itoa(c.texts[k])+"  "+k)
	}
	t.Logf("%s × %d: %d statements, %d each:\n%s", op, c.ops, c.total, per, strings.Join(lines, "\n"))
	// Per operation, rounded down: the client cache reads a client again
	// once its entry expires, which a slow run may see once in a while.
	if per > max {
		t.Errorf("%d statements a %s, want at most %d", per, op, max)
	}
}
