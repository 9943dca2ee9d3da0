package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authz/authz/migrations"
)

// migrationLock is the pg_advisory_lock key that serializes Migrate across
// processes: one per schema, as authz's tables are, so that deployments (or
// tests) in other schemas of the same database do not wait for each other.
const migrationLock = `hashtextextended('authz migrate ' || current_schema(), 0)`

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`

// Migrate applies the pending migrations in version order, each in its own
// transaction together with its schema_migrations row, so a failure leaves the
// database at the last good version. Replicas starting at the same moment may
// all call it: a session advisory lock makes them take turns, and each one finds
// the work done by those before it.
func (s *Store) Migrate(ctx context.Context) error {
	all, err := migrations.List("postgres")
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return wrapf(err, "migrate: acquire connection")
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+migrationLock+`)`); err != nil {
		// The lock may have been granted just as ctx ended; closing the session
		// is the one sure way to release it.
		_ = conn.Conn().Close(context.WithoutCancel(ctx))
		return wrapf(err, "migrate: take lock")
	}
	defer unlock(ctx, conn)
	return applyPending(ctx, conn.Conn(), all)
}

// unlock releases the migration lock. Should that fail, the connection is
// closed instead (Release then drops it from the pool): the server ends a
// session's locks with the session, and a pooled connection must never keep
// holding one.
func unlock(ctx context.Context, conn *pgxpool.Conn) {
	ctx = context.WithoutCancel(ctx)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock(`+migrationLock+`)`); err != nil {
		_ = conn.Conn().Close(ctx)
	}
}

// applyPending runs every migration of all not yet recorded as applied.
func applyPending(ctx context.Context, conn *pgx.Conn, all []migrations.Migration) error {
	if _, err := conn.Exec(ctx, createMigrationsTable); err != nil {
		return wrapf(err, "migrate: create schema_migrations")
	}
	applied, err := appliedVersions(ctx, conn)
	if err != nil {
		return err
	}
	for _, m := range all {
		if _, ok := applied[m.Version]; ok {
			continue
		}
		if err := apply(ctx, conn, m); err != nil {
			return err
		}
	}
	return nil
}

// apply runs one migration and records it, atomically.
func apply(ctx context.Context, conn *pgx.Conn, m migrations.Migration) error {
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		// No arguments: pgx uses the simple protocol, which accepts a script of
		// many statements.
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`,
			m.Version, m.Name)
		return err
	})
	if err != nil {
		return wrapf(err, "migrate: apply %04d_%s", m.Version, m.Name)
	}
	return nil
}

// appliedVersions reads schema_migrations, or returns an empty map when the
// table does not exist yet.
func appliedVersions(ctx context.Context, q querier) (map[int]migrations.Status, error) {
	var exists bool
	err := q.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists)
	if err != nil {
		return nil, wrapf(err, "migrate: look for schema_migrations")
	}
	out := map[int]migrations.Status{}
	if !exists {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT version, name, applied_at FROM schema_migrations`)
	if err != nil {
		return nil, wrapf(err, "migrate: read schema_migrations")
	}
	defer rows.Close()
	for rows.Next() {
		var st migrations.Status
		if err := rows.Scan(&st.Version, &st.Name, tsDst{&st.AppliedAt}); err != nil {
			return nil, wrapf(err, "migrate: read schema_migrations")
		}
		out[st.Version] = st
	}
	if err := rows.Err(); err != nil {
		return nil, wrapf(err, "migrate: read schema_migrations")
	}
	return out, nil
}

// MigrationStatus lists every known migration in version order with the time it
// was applied, zero while pending. Versions the database has but this binary
// does not know (it was migrated by a newer release) follow at the end.
func (s *Store) MigrationStatus(ctx context.Context) ([]migrations.Status, error) {
	all, err := migrations.List("postgres")
	if err != nil {
		return nil, fmt.Errorf("postgres: migration status: %w", err)
	}
	applied, err := appliedVersions(ctx, s.pool)
	if err != nil {
		return nil, err
	}
	out := make([]migrations.Status, 0, len(all))
	for _, m := range all {
		st := migrations.Status{Version: m.Version, Name: m.Name}
		if a, ok := applied[m.Version]; ok {
			st.AppliedAt = a.AppliedAt
			delete(applied, m.Version)
		}
		out = append(out, st)
	}
	return append(out, unknownVersions(applied)...), nil
}

// unknownVersions returns the remaining applied versions in ascending order.
func unknownVersions(applied map[int]migrations.Status) []migrations.Status {
	var out []migrations.Status
	for _, st := range applied {
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b migrations.Status) int { return cmp.Compare(a.Version, b.Version) })
	return out
}
