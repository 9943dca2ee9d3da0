package server

import (
	"bytes"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/mfa"
)

// browserOf is a cookie-keeping client of srv that does not follow
// redirects, with the last page's CSRF secret at hand.
type browserOf struct {
	t    *testing.T
	srv  *httptest.Server
	c    *http.Client
	csrf string
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browserOf) do(method, path string, form url.Values) (int, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		form.Set("csrf", b.csrf)
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	if m := csrfInput.FindSubmatch(page); m != nil {
		b.csrf = string(m[1])
	}
	return resp.StatusCode, string(page)
}

func newBrowserOf(t *testing.T, srv *httptest.Server) *browserOf {
	jar, _ := cookiejar.New(nil)
	return &browserOf{t: t, srv: srv, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// TestBootstrapPasswordWorksOnce: the printed password of the first
// administrator signs in once: after the authenticator, the sign-in asks for
// the administrator's own password, and the printed one stops working.
func TestBootstrapPasswordWorksOnce(t *testing.T) {
	t.Parallel()
	var console bytes.Buffer
	app := openApp(t, nil, &console)
	m := regexp.MustCompile(`one-time password: (\S+)`).FindStringSubmatch(console.String())
	if m == nil {
		t.Fatalf("no password printed:\n%s", console.String())
	}
	printed := m[1]
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(srv.Close)

	b := newBrowserOf(t, srv)
	b.do("GET", "/login", nil)
	if status, _ := b.do("POST", "/login/password", url.Values{"username": {BootstrapUsername}, "password": {printed}}); status != http.StatusSeeOther {
		t.Fatalf("printed password: %d", status)
	}
	_, page := b.do("GET", "/login?manual=1", nil)
	key := regexp.MustCompile(`id="otp-key">([A-Z2-7 ]+)<`).FindStringSubmatch(page)
	since := regexp.MustCompile(`name="since" value="([^"]+)"`).FindStringSubmatch(page)
	if key == nil || since == nil {
		t.Fatalf("enrollment page expected:\n%s", page)
	}
	code, _ := mfa.Code(strings.ReplaceAll(key[1], " ", ""), time.Now())
	b.do("POST", "/login/enroll", url.Values{"otp": {code}, "since": {since[1]}})
	if _, page = b.do("GET", "/login", nil); !strings.Contains(page, `id="recovery-codes"`) {
		t.Fatalf("after the authenticator, the recovery codes are shown:\n%s", page)
	}
	b.do("POST", "/login/recovery-codes", url.Values{"saved": {"yes"}})
	if _, page = b.do("GET", "/login", nil); !strings.Contains(page, `action="/login/set-password"`) || !strings.Contains(page, "works once only") {
		t.Fatalf("after the authenticator, a new password is asked:\n%s", page)
	}
	if status, _ := b.do("POST", "/login/set-password", url.Values{"password": {"my own passphrase"}, "password_confirm": {"my own passphrase"}}); status != http.StatusSeeOther {
		t.Fatalf("set password: %d", status)
	}
	if _, page = b.do("GET", "/account", nil); !strings.Contains(page, `id="account-username"`) {
		t.Fatalf("signed in after choosing a password:\n%s", page)
	}

	again := newBrowserOf(t, srv)
	again.do("GET", "/login", nil)
	if status, _ := again.do("POST", "/login/password", url.Values{"username": {BootstrapUsername}, "password": {printed}}); status != http.StatusUnauthorized {
		t.Errorf("the printed password still works: %d", status)
	}
	again.do("GET", "/login", nil)
	if status, _ := again.do("POST", "/login/password", url.Values{"username": {BootstrapUsername}, "password": {"my own passphrase"}}); status != http.StatusSeeOther {
		t.Errorf("the chosen password: %d", status)
	}
	if _, page = again.do("GET", "/login", nil); !strings.Contains(page, `action="/login/otp"`) {
		t.Errorf("the next sign-in asks the code, not a new password:\n%s", page)
	}
}
