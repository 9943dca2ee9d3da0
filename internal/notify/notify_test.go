package notify

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authz/authz/internal/i18n"
	"github.com/authz/authz/internal/mail"
	"github.com/authz/authz/internal/store"
)

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
	nt.Send(ctx, u, Note{Kind: ResetLink, Link: "https://login.example/link/abc", Expires: at.Add(12 * time.Hour), TTL: 12 * time.Hour})
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
	for _, want := range []string{"2 recovery codes are left", "192.0.2.7", "2 Jan 2030, 03:04 UTC", "ann", "login.example"} {
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

// TestNoticesInRecipientLanguage: the user's preferred language wins over
// the request's; without one the request's (the user's own browser) is
// used; times show in the configured zone, names stay whole.
func TestNoticesInRecipientLanguage(t *testing.T) {
	rec := &recorder{}
	at := time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC)
	nt := &Notifier{Mail: rec, Site: "login.example", Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return at }}
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	en := i18n.WithLanguage(context.Background(), "en", tokyo)
	ja := &store.User{ID: "u1", Username: "山田", Email: "taro@example.com", FirstName: "太郎", Locale: "ja"}
	nt.Send(en, ja, Note{Kind: RecoveryCodeUsed, Left: 1, IP: "192.0.2.7"})
	nt.Wait()
	m := rec.msgs[0]
	if m.Subject != "リカバリーコードが使用されました" {
		t.Errorf("subject %q, want the Japanese one", m.Subject)
	}
	for _, want := range []string{"太郎 様", "山田", "2030年1月2日 12:04 JST", "192.0.2.7", "残り 1 個"} {
		if !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) {
			t.Errorf("notice lacks %q:\n%s\n%s", want, m.Text, m.HTML)
		}
	}
	if !strings.Contains(m.HTML, `lang="ja"`) {
		t.Errorf("HTML part is not marked Japanese:\n%s", m.HTML)
	}
	rec.msgs = nil
	nt.Send(i18n.WithLanguage(context.Background(), "ja", nil), &store.User{ID: "u2", Username: "ann", Email: "ann@example.com"}, Note{Kind: PasswordChanged})
	nt.Wait()
	if got := rec.msgs[0].Subject; got != "パスワードが変更されました" {
		t.Errorf("without a preferred language the request's applies: subject %q", got)
	}
}

// TestSecurityKeyNotices name the key, as text in the plain part and
// escaped in the HTML one.
func TestSecurityKeyNotices(t *testing.T) {
	rec := &recorder{}
	at := time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC)
	nt := &Notifier{Mail: rec, Site: "login.example", Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return at }}
	u := &store.User{ID: "u1", Username: "ann", Email: "ann@example.com"}
	nt.Send(context.Background(), u, Note{Kind: SecurityKeyAdded, Name: "<b>key</b>", IP: "192.0.2.7"})
	nt.Send(context.Background(), u, Note{Kind: SecurityKeyRemoved, Name: "Laptop"})
	nt.Wait()
	bySubject := map[string]mail.Message{}
	for _, m := range rec.msgs {
		bySubject[m.Subject] = m
	}
	added := bySubject["A security key or passkey was added"]
	if !strings.Contains(added.Text, "“<b>key</b>”") || !strings.Contains(added.Text, "192.0.2.7") || strings.Contains(added.HTML, "<b>key") {
		t.Errorf("key added notice:\n%s\n%s", added.Text, added.HTML)
	}
	if removed := bySubject["A security key or passkey was removed"]; !strings.Contains(removed.Text, "“Laptop”") || !strings.Contains(removed.Text, "no longer signs you in") {
		t.Errorf("key removed notice:\n%s", removed.Text)
	}
}
