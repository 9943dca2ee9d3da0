package server

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/config"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/testsupport/pgtest"
)

// The token endpoint benchmarks run the whole handler chain in-process, so
// they measure authz's own cost per request without the network or a load
// generator competing for the CPU.

func BenchmarkTokenClientCredentials(b *testing.B) {
	forBackends(b, func(b *testing.B, a *App, h http.Handler) {
		id, secret := benchClient(b, a)
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"api.read"}}.Encode()
		runParallel(b, func() {
			benchPost(b, h, "/oauth2/token", form, id, secret)
		})
	})
}

func BenchmarkIntrospect(b *testing.B) {
	forBackends(b, func(b *testing.B, a *App, h http.Handler) {
		id, secret := benchClient(b, a)
		body := benchPost(b, h, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api.read"}}.Encode(), id, secret)
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.Unmarshal(body, &tok); err != nil {
			b.Fatal(err)
		}
		form := url.Values{"token": {tok.AccessToken}}.Encode()
		runParallel(b, func() {
			benchPost(b, h, "/oauth2/introspect", form, id, secret)
		})
	})
}

// forBackends runs fn on a fresh App on SQLite, and on PostgreSQL when one is
// configured (see pgtest).
func forBackends(b *testing.B, fn func(b *testing.B, a *App, h http.Handler)) {
	b.Run("sqlite", func(b *testing.B) {
		a := benchApp(b, "--data-dir", b.TempDir())
		fn(b, a, a.Handler())
	})
	b.Run("postgres", func(b *testing.B) {
		a := benchApp(b, "--data-dir", b.TempDir(), "--database-url", pgtest.URL(b))
		fn(b, a, a.Handler())
	})
}

func benchApp(b testing.TB, args ...string) *App {
	b.Helper()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	l := config.Register(fs)
	if err := fs.Parse(append([]string{"--issuer", "http://127.0.0.1:1", "--password-memory-kib", "1024", "--password-iterations", "1"}, args...)); err != nil {
		b.Fatal(err)
	}
	cfg, err := l.Load(func(string) (string, bool) { return "", false })
	if err != nil {
		b.Fatal(err)
	}
	a, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = a.Close() })
	return a
}

func benchClient(b testing.TB, a *App) (id, secret string) {
	b.Helper()
	secret, hash, err := a.Provider.Hasher().NewClientSecret()
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	c := &store.Client{ID: store.NewID(), Name: "bench", SecretHash: hash, GrantTypes: []string{"client_credentials"},
		Scopes: []string{"api.read"}, CreatedAt: now, UpdatedAt: now}
	if err := a.Store.CreateClient(context.Background(), c); err != nil {
		b.Fatal(err)
	}
	return c.ID, secret
}

// runParallel runs fn on GOMAXPROCS goroutines, as concurrent requests would.
func runParallel(b *testing.B, fn func()) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			fn()
		}
	})
}

func benchPost(b testing.TB, h http.Handler, path, form, id, secret string) []byte {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		// Errorf, not Fatalf: this runs on RunParallel's goroutines.
		b.Errorf("POST %s: %d %s", path, rec.Code, rec.Body)
	}
	return rec.Body.Bytes()
}
