package console

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/authz/authz/internal/mail"
	"github.com/authz/authz/internal/testsupport/admintest"
)

// env is the console on a real store behind a real HTTP server.
type env struct {
	*admintest.Env
	console *Console
}

// forEachStore runs fn against the console on each store.
func forEachStore(t *testing.T, fn func(t *testing.T, e *env)) {
	admintest.ForEachStore(t, func(base *admintest.Env, mux *http.ServeMux) *env {
		c := &Console{Service: base.Service, Store: base.Store, Sessions: base.Sessions, Login: base.Login, Log: base.Log}
		c.Register(mux)
		return &env{Env: base, console: c}
	}, fn)
}

// The service's refusals as the pages show them.
const (
	msgUsernameRequired = "Username is required."
	msgUsernameFormat   = "Username must be 1 to 64 characters long and use only letters, digits and . _ - @, or Japanese (kanji, hiragana, katakana)."
	msgEmailRequired    = "E-mail is required."
	msgEmailFormat      = "E-mail must be a plain address such as name@example.com."
	msgDuplicate        = "A user with this username or e-mail already exists."
	msgDisableSelf      = "You cannot disable your own account."
	msgDemoteSelf       = "You cannot remove your own administrator role."
)

func userForm(username, email string, otp, enabled bool) url.Values {
	v := url.Values{"username": {username}, "email": {email}, "first_name": {"Ada"}, "last_name": {"Lovelace"}}
	if otp {
		v.Set("otp_required", "on")
	}
	if enabled {
		v.Set("enabled", "on")
	}
	return v
}

var linkPattern = regexp.MustCompile(regexp.QuoteMeta(admintest.Issuer) + `/link/([A-Za-z0-9_-]+)`)

// linkToken returns the token of the only action link in m.
func linkToken(t *testing.T, m mail.Message) string {
	t.Helper()
	got := linkPattern.FindStringSubmatch(m.Text)
	if got == nil {
		t.Fatalf("mail text has no link: %q", m.Text)
	}
	if !strings.Contains(m.HTML, got[0]) {
		t.Errorf("mail HTML lacks the link %s", got[0])
	}
	return got[1]
}

// text returns the unescaped text content of the element with id, or fails.
func text(t *testing.T, body, id string) string {
	t.Helper()
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no element id=%q in page:\n%s", id, body)
	}
	return html.UnescapeString(strings.TrimSpace(m[1]))
}

// inputValue returns the value of input id.
func inputValue(t *testing.T, body, id string) string {
	t.Helper()
	m := regexp.MustCompile(`<input id="` + regexp.QuoteMeta(id) + `"[^>]*value="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no input id=%q with a value in page", id)
	}
	return html.UnescapeString(m[1])
}

func checked(t *testing.T, body, id string) bool {
	t.Helper()
	m := regexp.MustCompile(`<input id="` + regexp.QuoteMeta(id) + `"[^>]*>`).FindString(body)
	if m == "" {
		t.Fatalf("no input id=%q in page", id)
	}
	return strings.Contains(m, " checked")
}

func wantStatus(t *testing.T, r admintest.Response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body:\n%s", r.Status, status, r.Body)
	}
}
