package pgcluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
)

// CreateDatabase creates an empty database named prefix plus a random suffix
// on the server serverURL connects to (any PostgreSQL, not only a Cluster's).
// It returns the database's URL, in serverURL's form (postgres:// or
// key=value), and drop, which removes it even while connections to it are
// open.
func CreateDatabase(ctx context.Context, serverURL, prefix string) (dbURL string, drop func(context.Context) error, err error) {
	name := pgx.Identifier{randomName(prefix)}
	if dbURL, err = withDatabase(serverURL, name[0]); err != nil {
		return "", nil, err
	}
	if err := serverExec(ctx, serverURL, "CREATE DATABASE "+name.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("pgcluster: create database %s: %w", name[0], err)
	}
	drop = func(ctx context.Context) error {
		if err := serverExec(ctx, serverURL, "DROP DATABASE IF EXISTS "+name.Sanitize()+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("pgcluster: drop database %s: %w", name[0], err)
		}
		return nil
	}
	return dbURL, drop, nil
}

// CreateSchema creates an empty schema named prefix plus a random suffix in
// the database serverURL connects to, and returns serverURL with that schema
// as its search_path (and its name as application_name, so a test can pick out
// its own sessions in pg_stat_activity; and commits that do not wait for the
// disk), and drop, which removes the schema
// and everything in it. A schema costs a few catalog rows where a database
// costs a copy of template1 written through the WAL: tests that need only
// tables of their own take one each.
func CreateSchema(ctx context.Context, serverURL, prefix string) (schemaURL string, drop func(context.Context) error, err error) {
	name := pgx.Identifier{randomName(prefix)}
	params := map[string]string{
		"search_path":      name[0],
		"application_name": name[0],
		// A commit then need not wait for its WAL to reach the disk: what a
		// test checks is what it reads back, never what survives a crash of
		// the shared server, and the waits add up over hundreds of tests.
		"synchronous_commit": "off",
	}
	if schemaURL, err = withParams(serverURL, params); err != nil {
		return "", nil, err
	}
	if err := serverExec(ctx, serverURL, "CREATE SCHEMA "+name.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("pgcluster: create schema %s: %w", name[0], err)
	}
	drop = func(ctx context.Context) error {
		if err := serverExec(ctx, serverURL, "DROP SCHEMA IF EXISTS "+name.Sanitize()+" CASCADE"); err != nil {
			return fmt.Errorf("pgcluster: drop schema %s: %w", name[0], err)
		}
		return nil
	}
	return schemaURL, drop, nil
}

// randomName is prefix and a random suffix, a valid unquoted identifier when
// prefix is.
func randomName(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// withParams returns serverURL with the run-time parameters params added, in
// URL or key=value form.
func withParams(serverURL string, params map[string]string) (string, error) {
	if !strings.HasPrefix(serverURL, "postgres://") && !strings.HasPrefix(serverURL, "postgresql://") {
		for k, v := range params {
			serverURL += " " + k + "=" + v
		}
		return serverURL, nil
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", fmt.Errorf("pgcluster: parse server URL: %w", err)
	}
	q := u.Query()
	for k, v := range params {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// serverExec runs one statement on a connection of its own: CREATE and DROP
// DATABASE cannot run inside a transaction or through a pool.
func serverExec(ctx context.Context, serverURL, sql string) error {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase returns serverURL pointing at database name instead, in URL
// or key=value form.
func withDatabase(serverURL, name string) (string, error) {
	if !strings.HasPrefix(serverURL, "postgres://") && !strings.HasPrefix(serverURL, "postgresql://") {
		// In key=value form a later key overrides an earlier one.
		return serverURL + " dbname=" + name, nil
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", fmt.Errorf("pgcluster: parse server URL: %w", err)
	}
	u.Path = "/" + name
	u.RawPath = ""
	if q := u.Query(); q.Has("dbname") {
		q.Set("dbname", name)
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}
