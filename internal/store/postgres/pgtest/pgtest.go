// Package pgtest gives tests a PostgreSQL database of their own. Tests anywhere
// in the repository use it to run against the real server instead of a fake:
//
//	s, err := postgres.Open(ctx, pgtest.URL(t))
//
// The server comes from AUTHZ_TEST_DATABASE_URL; without it the tests skip, so
// `go test ./...` works on a machine without PostgreSQL. CI sets
// AUTHZ_REQUIRE_POSTGRES=1 so that a missing server fails instead of passing
// silently.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables read by URL.
const (
	// EnvURL names a database on the server to use; URL connects to it only to
	// create and drop the per-test databases.
	EnvURL = "AUTHZ_TEST_DATABASE_URL"
	// EnvRequire, set to 1, turns the skip for a missing EnvURL into a failure.
	EnvRequire = "AUTHZ_REQUIRE_POSTGRES"
)

// SkipMessage is what tests report when EnvURL is not set.
const SkipMessage = "PostgreSQL tests skipped: set " + EnvURL +
	"=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable to run them"

// adminTimeout bounds CREATE and DROP DATABASE, so a wedged server fails the
// test instead of hanging it until the go test timeout.
const adminTimeout = time.Minute

// URL creates a fresh, empty database for the calling test and returns its URL.
// The database is dropped when the test ends, even if connections to it are
// still open. Without AUTHZ_TEST_DATABASE_URL the test is skipped, or fails when
// AUTHZ_REQUIRE_POSTGRES=1.
func URL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvURL)
	if admin == "" {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatal(SkipMessage)
		}
		t.Skip(SkipMessage)
	}
	name := "authz_test_" + randomSuffix()
	if err := adminExec(admin, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		err := adminExec(admin, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`)
		if err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("pgtest: %s: %v", EnvURL, err)
	}
	return u
}

// randomSuffix keeps databases of parallel tests and packages apart.
func randomSuffix() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// adminExec runs one statement on a short-lived connection to the admin
// database; CREATE and DROP DATABASE cannot run inside a transaction or pool.
func adminExec(admin, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase returns admin pointing at database name instead, for both URL
// and key=value forms.
func withDatabase(admin, name string) (string, error) {
	if !strings.HasPrefix(admin, "postgres://") && !strings.HasPrefix(admin, "postgresql://") {
		// In key=value form a later key overrides an earlier one.
		return admin + " dbname=" + name, nil
	}
	u, err := url.Parse(admin)
	if err != nil {
		return "", fmt.Errorf("parse: %w", err)
	}
	u.Path = "/" + name
	u.RawPath = ""
	q := u.Query()
	if q.Has("dbname") {
		q.Set("dbname", name)
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}
