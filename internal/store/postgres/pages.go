package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/authz/authz/internal/store"
)

// The keyset lists of store.Store (see store/page.go). Names sort in byte
// order (COLLATE "C", the indexes of migration 0009): then the names that
// start with a prefix are one index range, [prefix, prefix || U+10FFFF), and
// a page is one range scan whatever the database's collation.

// maxRune closes a prefix range: every string that starts with the prefix
// sorts below prefix || maxRune in byte order.
const maxRune = "\U0010FFFF"

// conds builds a WHERE clause with numbered parameters.
type conds struct {
	list []string
	args []any
}

// add appends cond, in which each "?" stands for the next of args.
func (c *conds) add(cond string, args ...any) {
	for _, a := range args {
		c.args = append(c.args, a)
		cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(c.args)), 1)
	}
	c.list = append(c.list, cond)
}

// where is the clause, "" without conditions.
func (c *conds) where() string {
	if len(c.list) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(c.list, " AND ")
}

// limit is the LIMIT clause of a page: one row more than it shows, which
// tells whether another page follows.
func (c *conds) limit(p store.Page) string {
	c.args = append(c.args, p.Size()+1)
	return " LIMIT $" + strconv.Itoa(len(c.args))
}

// cut trims the look-ahead row and makes the next cursor from the last row
// shown.
func cut[T any](rows []*T, p store.Page, next func(last *T) string) ([]*T, string) {
	if len(rows) <= p.Size() {
		return rows, ""
	}
	rows = rows[:p.Size()]
	return rows, next(rows[len(rows)-1])
}

// ListUsersPage implements store.Store.
func (s *Store) ListUsersPage(ctx context.Context, f store.UserPageFilter, p store.Page) ([]*store.User, string, error) {
	keys, err := store.DecodeCursor(p.After, f.Scope(), 1)
	if err != nil {
		return nil, "", err
	}
	after := ""
	if keys != nil {
		after = keys[0] // lower(username) is unique, so it alone is the sort key
	}
	const name = `lower(username) COLLATE "C"`
	sql := `SELECT ` + userCols + `, lower(username) FROM users WHERE ` + name + ` > $1 ORDER BY ` + name + ` LIMIT $2`
	args := []any{after, p.Size() + 1}
	if f.Prefix != "" {
		// Two index ranges, each cut to a page, rather than one WHERE with
		// an OR, whose rows the planner gathers and sorts whole. lower() of
		// the prefix in SQL folds case exactly as the indexed expressions do.
		sql = `SELECT * FROM ((SELECT ` + userCols + `, lower(username) AS folded FROM users
				WHERE ` + name + ` >= lower($3) AND ` + name + ` < lower($3) || $4 AND ` + name + ` > $1
				ORDER BY ` + name + ` LIMIT $2)
			UNION
			(SELECT ` + userCols + `, lower(username) AS folded FROM users
				WHERE email <> '' AND lower(email) COLLATE "C" >= lower($3) AND lower(email) COLLATE "C" < lower($3) || $4
				AND ` + name + ` > $1 ORDER BY ` + name + ` LIMIT $2)) AS page
			ORDER BY folded COLLATE "C" LIMIT $2`
		args = append(args, f.Prefix, maxRune)
	}
	users, folded, err := queryKeyed(ctx, s.q(ctx), scanUser, sql, args...)
	if err != nil {
		return nil, "", wrapf(err, "list users")
	}
	users, next := cut(users, p, func(*store.User) string {
		return store.EncodeCursor(f.Scope(), folded[p.Size()-1])
	})
	return users, next, nil
}

// queryKeyed is queryList for a query whose last column, after those scan
// reads, is the row's sort key as the database computes it (lower() in Go
// and in PostgreSQL may fold some letters differently).
func queryKeyed[T any](ctx context.Context, q querier, scan scanFunc[T], sql string, args ...any) ([]*T, []string, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var (
		out  []*T
		keys []string
	)
	for rows.Next() {
		var key string
		v, err := scan(keyedRow{rows, &key})
		if err != nil {
			return nil, nil, err
		}
		out, keys = append(out, v), append(keys, key)
	}
	return out, keys, rows.Err()
}

// keyedRow scans one more column, the sort key, after a scanner's own.
type keyedRow struct {
	pgx.Row
	key *string
}

// Scan implements pgx.Row.
func (r keyedRow) Scan(dest ...any) error { return r.Row.Scan(append(dest, r.key)...) }

// ListClientsPage implements store.Store.
func (s *Store) ListClientsPage(ctx context.Context, f store.ClientPageFilter, p store.Page) ([]*store.Client, string, error) {
	keys, err := store.DecodeCursor(p.After, f.Scope(), 2)
	if err != nil {
		return nil, "", err
	}
	var c conds
	if f.Query != "" {
		c.add(`(strpos(lower(name), lower(?)) > 0 OR strpos(lower(id), lower(?)) > 0)`, f.Query, f.Query)
	}
	if f.Disabled != nil {
		c.add(`disabled = ?`, *f.Disabled)
	}
	if keys != nil {
		c.add(`(lower(name) COLLATE "C", id) > (?, ?)`, keys[0], keys[1])
	}
	sql := `SELECT ` + clientCols + `, lower(name) FROM clients` + c.where() +
		` ORDER BY lower(name) COLLATE "C", id` + c.limit(p)
	clients, folded, err := queryKeyed(ctx, s.q(ctx), scanClient, sql, c.args...)
	if err != nil {
		return nil, "", wrapf(err, "list clients")
	}
	clients, next := cut(clients, p, func(last *store.Client) string {
		return store.EncodeCursor(f.Scope(), folded[p.Size()-1], last.ID)
	})
	return clients, next, nil
}

// ListProvidersPage implements store.Store.
func (s *Store) ListProvidersPage(ctx context.Context, f store.ProviderPageFilter, p store.Page) ([]*store.Provider, string, error) {
	keys, err := store.DecodeCursor(p.After, f.Scope(), 1)
	if err != nil {
		return nil, "", err
	}
	var c conds
	if f.Enabled != nil {
		c.add(`enabled = ?`, *f.Enabled)
	}
	if keys != nil {
		c.add(`alias > ?`, keys[0])
	}
	sql := `SELECT ` + providerCols + ` FROM providers` + c.where() + ` ORDER BY alias` + c.limit(p)
	ps, err := queryList(ctx, s.q(ctx), scanProvider, sql, c.args...)
	if err != nil {
		return nil, "", wrapf(err, "list providers")
	}
	ps, next := cut(ps, p, func(last *store.Provider) string { return store.EncodeCursor(f.Scope(), last.Alias) })
	return ps, next, nil
}

// ListAuditPage implements store.Store. The indexes (time, id), (user_id,
// time, id) and (type, time, id) read a page backwards from the cursor.
func (s *Store) ListAuditPage(ctx context.Context, f store.AuditPageFilter, p store.Page) ([]*store.AuditEvent, string, error) {
	keys, err := store.DecodeCursor(p.After, f.Scope(), 2)
	if err != nil {
		return nil, "", err
	}
	var c conds
	if f.Type != "" {
		c.add(`type = ?`, f.Type)
	}
	if f.UserID != "" {
		c.add(`user_id = ?`, f.UserID)
	}
	if !f.Since.IsZero() {
		c.add(`time >= ?`, ts(f.Since))
	}
	if !f.Until.IsZero() {
		c.add(`time < ?`, ts(f.Until))
	}
	if keys != nil {
		at, id, err := auditKey(keys)
		if err != nil {
			return nil, "", err
		}
		c.add(`(time, id) < (?, ?)`, at, id)
	}
	sql := `SELECT id, time, type, actor_id, user_id, client_id, ip, detail FROM audit_events` +
		c.where() + ` ORDER BY time DESC, id DESC` + c.limit(p)
	events, err := queryList(ctx, s.q(ctx), scanAudit, sql, c.args...)
	if err != nil {
		return nil, "", wrapf(err, "list audit events")
	}
	events, next := cut(events, p, func(last *store.AuditEvent) string {
		return store.EncodeCursor(f.Scope(), strconv.FormatInt(auditTime(last.Time).UnixMicro(), 10), strconv.FormatInt(last.ID, 10))
	})
	return events, next, nil
}

// auditKey reads the time and ID of an audit cursor.
func auditKey(keys []string) (time.Time, int64, error) {
	at, err1 := strconv.ParseInt(keys[0], 10, 64)
	id, err2 := strconv.ParseInt(keys[1], 10, 64)
	if err1 != nil || err2 != nil {
		return time.Time{}, 0, fmt.Errorf("%w: malformed", store.ErrBadCursor)
	}
	return time.UnixMicro(at).UTC(), id, nil
}

// CountClients implements store.Store.
func (s *Store) CountClients(ctx context.Context) (int, error) {
	var n int
	if err := s.q(ctx).QueryRow(ctx, `SELECT count(*) FROM clients`).Scan(&n); err != nil {
		return 0, wrapf(err, "count clients")
	}
	return n, nil
}

// CountProviders implements store.Store.
func (s *Store) CountProviders(ctx context.Context) (int, error) {
	var n int
	if err := s.q(ctx).QueryRow(ctx, `SELECT count(*) FROM providers`).Scan(&n); err != nil {
		return 0, wrapf(err, "count providers")
	}
	return n, nil
}

// OTPEnrollments implements store.Store.
func (s *Store) OTPEnrollments(ctx context.Context, userIDs []string) (map[string]store.OTPEnrollment, error) {
	if len(userIDs) > store.MaxPageSize {
		return nil, fmt.Errorf("postgres: OTPEnrollments of %d users: at most %d", len(userIDs), store.MaxPageSize)
	}
	out := map[string]store.OTPEnrollment{}
	// Text PostgreSQL cannot hold names no user.
	ids := slices.DeleteFunc(slices.Clone(userIDs), func(id string) bool {
		return strings.ContainsRune(id, 0) || !utf8.ValidString(id)
	})
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.q(ctx).Query(ctx, `SELECT c.user_id, c.created_at,
		(SELECT count(*) FROM recovery_codes r WHERE r.user_id = c.user_id)
		FROM otp_credentials c WHERE c.user_id = ANY($1)`, ids)
	if err != nil {
		return nil, wrapf(err, "get OTP enrollment times")
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id string
			e  store.OTPEnrollment
		)
		if err := rows.Scan(&id, tsDst{&e.At}, &e.RecoveryCodes); err != nil {
			return nil, wrapf(err, "get OTP enrollment times")
		}
		out[id] = e
	}
	if err := rows.Err(); err != nil {
		return nil, wrapf(err, "get OTP enrollment times")
	}
	return out, nil
}
