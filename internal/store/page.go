package store

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Keyset pagination of the administrative lists. A page ends with a cursor
// naming its last row's sort key; the next page starts strictly after that
// key, so rows inserted or deleted meanwhile never shift a row onto two pages
// or off every page, and the last page costs what the first does (no OFFSET
// counting its way there).

// Page sizes of the keyset lists.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
	// maxCursorLen bounds what DecodeCursor reads: a cursor carries a
	// filter fingerprint and at most a few short keys.
	maxCursorLen = 1024
)

// ErrBadCursor means a page cursor is malformed, or was made by another list
// or for another filter. It is the caller's mistake (an HTTP 400), never
// retried.
var ErrBadCursor = errors.New("store: invalid page cursor")

// Page asks for one page of a keyset list.
type Page struct {
	// After is the cursor a previous page returned as next; "" for the
	// first page.
	After string
	// Limit is the page size: 0 or less means DefaultPageSize, more than
	// MaxPageSize means MaxPageSize.
	Limit int
}

// Size is p.Limit clamped to 1..MaxPageSize, DefaultPageSize when unset.
func (p Page) Size() int {
	switch {
	case p.Limit <= 0:
		return DefaultPageSize
	case p.Limit > MaxPageSize:
		return MaxPageSize
	}
	return p.Limit
}

// UserPageFilter selects users in ListUsersPage.
type UserPageFilter struct {
	// Prefix matches the start of the username or the e-mail address,
	// case-insensitively; empty matches everyone.
	Prefix string
}

// Scope names the list and filter a cursor of this filter belongs to.
func (f UserPageFilter) Scope() string { return "users\x00" + f.Prefix }

// ClientPageFilter selects clients in ListClientsPage.
type ClientPageFilter struct {
	// Query matches a substring of the name or the client ID,
	// case-insensitively; empty matches all. Clients are few (thousands at
	// most), so a substring costs one pass over the name index.
	Query string
	// Disabled, when set, keeps only clients whose Disabled equals it.
	Disabled *bool
}

// Scope names the list and filter a cursor of this filter belongs to.
func (f ClientPageFilter) Scope() string {
	return "clients\x00" + f.Query + "\x00" + optBool(f.Disabled)
}

// ProviderPageFilter selects upstream providers in ListProvidersPage.
type ProviderPageFilter struct {
	// Enabled, when set, keeps only providers whose Enabled equals it.
	Enabled *bool
}

// Scope names the list and filter a cursor of this filter belongs to.
func (f ProviderPageFilter) Scope() string { return "providers\x00" + optBool(f.Enabled) }

// AuditPageFilter selects audit events in ListAuditPage; zero fields select
// everything.
type AuditPageFilter struct {
	Type   string
	UserID string
	Since  time.Time // inclusive
	Until  time.Time // exclusive
}

// Scope names the list and filter a cursor of this filter belongs to.
func (f AuditPageFilter) Scope() string {
	return fmt.Sprintf("audit\x00%s\x00%s\x00%d\x00%d", f.Type, f.UserID, unixMicro(f.Since), unixMicro(f.Until))
}

func unixMicro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func optBool(b *bool) string {
	switch {
	case b == nil:
		return ""
	case *b:
		return "1"
	}
	return "0"
}

// EncodeCursor makes the cursor that continues the list scope (a filter's
// Scope) after the row whose sort key is keys. The keys are readable by
// whoever holds the cursor; they are sort keys (names, times, IDs), nothing
// the caller could not list anyway.
func EncodeCursor(scope string, keys ...string) string {
	b, err := json.Marshal(append([]string{scopeMark(scope)}, keys...))
	if err != nil {
		panic("store: encode cursor: " + err.Error()) // strings always marshal
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor returns the n sort keys of cursor, which must have been made
// by EncodeCursor for the same scope; ErrBadCursor otherwise. "" is the
// first page: no keys and no error.
func DecodeCursor(cursor, scope string, n int) ([]string, error) {
	if cursor == "" {
		return nil, nil
	}
	if len(cursor) > maxCursorLen {
		return nil, fmt.Errorf("%w: too long", ErrBadCursor)
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64url", ErrBadCursor)
	}
	var parts []string
	if err := json.Unmarshal(b, &parts); err != nil || len(parts) != n+1 {
		return nil, fmt.Errorf("%w: malformed", ErrBadCursor)
	}
	if parts[0] != scopeMark(scope) {
		return nil, fmt.Errorf("%w: made by another list or filter", ErrBadCursor)
	}
	return parts[1:], nil
}

// scopeMark fingerprints a scope, so that a cursor stays short whatever the
// filter, and one made for another list or filter is told apart.
func scopeMark(scope string) string {
	sum := sha256.Sum256([]byte(scope))
	return hex.EncodeToString(sum[:8])
}
