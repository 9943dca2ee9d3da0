package sqlite

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/authz/authz/migrations"
)

const schemaTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER NOT NULL PRIMARY KEY,
	name       TEXT    NOT NULL,
	applied_at INTEGER NOT NULL
) STRICT`

// Migrate applies every pending migration, each in its own transaction
// together with its schema_migrations row, so a failure leaves the database
// at the last good version. Running it again is a no-op.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations.List("sqlite")
	if err != nil {
		return err
	}
	if _, err := s.write.ExecContext(ctx, schemaTable); err != nil {
		return wrap(err, "migrate: create schema_migrations")
	}
	applied, err := s.applied(ctx, s.write)
	if err != nil {
		return err
	}
	if err := checkKnown(ms, applied); err != nil {
		return err
	}
	for _, m := range ms {
		if _, ok := applied[m.Version]; !ok {
			if err := s.apply(ctx, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkKnown refuses a database migrated by a newer authz: this binary would
// not know what its schema means.
func checkKnown(ms []migrations.Migration, applied map[int]migrations.Status) error {
	known := map[int]bool{}
	for _, m := range ms {
		known[m.Version] = true
	}
	for v := range applied {
		if !known[v] {
			return fmt.Errorf("sqlite: migrate: database has migration %d, unknown to this version of authz", v)
		}
	}
	return nil
}

func (s *Store) apply(ctx context.Context, m migrations.Migration) error {
	err := s.inTx(ctx, func(q querier) error {
		// BEGIN IMMEDIATE serialises us with another process migrating the
		// same file; whoever comes second finds the row and stops.
		var done int
		if err := q.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).
			Scan(&done); err != nil || done > 0 {
			return err
		}
		if _, err := q.ExecContext(ctx, m.SQL); err != nil {
			return err
		}
		_, err := q.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.Version, m.Name, micro(time.Now()))
		return err
	})
	return wrap(err, "migrate: apply %04d_%s", m.Version, m.Name)
}

// applied returns the recorded migrations by version.
func (s *Store) applied(ctx context.Context, q querier) (map[int]migrations.Status, error) {
	rows, err := q.QueryContext(ctx, `SELECT version, name, applied_at FROM schema_migrations`)
	if err != nil {
		return nil, wrap(err, "read schema_migrations")
	}
	defer rows.Close()
	out := map[int]migrations.Status{}
	for rows.Next() {
		var st migrations.Status
		if err := rows.Scan(&st.Version, &st.Name, microTime{&st.AppliedAt}); err != nil {
			return nil, wrap(err, "read schema_migrations")
		}
		out[st.Version] = st
	}
	return out, wrap(rows.Err(), "read schema_migrations")
}

// MigrationStatus lists every migration this binary knows, and any the
// database has that it does not, by version; pending ones have a zero
// AppliedAt. It changes nothing, not even on a fresh file.
func (s *Store) MigrationStatus(ctx context.Context) ([]migrations.Status, error) {
	ms, err := migrations.List("sqlite")
	if err != nil {
		return nil, err
	}
	applied := map[int]migrations.Status{}
	var exists int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema
		WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&exists); err != nil {
		return nil, wrap(err, "migration status")
	}
	if exists > 0 {
		if applied, err = s.applied(ctx, s.read); err != nil {
			return nil, err
		}
	}
	var out []migrations.Status
	for _, m := range ms {
		st := migrations.Status{Version: m.Version, Name: m.Name}
		if a, ok := applied[m.Version]; ok {
			st.AppliedAt = a.AppliedAt
		}
		delete(applied, m.Version)
		out = append(out, st)
	}
	for _, a := range applied {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}
