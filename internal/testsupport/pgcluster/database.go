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
	var b [8]byte
	_, _ = rand.Read(b[:])
	name := pgx.Identifier{prefix + hex.EncodeToString(b[:])}
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
