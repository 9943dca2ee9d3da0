package postgres_test

import (
	"net/url"
	"testing"

	"github.com/authz/authz/internal/testsupport/pgtest"
)

// The pool is large enough for concurrent requests unless the URL sizes it.
func TestPoolSize(t *testing.T) {
	t.Parallel()
	raw := pgtest.URL(t)
	if got := open(t, raw).Pool().Config().MaxConns; got < 16 {
		t.Errorf("default pool size %d, want at least 16", got)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		t.Skipf("%s is not a URL; the rest rewrites its query", pgtest.EnvURL)
	}
	q := u.Query()
	q.Set("pool_max_conns", "3")
	u.RawQuery = q.Encode()
	if got := open(t, u.String()).Pool().Config().MaxConns; got != 3 {
		t.Errorf("pool_max_conns=3 gave a pool of %d", got)
	}
}
