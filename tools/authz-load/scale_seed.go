package main

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/authz/authz/internal/audit"
)

// The bulk data of bench-scale, written straight into the tables (the
// columns of migrations 0001–0009): the store's one-row-at-a-time methods
// would take hours for three million rows. PostgreSQL gets COPY, SQLite one
// transaction per batch of prepared inserts.

// scaleMarker is the table that marks a database as bench-scale's: it is
// created before anything else, and a database with data but without it is
// refused.
const scaleMarker = "authz_bench_scale"

// scaleCounts is how much bench-scale seeds at a scale factor.
type scaleCounts struct {
	Users, Clients, LiveTokens, ExpiredTokens, AuditEvents int
}

func countsAt(scale float64) scaleCounts {
	n := func(full int) int { return max(1, int(float64(full)*scale)) }
	return scaleCounts{Users: n(100_000), Clients: n(1_000), LiveTokens: n(1_000_000), ExpiredTokens: n(1_000_000), AuditEvents: n(1_000_000)}
}

// bulkRows makes the rows of one table, one at a time.
type bulkRows struct {
	table   string
	columns []string
	n       int
	row     func(i int) []any
}

// tokenTemplate is a real token row of the server under test (its session
// and form), so that the seeded tokens weigh what real ones do.
type tokenTemplate struct {
	ClientID, Subject string
	Session           []byte
	Form              string
}

// scaleTables are the bulk rows at counts, as of now. Users "scale-NNNNNNN"
// (every third with OTP required and an authenticator), clients
// "scale-client-NNNN", access tokens (half expired an hour ago), audit
// events over the last 30 days about the seeded users.
func scaleTables(c scaleCounts, now time.Time, hash string, tmpl tokenTemplate, sqlite bool) []bulkRows {
	r := rand.New(rand.NewPCG(1, 2))
	t := func(at time.Time) any {
		if sqlite {
			return at.UnixMicro()
		}
		return at
	}
	list := func(v string) any {
		if sqlite {
			return `["` + v + `"]`
		}
		return []string{v}
	}
	b := func(v bool) any {
		if sqlite && v {
			return 1
		} else if sqlite {
			return 0
		}
		return v
	}
	userID := func(i int) string { return fmt.Sprintf("scale%027d", i) }
	sig := func() string {
		var x [24]byte
		for i := range 3 {
			v := r.Uint64()
			for j := range 8 {
				x[i*8+j] = byte(v >> (8 * j))
			}
		}
		return hex.EncodeToString(x[:])
	}
	// Request IDs as authz makes them (UUID v7, oauth.orderRequestID):
	// growing in the order the tokens were issued.
	ids := rand.NewChaCha8([32]byte{1})
	requestID := func() string { return uuid.Must(uuid.NewV7FromReader(ids)).String() }
	types := []string{string(audit.LoginSuccess), string(audit.LoginFailure), string(audit.Logout), string(audit.UserUpdated), string(audit.OTPLockout)}
	tokens := c.LiveTokens + c.ExpiredTokens
	return []bulkRows{
		{"users", []string{"id", "username", "email", "password_hash", "enabled", "otp_required", "role", "created_at", "updated_at"}, c.Users,
			func(i int) []any {
				name := fmt.Sprintf("scale-%07d", i)
				return []any{userID(i), name, name + "@example.com", hash, b(true), b(i%3 == 0), "user", t(now), t(now)}
			}},
		{"otp_credentials", []string{"user_id", "sealed_secret", "last_step", "created_at"}, (c.Users + 2) / 3,
			func(i int) []any { return []any{userID(i * 3), []byte("not a sealed secret: never opened"), 0, t(now)} }},
		{"clients", []string{"id", "name", "secret_hash", "redirect_uris", "grant_types", "scopes", "created_at", "updated_at"}, c.Clients,
			func(i int) []any {
				id := fmt.Sprintf("scale-client-%04d", i)
				return []any{id, fmt.Sprintf("Scale application %04d", i), []byte("not a hash"), list("https://app.example/cb"),
					list("authorization_code"), list("openid"), t(now), t(now)}
			}},
		{"oauth_tokens", []string{"kind", "signature", "request_id", "requested_at", "client_id", "subject", "scopes", "granted_scopes",
			"form", "session", "active", "expires_at"}, tokens,
			func(i int) []any {
				expires := now.Add(time.Hour)
				if i%2 == 1 { // live and expired interleaved, as they pile up
					expires = now.Add(-time.Hour)
				}
				return []any{"access", sig(), requestID(), t(expires.Add(-2 * time.Hour)), tmpl.ClientID, tmpl.Subject, list("api.read"),
					list("api.read"), tmpl.Form, tmpl.Session, b(true), t(expires)}
			}},
		{"audit_events", []string{"time", "type", "actor_id", "user_id", "client_id", "ip", "detail"}, c.AuditEvents,
			func(i int) []any {
				at := now.Add(-time.Duration(r.Int64N(int64(30 * 24 * time.Hour))))
				return []any{t(at), types[i%len(types)], "", userID(r.IntN(c.Users)), "", "192.0.2.1", "amr=pwd,otp,mfa"}
			}},
	}
}

// copyPostgres writes rows with COPY.
func copyPostgres(ctx context.Context, conn *pgx.Conn, rows bulkRows) error {
	i := 0
	_, err := conn.CopyFrom(ctx, pgx.Identifier{rows.table}, rows.columns, pgx.CopyFromFunc(func() ([]any, error) {
		if i >= rows.n {
			return nil, nil
		}
		i++
		return rows.row(i - 1), nil
	}))
	if err != nil {
		return fmt.Errorf("copy %s: %w", rows.table, err)
	}
	return nil
}

// sqliteBatch is how many rows one SQLite transaction inserts.
const sqliteBatch = 20_000

// insertSQLite writes rows in transactions of sqliteBatch prepared inserts.
func insertSQLite(ctx context.Context, db *sql.DB, rows bulkRows) error {
	q := "INSERT INTO " + rows.table + " (" + join(rows.columns) + ") VALUES (?" + repeat(", ?", len(rows.columns)-1) + ")"
	for start := 0; start < rows.n; start += sqliteBatch {
		if err := insertBatch(ctx, db, q, rows, start, min(rows.n, start+sqliteBatch)); err != nil {
			return fmt.Errorf("insert into %s: %w", rows.table, err)
		}
	}
	return nil
}

func insertBatch(ctx context.Context, db *sql.DB, q string, rows bulkRows, from, to int) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	stmt, err := tx.PrepareContext(ctx, q)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for i := from; i < to; i++ {
		if _, err := stmt.ExecContext(ctx, rows.row(i)...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func join(cols []string) string {
	out := ""
	for i, c := range cols {
		if i > 0 {
			out += ", "
		}
		out += c
	}
	return out
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

// errNotOurs refuses a database that holds data bench-scale did not create.
var errNotOurs = errors.New("the database holds data that bench-scale did not create (no " + scaleMarker + " table): refusing to seed it; give an empty database")
