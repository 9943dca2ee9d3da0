package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/authz/authz/internal/store"
)

// wrap adds the operation to err and translates driver errors into the
// store's sentinels; nil stays nil.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlite: "+format+": %w", append(args, classify(err))...)
}

// classify maps driver errors onto store.ErrNotFound, ErrConflict, ErrRetry
// and ErrUnavailable, keeping the driver's message for the log.
func classify(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	// Extended result codes are on: the primary code is the low byte.
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CONSTRAINT:
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		// Another connection (the admin CLI, a backup) held the database
		// past the busy timeout, or SQLite refused to wait to avoid a
		// deadlock. The transaction did nothing and may succeed when run
		// again, which store.InTx does; a statement on its own has waited
		// for the lock already, so to its caller the store is unavailable.
		return fmt.Errorf("%w: %w: %w", store.ErrRetry, store.ErrUnavailable, err)
	case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR:
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// exactlyOne turns an UPDATE or DELETE by key that touched nothing into
// store.ErrNotFound.
func exactlyOne(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// conditional runs an UPDATE guarded by the row's expected state. When it
// touches nothing, the row was either missing (ErrNotFound) or in another
// state (ErrConflict); exists tells which, asked on the same connection.
func conditional(ctx context.Context, q querier, update string, args []any, exists string, key ...any) error {
	err := exactlyOne(q.ExecContext(ctx, update, args...))
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	var found int
	if err := q.QueryRowContext(ctx, exists, key...).Scan(&found); err != nil {
		return err
	}
	if found > 0 {
		return store.ErrConflict
	}
	return store.ErrNotFound
}

// micro stores a time as unix microseconds; the zero time is 0, so "unset"
// is a plain comparison in SQL.
func micro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// stored returns t as it reads back after micro: in UTC, truncated to the
// microsecond.
func stored(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return time.UnixMicro(t.UnixMicro()).UTC()
}

// microTime scans what micro stored back into a UTC time.
type microTime struct{ t *time.Time }

// Scan implements sql.Scanner.
func (m microTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*m.t = time.Time{}
	case int64:
		*m.t = time.Time{}
		if v != 0 {
			*m.t = time.UnixMicro(v).UTC()
		}
	default:
		return fmt.Errorf("time column holds %T, want INTEGER microseconds", src)
	}
	return nil
}

// list stores a string slice as a JSON array; nil and empty both become [].
func list(v []string) string {
	if len(v) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(v) // a []string always marshals
	return string(b)
}

// jsonList scans what list stored back into a slice.
type jsonList struct{ p *[]string }

// Scan implements sql.Scanner.
func (j jsonList) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*j.p = nil
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("list column holds %T, want JSON text", src)
	}
	if l, ok := parsePlainList(string(b)); ok {
		*j.p = l
		return nil
	}
	*j.p = nil
	return json.Unmarshal(b, j.p)
}

// parsePlainList reads a JSON array of strings without escapes, which is what
// scopes, audiences, grant types and redirect URIs are, without
// encoding/json's reflection: a token read (every introspection) decodes four
// such lists, and json.Unmarshal was a fifth of its CPU. ok is false for
// anything else, which the caller hands to json.Unmarshal.
func parsePlainList(s string) (l []string, ok bool) {
	if s == "[]" {
		return nil, true
	}
	if len(s) < 4 || s[0] != '[' || s[len(s)-1] != ']' || strings.IndexByte(s, '\\') >= 0 || !utf8.ValidString(s) {
		return nil, false
	}
	rest := s[1 : len(s)-1]
	for {
		if len(rest) < 2 || rest[0] != '"' {
			return nil, false
		}
		end := strings.IndexByte(rest[1:], '"')
		if end < 0 {
			return nil, false
		}
		item := rest[1 : 1+end]
		for i := 0; i < len(item); i++ {
			if item[i] < 0x20 { // JSON has these escaped; let encoding/json refuse them
				return nil, false
			}
		}
		l, rest = append(l, item), rest[end+2:]
		if rest == "" {
			return l, true
		}
		if rest[0] != ',' {
			return nil, false
		}
		rest = rest[1:]
	}
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// collect returns a function that scans every row of a query with scan:
// collect(scanUser)(q.QueryContext(...)).
func collect[T any](scan func(scanner) (*T, error)) func(*sql.Rows, error) ([]*T, error) {
	return func(rows *sql.Rows, err error) ([]*T, error) {
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []*T
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, rows.Err()
	}
}

// where assembles an AND of conditions and their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// likeContains returns a LIKE pattern (with ESCAPE '\') matching s anywhere,
// with s's own % and _ taken literally.
func likeContains(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// page turns a Limit/Offset pair into SQL arguments, applying the default.
func page(limit, offset int) (int, int) {
	if limit <= 0 {
		limit = 50
	}
	return limit, max(offset, 0)
}

// placeholders returns "?, ?, ..." for n arguments.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
