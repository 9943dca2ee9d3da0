package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"github.com/authz/authz/internal/store"
)

// The keyset lists of store.Store (see store/page.go). SQLite compares text
// in byte order, so the names that start with a prefix are one range of the
// lower() indexes: [prefix, prefix || U+10FFFF).

// maxRune closes a prefix range: every string that starts with the prefix
// sorts below prefix || maxRune in byte order.
const maxRune = "\U0010FFFF"

// pageLimit adds the LIMIT argument of a page to w: one row more than it
// shows, which tells whether another page follows.
func pageLimit(w *where, p store.Page) string {
	w.args = append(w.args, p.Size()+1)
	return " LIMIT ?"
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

// keyedRow scans one more column, the sort key as SQLite computes it, after
// a scanner's own.
type keyedRow struct {
	scanner
	key *string
}

// Scan implements scanner.
func (r keyedRow) Scan(dest ...any) error { return r.scanner.Scan(append(dest, r.key)...) }

// collectKeyed is collect for a query whose last column is the sort key.
func collectKeyed[T any](scan func(scanner) (*T, error)) func(*sql.Rows, error) ([]*T, []string, error) {
	return func(rows *sql.Rows, err error) ([]*T, []string, error) {
		return scanKeyed(scan, rows, err)
	}
}

func scanKeyed[T any](scan func(scanner) (*T, error), rows *sql.Rows, err error) ([]*T, []string, error) {
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

// usersByPrefix selects the rowids of a page of users whose username or
// e-mail starts with ?3 (?4 is maxRune), after the username ?1, at most ?2:
// two index ranges, each cut to a page. Given one WHERE with an OR, the
// planner may walk the whole username index in order instead; and the unary
// + keeps it from doing that in the e-mail branch, where the cursor and the
// order are on the username (TestUsersByPrefixPlan).
const usersByPrefix = `SELECT rowid FROM (SELECT rowid FROM users
		WHERE lower(username) >= lower(?3) AND lower(username) < lower(?3) || ?4 AND lower(username) > ?1
		ORDER BY lower(username) LIMIT ?2)
	UNION
	SELECT rowid FROM (SELECT rowid FROM users
		WHERE email <> '' AND lower(email) >= lower(?3) AND lower(email) < lower(?3) || ?4 AND +lower(username) > ?1
		ORDER BY +lower(username) LIMIT ?2)`

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
	q := `SELECT ` + userCols + `, lower(username) FROM users WHERE lower(username) > ?1
		ORDER BY lower(username) LIMIT ?2`
	args := []any{after, p.Size() + 1}
	if f.Prefix != "" {
		q = `SELECT ` + userCols + `, lower(username) FROM users WHERE rowid IN (` + usersByPrefix + `) ORDER BY lower(username) LIMIT ?2`
		args = append(args, f.Prefix, maxRune)
	}
	users, folded, err := collectKeyed(scanUser)(s.reader(ctx).QueryContext(ctx, q, args...))
	if err != nil {
		return nil, "", wrap(err, "list users")
	}
	users, next := cut(users, p, func(*store.User) string { return store.EncodeCursor(f.Scope(), folded[p.Size()-1]) })
	return users, next, nil
}

// ListClientsPage implements store.Store.
func (s *Store) ListClientsPage(ctx context.Context, f store.ClientPageFilter, p store.Page) ([]*store.Client, string, error) {
	keys, err := store.DecodeCursor(p.After, f.Scope(), 2)
	if err != nil {
		return nil, "", err
	}
	var w where
	if f.Query != "" {
		w.add(`(name LIKE ? ESCAPE '\' OR id LIKE ? ESCAPE '\')`, likeContains(f.Query), likeContains(f.Query))
	}
	if f.Disabled != nil {
		w.add(`disabled = ?`, *f.Disabled)
	}
	if keys != nil {
		w.add(`(lower(name), id) > (?, ?)`, keys[0], keys[1])
	}
	q := `SELECT ` + clientCols + `, lower(name) FROM clients` + w.String() + ` ORDER BY lower(name), id` + pageLimit(&w, p)
	clients, folded, err := collectKeyed(scanClient)(s.reader(ctx).QueryContext(ctx, q, w.args...))
	if err != nil {
		return nil, "", wrap(err, "list clients")
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
	var w where
	if f.Enabled != nil {
		w.add(`enabled = ?`, *f.Enabled)
	}
	if keys != nil {
		w.add(`alias > ?`, keys[0])
	}
	q := `SELECT ` + providerCols + ` FROM providers` + w.String() + ` ORDER BY alias` + pageLimit(&w, p)
	ps, err := collect(scanProvider)(s.reader(ctx).QueryContext(ctx, q, w.args...))
	if err != nil {
		return nil, "", wrap(err, "list providers")
	}
	ps, next := cut(ps, p, func(last *store.Provider) string { return store.EncodeCursor(f.Scope(), last.Alias) })
	return ps, next, nil
}

// ListAuditPage implements store.Store. The indexes on time, (type, time)
// and (user_id, time) end in the rowid, the event's ID, so each reads a
// page backwards from the cursor.
func (s *Store) ListAuditPage(ctx context.Context, f store.AuditPageFilter, p store.Page) ([]*store.AuditEvent, string, error) {
	keys, err := store.DecodeCursor(p.After, f.Scope(), 2)
	if err != nil {
		return nil, "", err
	}
	w := auditWhere(store.AuditFilter{Type: f.Type, UserID: f.UserID, Since: f.Since, Until: f.Until})
	if keys != nil {
		at, err1 := strconv.ParseInt(keys[0], 10, 64)
		id, err2 := strconv.ParseInt(keys[1], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, "", fmt.Errorf("%w: malformed", store.ErrBadCursor)
		}
		w.add(`(time, id) < (?, ?)`, at, id)
	}
	q := `SELECT id, time, type, actor_id, user_id, client_id, ip, detail FROM audit_events` + w.String() +
		` ORDER BY time DESC, id DESC` + pageLimit(w, p)
	events, err := collect(scanAudit)(s.reader(ctx).QueryContext(ctx, q, w.args...))
	if err != nil {
		return nil, "", wrap(err, "list audit events")
	}
	events, next := cut(events, p, func(last *store.AuditEvent) string {
		return store.EncodeCursor(f.Scope(), strconv.FormatInt(micro(last.Time), 10), strconv.FormatInt(last.ID, 10))
	})
	return events, next, nil
}

// CountClients implements store.Store.
func (s *Store) CountClients(ctx context.Context) (int, error) {
	var n int
	err := s.reader(ctx).QueryRowContext(ctx, `SELECT count(*) FROM clients`).Scan(&n)
	return n, wrap(err, "count clients")
}

// CountProviders implements store.Store.
func (s *Store) CountProviders(ctx context.Context) (int, error) {
	var n int
	err := s.reader(ctx).QueryRowContext(ctx, `SELECT count(*) FROM providers`).Scan(&n)
	return n, wrap(err, "count providers")
}

// OTPEnrollments implements store.Store.
func (s *Store) OTPEnrollments(ctx context.Context, userIDs []string) (map[string]store.OTPEnrollment, error) {
	if len(userIDs) > store.MaxPageSize {
		return nil, fmt.Errorf("sqlite: OTPEnrollments of %d users: at most %d", len(userIDs), store.MaxPageSize)
	}
	out := map[string]store.OTPEnrollment{}
	if len(userIDs) == 0 {
		return out, nil
	}
	args := make([]any, len(userIDs))
	for i, id := range userIDs {
		args[i] = id
	}
	rows, err := s.reader(ctx).QueryContext(ctx, `SELECT c.user_id, c.created_at,
		(SELECT count(*) FROM recovery_codes r WHERE r.user_id = c.user_id)
		FROM otp_credentials c WHERE c.user_id IN (`+placeholders(len(args))+`)`, args...)
	if err != nil {
		return nil, wrap(err, "get OTP enrollment times")
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id string
			e  store.OTPEnrollment
		)
		if err := rows.Scan(&id, microTime{&e.At}, &e.RecoveryCodes); err != nil {
			return nil, wrap(err, "get OTP enrollment times")
		}
		out[id] = e
	}
	return out, wrap(rows.Err(), "get OTP enrollment times")
}
