package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// ts converts a time for a timestamptz parameter: the zero time becomes NULL so
// that no sentinel date leaks into the database, and precision is cut to the
// microseconds PostgreSQL keeps (it would round, and then a value read back could
// be later than the one written).
func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Truncate(time.Microsecond)
}

// tsDst scans a nullable timestamptz into *time.Time: NULL becomes the zero time
// and every other value is returned in UTC, whatever the session time zone.
type tsDst struct{ p *time.Time }

// ScanTimestamptz implements pgtype.TimestamptzScanner.
func (d tsDst) ScanTimestamptz(v pgtype.Timestamptz) error {
	if !v.Valid {
		*d.p = time.Time{}
		return nil
	}
	*d.p = v.Time.UTC()
	return nil
}

// strs makes a nil slice an empty one: pgx sends nil as NULL, and the array
// columns are NOT NULL so that queries never have to tell NULL from '{}'.
func strs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// blob does for bytea what strs does for text[].
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// noEmpty reads back an empty slice as nil, so a value round-trips the same way
// whether it was written as nil or as an empty slice.
func noEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// scanFunc reads one row into a new value.
type scanFunc[T any] func(row pgx.Row) (*T, error)

// queryList runs a query and scans every row with scan.
func queryList[T any](ctx context.Context, q querier, scan scanFunc[T], sql string, args ...any) ([]*T, error) {
	rows, err := q.Query(ctx, sql, args...)
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

// execOne runs a statement that must touch exactly one row; none means the row
// does not exist.
func execOne(ctx context.Context, q querier, sql string, args ...any) error {
	tag, err := q.Exec(ctx, sql, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return pgx.ErrNoRows
	}
	return nil
}

// pageLimit applies the default page size of 50 and keeps offsets non-negative.
func pageLimit(offset, limit int) (int, int) {
	if limit <= 0 {
		limit = 50
	}
	if offset < 0 {
		offset = 0
	}
	return offset, limit
}
