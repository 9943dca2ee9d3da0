package notify

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authz/authz/internal/mail"
	"github.com/authz/authz/internal/store"
)

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		12 * time.Hour: "12 hours", time.Hour: "1 hour", 30 * time.Minute: "30 minutes",
		48 * time.Hour: "2 days", 90 * time.Minute: "1 hour 30 minutes", 25 * time.Hour: "1 day 1 hour", 0: "0 minutes",
	} {
		if got := HumanDuration(d); got != want {
			t.Errorf("HumanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// recorder keeps what it is asked to send.
type recorder struct {
	mu   sync.Mutex
	msgs []mail.Message
}

func (r *recorder) Send(_ context.Context, m mail.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return nil
}

func TestNoticesSayWhatHappenedAndSkipUsersWithoutAddress(t *testing.T) {
	rec := &recorder{}
	at := time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC)
	nt := &Notifier{Mail: rec, Site: "login.example", Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return at }}
	u := &store.User{ID: "u1", Username: "ann", Email: "ann@example.com", FirstName: "Ann <b>"}
	ctx := context.Background()
	nt.Send(ctx, u, Note{Kind: RecoveryCodeUsed, Left: 2, IP: "192.0.2.7"})
	nt.Send(ctx, u, Note{Kind: ResetLink, Link: "https://login.example/link/abc", Expires: at.Add(12 * time.Hour), ExpiresIn: "12 hours"})
	nt.Send(ctx, u, Note{Kind: ResetFederated, Providers: []string{"Corp", "Partner"}})
	nt.Send(ctx, &store.User{ID: "u2", Username: "nomail"}, Note{Kind: PasswordChanged})
	nt.Wait()
	if len(rec.msgs) != 3 {
		t.Fatalf("%d messages, want 3 (none for a user without an address)", len(rec.msgs))
	}
	// Each goes out on its own: find them by subject.
	bySubject := map[string]mail.Message{}
	for _, m := range rec.msgs {
		bySubject[m.Subject] = m
	}
	used := bySubject["A recovery code was used"]
	for _, want := range []string{"2 recovery codes are left", "192.0.2.7", "2030-01-02 03:04 UTC", "ann", "login.example"} {
		if !strings.Contains(used.Text, want) {
			t.Errorf("recovery-code notice lacks %q:\n%s", want, used.Text)
		}
	}
	if strings.Contains(used.HTML, "<b>") || !strings.Contains(used.HTML, "Ann &lt;b&gt;") {
		t.Errorf("names must be escaped in HTML:\n%s", used.HTML)
	}
	if link := bySubject["Reset your password"]; !strings.Contains(link.Text, "https://login.example/link/abc") || !strings.Contains(link.HTML, `href="https://login.example/link/abc"`) || !strings.Contains(link.Text, "12 hours") {
		t.Errorf("reset link e-mail:\n%s\n%s", link.Text, link.HTML)
	}
	if fed := bySubject["About your password reset"]; !strings.Contains(fed.Text, "Corp or Partner") {
		t.Errorf("federated reset e-mail:\n%s", fed.Text)
	}
}
