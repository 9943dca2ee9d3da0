package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/store/postgres"
	"github.com/authz/authz/internal/store/storetest"
	"github.com/authz/authz/internal/testsupport/pgtest"
	"github.com/authz/authz/migrations"
)

// open connects to url and closes the store when the test ends.
func open(t testing.TB, url string) *postgres.Store {
	t.Helper()
	// Not t.Context(): the pool must outlive the test body until Cleanup.
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// newStore returns a migrated store on a database of its own.
func newStore(t testing.TB) *postgres.Store {
	t.Helper()
	s := open(t, pgtest.URL(t))
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return newStore(t) })
}

func TestMigrateTwiceIsNoOp(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newStore(t)
	before, err := s.MigrationStatus(ctx)
	if err != nil {
		t.Fatalf("MigrationStatus: %v", err)
	}
	wantApplied(t, before)

	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	after, err := s.MigrationStatus(ctx)
	if err != nil {
		t.Fatalf("MigrationStatus: %v", err)
	}
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("second Migrate changed the status:\nbefore %v\nafter  %v", before, after)
	}
}

func TestMigrationStatusBeforeMigrate(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t))
	st, err := s.MigrationStatus(t.Context())
	if err != nil {
		t.Fatalf("MigrationStatus on an empty database: %v", err)
	}
	all, err := migrations.List("postgres")
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != len(all) {
		t.Fatalf("got %d migrations, want %d", len(st), len(all))
	}
	for _, m := range st {
		if !m.AppliedAt.IsZero() {
			t.Errorf("migration %d applied on an empty database", m.Version)
		}
	}
}

// wantApplied fails unless every known migration is listed as applied.
func wantApplied(t *testing.T, st []migrations.Status) {
	t.Helper()
	all, err := migrations.List("postgres")
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != len(all) {
		t.Fatalf("status lists %d migrations, want %d", len(st), len(all))
	}
	for i, m := range all {
		if st[i].Version != m.Version || st[i].Name != m.Name || st[i].AppliedAt.IsZero() {
			t.Errorf("status[%d] = %+v, want version %d %q applied", i, st[i], m.Version, m.Name)
		}
	}
}

// TestConcurrentMigrate starts several replicas against one empty database at
// once, as a rolling deploy does; the advisory lock must let all of them succeed.
func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	const n = 4
	stores := make([]*postgres.Store, n)
	for i := range stores {
		stores[i] = open(t, dbURL)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i, s := range stores {
		wg.Go(func() {
			<-start
			errs[i] = s.Migrate(t.Context())
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}
	st, err := stores[0].MigrationStatus(t.Context())
	if err != nil {
		t.Fatalf("MigrationStatus: %v", err)
	}
	wantApplied(t, st)
}

// TestConcurrentAddFailure checks that the upsert loses no failure under load
// from several connections, which a read-modify-write would.
func TestConcurrentAddFailure(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := s.AddFailure(t.Context(), "ip:198.51.100.7", time.Now(),
				func(f int) time.Duration { return time.Duration(f) * time.Second })
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("AddFailure: %v", err)
		}
	}
	th, err := s.GetThrottle(t.Context(), "ip:198.51.100.7")
	if err != nil {
		t.Fatal(err)
	}
	if th.Failures != n {
		t.Errorf("Failures = %d, want %d", th.Failures, n)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for _, c := range []struct {
		name, url string
		want      []string // substrings of the error
		sentinel  error
	}{
		{"bad URL", "postgres://%zz@localhost/db", []string{"invalid database URL"}, nil},
		{"unknown parameter value", "postgres://u:hunter2@localhost/db?sslmode=sometimes", []string{"invalid database URL"}, nil},
		{"bad DSN", "host=localhost password=hunter2 port=notaport", []string{"invalid database URL"}, nil},
		{"wrong port", "postgres://postgres:hunter2@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=5",
			[]string{"connect to 127.0.0.1:1/postgres"}, store.ErrUnavailable},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := postgres.Open(ctx, c.url)
			if err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded")
			}
			msg := err.Error()
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			if strings.Contains(msg, "hunter2") {
				t.Errorf("error %q shows the password", msg)
			}
			if c.sentinel != nil && !errors.Is(err, c.sentinel) {
				t.Errorf("error %q is not %v", msg, c.sentinel)
			}
		})
	}
}

// TestOpenWrongDatabase needs a server: it checks that an error reported by the
// server itself (here: no such database) reaches the caller readably.
func TestOpenWrongDatabase(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(pgtest.URL(t))
	if err != nil || u.Scheme == "" {
		t.Skipf("%s is not a URL; this test rewrites the database in the path", pgtest.EnvURL)
	}
	u.Path = "/authz_no_such_db"
	_, err = postgres.Open(t.Context(), u.String())
	if err == nil || !strings.Contains(err.Error(), "authz_no_such_db") {
		t.Errorf("Open of a missing database: %v; want an error naming it", err)
	}
}

func BenchmarkCreateGetToken(b *testing.B) {
	s := newStore(b)
	ctx := b.Context()
	tok := &store.OAuthToken{
		Kind: store.TokenAccess, RequestID: "req", RequestedAt: time.Now(), ClientID: "wiki",
		Subject: "user-1", Scopes: []string{"openid", "profile"}, GrantedScopes: []string{"openid"},
		Form: "grant_type=authorization_code", Session: []byte(`{"sub":"user-1"}`), Active: true,
		ExpiresAt: time.Now().Add(time.Hour),
	}
	i := 0
	for b.Loop() {
		i++
		tok.Signature = fmt.Sprintf("sig-%d", i)
		if err := s.CreateToken(ctx, tok); err != nil {
			b.Fatal(err)
		}
		if _, err := s.GetToken(ctx, tok.Kind, tok.Signature); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMigrationLockIsPerSchema: Migrate takes turns with the replicas of its
// own schema only; a deployment (or a test) in another schema of the same
// database goes on while this one's lock is held.
func TestMigrationLockIsPerSchema(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	urlA, urlB := pgtest.URL(t), pgtest.URL(t)
	holder, err := pgx.Connect(ctx, urlA)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(context.Background())
	const lock = `hashtextextended('authz migrate ' || current_schema(), 0)`
	if _, err := holder.Exec(ctx, `SELECT pg_advisory_lock(`+lock+`)`); err != nil {
		t.Fatal(err)
	}
	a := open(t, urlA)
	done := make(chan error, 1)
	go func() { done <- a.Migrate(ctx) }()
	// Bounded: with one lock for the whole database this would wait forever.
	bctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := open(t, urlB).Migrate(bctx); err != nil {
		t.Fatalf("Migrate of another schema while this one's lock is held: %v", err)
	}
	select {
	case err := <-done:
		t.Fatalf("Migrate ran while its schema's lock was held: %v", err)
	default:
	}
	if _, err := holder.Exec(ctx, `SELECT pg_advisory_unlock(`+lock+`)`); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Migrate after the lock was released: %v", err)
	}
}
