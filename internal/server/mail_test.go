package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/session"
)

// lockedBuffer is a log destination the App's goroutines may share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// openLoggedApp opens an App like openApp, logging at debug level to the
// returned buffer.
func openLoggedApp(t *testing.T, args ...string) (*App, *lockedBuffer) {
	t.Helper()
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return openAppLogging(t, args, io.Discard, log), logs
}

// TestUnconfiguredMailWarnsOnceAndNeverLogsLinks: without smtp.host and
// outside dev mode authz says once at start that e-mail cannot be sent, and
// a set-up e-mail that cannot go out is logged by its recipient only — the
// link in it grants access to the account.
func TestUnconfiguredMailWarnsOnceAndNeverLogsLinks(t *testing.T) {
	t.Parallel()
	app, logs := openLoggedApp(t)
	if n := strings.Count(logs.String(), "e-mail is not configured"); n != 1 {
		t.Fatalf("start-up warnings about e-mail: %d, want 1; log:\n%s", n, logs)
	}
	name := "mailtest"
	email := "mailtest@example.com"
	otp := true
	_, res, err := app.Admin.CreateUser(context.Background(), admin.Actor{UserID: "test"}, admin.UserPatch{Username: &name, Email: &email, OTPRequired: &otp})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent() {
		t.Fatal("a set-up e-mail counted as sent with no SMTP server")
	}
	out := logs.String()
	if !strings.Contains(out, "mail not sent") || !strings.Contains(out, email) {
		t.Fatalf("the unsent message is not logged by recipient; log:\n%s", out)
	}
	if i := strings.Index(out, session.LinkPath("")); i >= 0 {
		t.Errorf("the log carries a link: %s", out[i:])
	}
	if n := strings.Count(out, "e-mail is not configured"); n != 1 {
		t.Errorf("the start-up warning repeated (%d times) after a send", n)
	}
}

// TestDevModeKeepsMailWithoutWarning: dev mode keeps messages for /dev/mail,
// so there is nothing to warn about.
func TestDevModeKeepsMailWithoutWarning(t *testing.T) {
	t.Parallel()
	app, logs := openLoggedApp(t, "--dev")
	if strings.Contains(logs.String(), "e-mail is not configured") {
		t.Fatalf("dev mode warned that e-mail is not configured; log:\n%s", logs)
	}
	if app.Outbox == nil {
		t.Fatal("dev mode without SMTP has no outbox for /dev/mail")
	}
}
