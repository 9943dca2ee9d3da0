package postgres_test

import (
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/testsupport/pgtest"
)

// withPoolSize returns the database URL raw with a pool of n connections;
// it skips the test when raw is not a URL (a key=value string).
func withPoolSize(t *testing.T, raw string, n int) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		t.Skipf("%s is not a URL; the test rewrites its query", pgtest.EnvURL)
	}
	q := u.Query()
	q.Set("pool_max_conns", strconv.Itoa(n))
	u.RawQuery = q.Encode()
	return u.String()
}

// The pool is large enough for concurrent requests unless the URL sizes it.
func TestPoolSize(t *testing.T) {
	t.Parallel()
	raw := pgtest.URL(t)
	if got := open(t, raw).Pool().Config().MaxConns; got < 16 {
		t.Errorf("default pool size %d, want at least 16", got)
	}
	if got := open(t, withPoolSize(t, raw, 3)).Pool().Config().MaxConns; got != 3 {
		t.Errorf("pool_max_conns=3 gave a pool of %d", got)
	}
}

// A login-state batch that fails after its BEGIN leaves its connection in
// an aborted transaction; the pool must not hand that connection out again.
func TestFailedLoginStateLeavesNoAbortedConnection(t *testing.T) {
	t.Parallel()
	s := open(t, withPoolSize(t, pgtest.URL(t), 1))
	ctx := t.Context()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	lt := &store.LoginTransaction{ID: store.NewID(), Purpose: store.PurposeLogin, CSRF: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateLoginTransaction(ctx, lt); err != nil {
		t.Fatal(err)
	}
	// A key that is not UTF-8 fails on the server, at the throttle's SELECT.
	if _, err := s.GetLoginState(ctx, lt.ID, "\xff", now); err == nil {
		t.Fatal("GetLoginState with a key that is not UTF-8 succeeded")
	}
	if _, err := s.GetLoginState(ctx, lt.ID, "", now); err != nil {
		t.Fatalf("GetLoginState after a failed one: %v", err)
	}
	lt.CSRF = "d"
	if err := s.UpdateLoginTransaction(ctx, lt); err != nil {
		t.Fatalf("a write after a failed GetLoginState: %v", err)
	}
}
