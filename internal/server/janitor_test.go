package server

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/authz/authz/internal/config"
	"github.com/authz/authz/internal/store"
)

func openTestApp(t *testing.T) *App {
	t.Helper()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	l := config.Register(fs)
	if err := fs.Parse([]string{"--data-dir", t.TempDir(), "--password-memory-kib", "1024", "--password-iterations", "1"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := l.Load(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	app, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	return app
}

// TestJanitorDeletesExpiredRows checks the background clean-up removes expired
// tokens and keeps live ones, without anyone asking.
func TestJanitorDeletesExpiredRows(t *testing.T) {
	app := openTestApp(t)
	ctx := context.Background()
	now := time.Now().UTC()
	for _, tok := range []*store.OAuthToken{
		{Kind: store.TokenAccess, Signature: "expired", RequestID: "r1", ClientID: "c", Active: true, ExpiresAt: now.Add(-time.Minute)},
		{Kind: store.TokenAccess, Signature: "live", RequestID: "r2", ClientID: "c", Active: true, ExpiresAt: now.Add(time.Hour)},
	} {
		if err := app.Store.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	app.StartJanitor(10 * time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := app.Store.GetToken(ctx, store.TokenAccess, "expired")
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the janitor did not delete the expired token")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := app.Store.GetToken(ctx, store.TokenAccess, "live"); err != nil {
		t.Fatalf("the janitor deleted a live token: %v", err)
	}
}

// TestBootstrapAdminHasOTPFlag checks the first administrator must enroll an
// authenticator, and that bootstrapping again creates nobody.
func TestBootstrapAdminHasOTPFlag(t *testing.T) {
	app := openTestApp(t)
	u, err := app.Store.GetUserByUsername(context.Background(), BootstrapUsername)
	if err != nil {
		t.Fatal(err)
	}
	if !u.OTPRequired || u.Role != store.RoleAdmin || !u.Enabled || u.PasswordHash == "" {
		t.Fatalf("bootstrap admin: %+v", u)
	}
	if err := app.bootstrapAdmin(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, _ := app.Store.CountUsers(context.Background(), ""); n != 1 {
		t.Fatalf("a second bootstrap created users: %d", n)
	}
}
