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
	"github.com/authz/authz/internal/testsupport/testkeys"
)

func openTestApp(t *testing.T, opts ...Option) *App {
	t.Helper()
	return openApp(t, nil, io.Discard, opts...)
}

// openApp opens an App on a fresh SQLite data directory with cheap password
// hashing and the configuration flags args; the bootstrap password goes to
// console.
func openApp(t *testing.T, args []string, console io.Writer, opts ...Option) *App {
	t.Helper()
	return openAppLogging(t, args, console, slog.New(slog.DiscardHandler), opts...)
}

// openAppLogging is openApp logging to log.
func openAppLogging(t *testing.T, args []string, console io.Writer, log *slog.Logger, opts ...Option) *App {
	t.Helper()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	l := config.Register(fs)
	base := []string{"--data-dir", t.TempDir(), "--password-memory-kib", "1024", "--password-iterations", "1"}
	if err := fs.Parse(append(base, args...)); err != nil {
		t.Fatal(err)
	}
	cfg, err := l.Load(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	app, err := Open(context.Background(), cfg, log, console, append([]Option{WithKeyGenerator(testkeys.Generator())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	return app
}

// TestJanitorDeletesExpiredRows checks the background clean-up removes expired
// tokens and keeps live ones, without anyone asking, by the App's clock: an
// hour ahead here, so a token that real time still finds live for half an
// hour is already gone.
func TestJanitorDeletesExpiredRows(t *testing.T) {
	t.Parallel()
	wall := time.Now().UTC()
	app := openTestApp(t, WithClock(func() time.Time { return time.Now().Add(time.Hour) }))
	ctx := context.Background()
	for _, tok := range []*store.OAuthToken{
		{Kind: store.TokenAccess, Signature: "expired", RequestID: "r1", ClientID: "c", Active: true, ExpiresAt: wall.Add(30 * time.Minute)},
		{Kind: store.TokenAccess, Signature: "live", RequestID: "r2", ClientID: "c", Active: true, ExpiresAt: wall.Add(2 * time.Hour)},
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
			t.Fatal("the janitor did not delete the token expired by the App's clock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := app.Store.GetToken(ctx, store.TokenAccess, "live"); err != nil {
		t.Fatalf("the janitor deleted a live token: %v", err)
	}
}

// TestBootstrapAdminHasOTPFlag checks the first administrator must enroll an
// authenticator, is stamped by the App's clock, and that bootstrapping again
// creates nobody.
func TestBootstrapAdminHasOTPFlag(t *testing.T) {
	t.Parallel()
	at := time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC)
	app := openTestApp(t, WithClock(func() time.Time { return at }))
	u, err := app.Store.GetUserByUsername(context.Background(), BootstrapUsername)
	if err != nil {
		t.Fatal(err)
	}
	if !u.OTPRequired || u.Role != store.RoleAdmin || !u.Enabled || u.PasswordHash == "" {
		t.Fatalf("bootstrap admin: %+v", u)
	}
	if !u.CreatedAt.Equal(at) {
		t.Errorf("bootstrap admin created at %v, want the App's clock %v", u.CreatedAt, at)
	}
	if err := app.bootstrapAdmin(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, _ := app.Store.CountUsers(context.Background(), ""); n != 1 {
		t.Fatalf("a second bootstrap created users: %d", n)
	}
}
