package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authz/authz/internal/testsupport/pgcluster"
	"github.com/authz/authz/tools/loadgen"
)

func TestScaleBadFlags(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "authz")
	if err := os.WriteFile(bin, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--scale", "0"}, {"--scale", "-1"}, {"--scale", "11"}, {"--duration", "soon"},
		{"--backends", "mysql"}, {"--workers", "0"}, {"--authz", "/nonexistent/authz"},
	} {
		code, _, stderr := runCLI(append([]string{"scale", "--authz", bin}, args...)...)
		if code != exitUsage {
			t.Errorf("scale %v: exit %d (%s), want %d", args, code, stderr, exitUsage)
		}
	}
}

// TestScaleRefusesForeignSQLite: a database with tables but without the
// bench-scale marker is refused and left as it was; one bench-scale made is
// emptied and claimed again.
func TestScaleRefusesForeignSQLite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "authz.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE users (id TEXT); INSERT INTO users VALUES ('precious')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := claimSQLite(ctx, path); !errors.Is(err, errNotOurs) {
		t.Fatalf("claim of a foreign database: %v, want errNotOurs", err)
	}
	if n := sqliteCount(t, path, `SELECT count(*) FROM users`); n != 1 {
		t.Fatalf("the refused database lost its row: %d", n)
	}

	ours := filepath.Join(t.TempDir(), "sub", "authz.db")
	if err := claimSQLite(ctx, ours); err != nil {
		t.Fatalf("claim of a new file: %v", err)
	}
	db, _ = sql.Open("sqlite", ours)
	if _, err := db.Exec(`CREATE TABLE users (id TEXT); INSERT INTO users VALUES ('seeded')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := claimSQLite(ctx, ours); err != nil {
		t.Fatalf("claim of its own database: %v", err)
	}
	if n := sqliteCount(t, ours, `SELECT count(*) FROM sqlite_master WHERE name = 'users'`); n != 0 {
		t.Error("an earlier run's tables survived the claim")
	}
}

func sqliteCount(t *testing.T, path, q string) int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestScaleRefusesForeignPostgres is the same on PostgreSQL.
func TestScaleRefusesForeignPostgres(t *testing.T) {
	admin := os.Getenv("AUTHZ_TEST_DATABASE_URL")
	if admin == "" {
		if os.Getenv("AUTHZ_REQUIRE_POSTGRES") != "" {
			t.Fatal("AUTHZ_TEST_DATABASE_URL is not set")
		}
		t.Skip("AUTHZ_TEST_DATABASE_URL is not set")
	}
	ctx := context.Background()
	dbURL, drop, err := pgcluster.CreateDatabase(ctx, admin, "authz_scale_test_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = drop(context.Background()) })
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE users (id text); INSERT INTO users VALUES ('precious')`); err != nil {
		t.Fatal(err)
	}
	if err := claimPostgres(ctx, dbURL); !errors.Is(err, errNotOurs) || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("claim of a foreign database: %v, want errNotOurs", err)
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the refused database: %d rows, %v", n, err)
	}
	if _, err := conn.Exec(ctx, `DROP TABLE users`); err != nil {
		t.Fatal(err)
	}
	if err := claimPostgres(ctx, dbURL); err != nil {
		t.Fatalf("claim of an empty database: %v", err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE users (id text)`); err != nil {
		t.Fatal(err)
	}
	if err := claimPostgres(ctx, dbURL); err != nil {
		t.Fatalf("claim of its own database: %v", err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_name = 'users'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("an earlier run's tables survived the claim: %d, %v", n, err)
	}
}

func TestParseCPUTime(t *testing.T) {
	// utime 250 and stime 50 ticks: 3 s; the command name holds ") (".
	stat := "4242 (authz) (x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 9 0 100 1000000 500 18446744073709551615"
	if got := parseCPUTime(stat); got != 3*time.Second {
		t.Errorf("parseCPUTime = %v, want 3s", got)
	}
	for _, bad := range []string{"", "4242 (authz", "4242 (authz) S 1 2", "1 (a) S 1 1 1 0 -1 0 0 0 0 0 x 5"} {
		if got := parseCPUTime(bad); got != 0 {
			t.Errorf("parseCPUTime(%q) = %v, want 0", bad, got)
		}
	}
}

// TestPairedRatios: each round measures both sides back to back, the empty
// one first in odd rounds; the ratio is the median of the rounds', so a host
// whose speed halves between rounds does not move it, and one bad round
// does not either.
func TestPairedRatios(t *testing.T) {
	var calls []string
	speed := map[int]float64{0: 1, 1: 0.5, 2: 2} // the host's speed by round
	rate := func(empty bool, sc string) (float64, error) {
		round := len(calls) / 2 % pairRounds
		calls = append(calls, fmt.Sprint(empty))
		base := 1000.0
		if !empty {
			base = 850 // the seeded store: 85 % of the empty one
			if sc == loadgen.Login && round == 1 {
				base = 100 // one disturbed run
			}
		}
		return base * speed[round], nil
	}
	var log strings.Builder
	got, err := pairedRatios(&log, rate)
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range scaleScenarios {
		if math.Abs(got[sc]-0.85) > 1e-9 {
			t.Errorf("%s: paired ratio %v, want 0.85", sc, got[sc])
		}
	}
	if want := []string{"true", "false", "false", "true", "true", "false"}; !slices.Equal(calls[:6], want) {
		t.Errorf("sides of the first three rounds %v, want %v (empty first, then seeded first, alternating)", calls[:6], want)
	}
	if len(calls) != 2*pairRounds*len(scaleScenarios) || strings.Count(log.String(), "round") != pairRounds*len(scaleScenarios) {
		t.Errorf("%d runs and log\n%s", len(calls), log.String())
	}
	if _, err := pairedRatios(io.Discard, func(bool, string) (float64, error) { return 0, errors.New("refused") }); err == nil {
		t.Error("a failed run did not fail the paired measurement")
	}
}

// TestPrintScaleJudgesPairedRatio: with paired ratios, the verdict follows
// them, not the phases' ratio; without, the phases'.
func TestPrintScaleJudgesPairedRatio(t *testing.T) {
	phase := func(rate float64) *scalePhase {
		runs := map[string]*loadgen.Report{}
		for _, sc := range scaleScenarios {
			runs[sc] = &loadgen.Report{PerSecond: rate}
		}
		return &scalePhase{Runs: runs}
	}
	r := &scaleResult{Backend: "sqlite", Empty: phase(1000), Seeded: phase(700),
		Paired: map[string]float64{loadgen.ClientCredentials: 0.93, loadgen.Introspect: 0.79}}
	var out strings.Builder
	printScale(&out, &scaleOptions{scale: 1}, []*scaleResult{r})
	for _, want := range []string{
		"client-credentials       1000.0/s      700.0/s      70%      93% met (≥ 80%)",
		"introspect               1000.0/s      700.0/s      70%      79% MISSED (≥ 80%)",
		"refresh                  1000.0/s      700.0/s      70%        - MISSED (≥ 80%)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("want %q in\n%s", want, out.String())
		}
	}
}
