package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/migrations"
)

// open opens a store on a fresh file and closes it when tb ends.
func open(tb testing.TB, path string) *Store {
	tb.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return s
}

func newStore(tb testing.TB) *Store {
	tb.Helper()
	s := open(tb, filepath.Join(tb.TempDir(), "authz.db"))
	if err := s.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestMigrateTwiceIsNoop(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "authz.db"))
	want, err := migrations.List("sqlite")
	if err != nil || len(want) == 0 {
		t.Fatalf("migrations.List = %d, %v", len(want), err)
	}

	before := status(t, s)
	for _, st := range before {
		if !st.AppliedAt.IsZero() {
			t.Fatalf("fresh file: migration %d already applied", st.Version)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	first := status(t, s)
	if len(first) != len(want) {
		t.Fatalf("status lists %d migrations, want %d", len(first), len(want))
	}
	for i, st := range first {
		if st.Version != want[i].Version || st.Name != want[i].Name || st.AppliedAt.IsZero() {
			t.Errorf("after Migrate: %+v, want %d %s applied", st, want[i].Version, want[i].Name)
		}
	}

	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	for i, st := range status(t, s) {
		if !st.AppliedAt.Equal(first[i].AppliedAt) {
			t.Errorf("second Migrate re-applied %d", st.Version)
		}
	}
	var rows int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&rows); err != nil || rows != len(want) {
		t.Errorf("schema_migrations has %d rows (%v), want %d", rows, err, len(want))
	}
}

func status(t *testing.T, s *Store) []migrations.Status {
	t.Helper()
	st, err := s.MigrationStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestMigrateRefusesNewerDatabase(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	if _, err := s.write.ExecContext(t.Context(),
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 1)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(t.Context()); err == nil {
		t.Error("Migrate accepted a database with a migration it does not know")
	}
	if st := status(t, s); st[len(st)-1].Version != 9999 {
		t.Errorf("MigrationStatus hides the unknown migration: %+v", st)
	}
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "authz.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	u := &store.User{ID: store.NewID(), Username: "alice", Role: store.RoleAdmin}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUser(t.Context(), u.ID); err != nil {
		t.Errorf("user lost across reopen: %v", err)
	}
}

func TestPragmas(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	for _, c := range []struct {
		q    querier
		name string
		want string
	}{
		{s.write, "journal_mode", "wal"},
		{s.write, "foreign_keys", "1"},
		{s.write, "busy_timeout", strconv.Itoa(busyTimeoutMS)},
		{s.read, "journal_mode", "wal"},
		{s.read, "query_only", "1"},
	} {
		var got string
		if err := c.q.QueryRowContext(ctx, "PRAGMA "+c.name).Scan(&got); err != nil || got != c.want {
			t.Errorf("PRAGMA %s = %q (%v), want %q", c.name, got, err, c.want)
		}
	}
}

func TestOpenRejectsOddPaths(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"", ":memory:", "/tmp/a?mode=memory"} {
		if s, err := Open(t.Context(), p); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

// BenchmarkTokenCreateGet is the hot path of every token request: persist
// the new token, then look it up.
func BenchmarkTokenCreateGet(b *testing.B) {
	s := newStore(b)
	ctx := b.Context()
	tok := benchToken()
	i := 0
	for b.Loop() {
		tok.Signature = strconv.Itoa(i)
		i++
		if err := s.CreateToken(ctx, tok); err != nil {
			b.Fatal(err)
		}
		if _, err := s.GetToken(ctx, tok.Kind, tok.Signature); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetTokenParallel measures concurrent introspection-style reads,
// which run on the read pool beside each other.
func BenchmarkGetTokenParallel(b *testing.B) {
	s := newStore(b)
	ctx := b.Context()
	tok := benchToken()
	const n = 1000
	for i := range n {
		tok.Signature = strconv.Itoa(i)
		if err := s.CreateToken(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.GetToken(ctx, store.TokenAccess, strconv.Itoa(i%n)); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func benchToken() *store.OAuthToken {
	return &store.OAuthToken{
		Kind: store.TokenAccess, RequestID: store.NewID(), RequestedAt: time.Now(), ClientID: "wiki",
		Subject: store.NewID(), Scopes: []string{"openid", "profile", "email"}, GrantedScopes: []string{"openid", "profile"},
		Audience: []string{"wiki"}, GrantedAudience: []string{"wiki"}, Form: "grant_type=authorization_code",
		Session: []byte(`{"id_token_claims":{"sub":"x","auth_time":1700000000},"extra":{}}`), Active: true,
		ExpiresAt: time.Now().Add(time.Hour),
	}
}

// TestFilesArePrivate: the database, its WAL and shared-memory files are
// readable by their owner only, whatever the directory's mode and umask
// allow, and an existing database with a looser mode is tightened.
func TestFilesArePrivate(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "authz.db")
	if err := os.WriteFile(path+"-old", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(path string) {
		t.Helper()
		s, err := Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(name)
			if err != nil {
				t.Fatal(err)
			}
			if mode := fi.Mode().Perm(); mode != 0o600 {
				t.Errorf("%s: mode %o, want 600", filepath.Base(name), mode)
			}
		}
	}
	check(path)
	// An existing database created with a looser mode (by an older authz).
	loose := path + "-old"
	check(loose)
}
