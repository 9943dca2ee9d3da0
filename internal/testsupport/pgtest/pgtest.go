// Package pgtest gives tests a PostgreSQL database of their own. Tests anywhere
// in the repository use it to run against the real server instead of a fake:
//
//	s, err := postgres.Open(ctx, pgtest.URL(t))
//
// The server comes from AUTHZ_TEST_DATABASE_URL; without it the tests skip, so
// `go test ./...` works on a machine without PostgreSQL. Tests that need a
// server of their own (to restart it, or to change its authentication) use
// Cluster, which needs PostgreSQL's binaries instead. CI sets
// AUTHZ_REQUIRE_POSTGRES=1 so that a missing server or missing binaries fail
// instead of passing silently.
package pgtest

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/authz/authz/internal/testsupport/pgcluster"
)

// Environment variables read by URL.
const (
	// EnvURL names a database on the server to use; URL connects to it only to
	// create and drop the per-test databases.
	EnvURL = "AUTHZ_TEST_DATABASE_URL"
	// EnvRequire, set to 1, turns the skip for a missing EnvURL, or for
	// Cluster's missing binaries, into a failure.
	EnvRequire = "AUTHZ_REQUIRE_POSTGRES"
)

// SkipMessage is what tests report when EnvURL is not set.
const SkipMessage = "PostgreSQL tests skipped: set " + EnvURL +
	"=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable to run them"

// adminTimeout bounds CREATE and DROP DATABASE, so a wedged server fails the
// test instead of hanging it until the go test timeout.
const adminTimeout = time.Minute

// URL creates a fresh, empty schema for the calling test in the database
// AUTHZ_TEST_DATABASE_URL names, and returns a URL whose sessions use it (its
// search_path). The schema is dropped when the test ends. Without
// AUTHZ_TEST_DATABASE_URL the test is skipped, or fails when
// AUTHZ_REQUIRE_POSTGRES=1.
//
// Tests share what PostgreSQL keeps per database, such as pg_stat_activity,
// where a test finds its own sessions by application_name, the schema's
// name. authz's advisory locks are per schema, so tests do not wait for
// each other's migrations.
func URL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvURL)
	if admin == "" {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatal(SkipMessage)
		}
		t.Skip(SkipMessage)
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	u, drop, err := pgcluster.CreateSchema(ctx, admin, "authz_test_")

	if err != nil {
		t.Fatalf("pgtest: %s: %v", EnvURL, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
		defer cancel()
		if err := drop(ctx); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return u
}

// Cluster starts a throwaway PostgreSQL server of the test's own (initdb and
// pg_ctl in a temporary directory), for tests that restart it or change its
// authentication, and removes it when the test ends, showing its log if the
// test failed. Without the server binaries, or with -short, the test is
// skipped; AUTHZ_REQUIRE_POSTGRES=1 turns the missing binaries into a failure.
func Cluster(t testing.TB) *pgcluster.Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a PostgreSQL server; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgcluster.Start(ctx)
	if errors.Is(err, pgcluster.ErrNotInstalled) {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(c.LogFile()); err == nil {
				t.Logf("PostgreSQL log:\n%s", b)
			}
		}
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}
