package main

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authz/authz/internal/testsupport/pgcluster"
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
