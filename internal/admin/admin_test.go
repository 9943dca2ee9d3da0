package admin

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authz/authz/internal/clientip"
	"github.com/authz/authz/internal/login"
	"github.com/authz/authz/internal/mail"
	"github.com/authz/authz/internal/mfa"
	"github.com/authz/authz/internal/oauth"
	"github.com/authz/authz/internal/password"
	"github.com/authz/authz/internal/seal"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/store/postgres"
	"github.com/authz/authz/internal/store/sqlite"
	"github.com/authz/authz/internal/testsupport/pgtest"
)

// forEachStore runs fn against a fresh SQLite store and, when
// AUTHZ_TEST_DATABASE_URL is set, a fresh PostgreSQL database, the two in
// parallel.
func forEachStore(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"))
		if err != nil {
			t.Fatalf("sqlite.Open: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		fn(t, newEnv(t, s))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		// Not t.Context(): the pool must outlive the test body until Cleanup.
		s, err := postgres.Open(context.Background(), pgtest.URL(t))
		if err != nil {
			t.Fatalf("postgres.Open: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		fn(t, newEnv(t, s))
	})
}

// testMail delivers through a LogSender into an Outbox, or fails with err.
type testMail struct {
	mu     sync.Mutex
	err    error
	sender *mail.LogSender
	outbox *mail.Outbox
}

func (m *testMail) Send(ctx context.Context, msg mail.Message) error {
	m.mu.Lock()
	err := m.err
	m.mu.Unlock()
	if err != nil {
		return err
	}
	return m.sender.Send(ctx, msg)
}

func (m *testMail) fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.err = err
}

// env is a console on a real store behind a real HTTP server.
type env struct {
	t        *testing.T
	st       store.Store
	srv      *httptest.Server
	mail     *testMail
	console  *Console
	provider *oauth.Provider
	sealer   *seal.Sealer
	admin    *store.User
	cookie   string // the admin's session cookie
}

const issuer = "http://authz.test"

func newEnv(t *testing.T, st store.Store) *env {
	log := slog.New(slog.DiscardHandler)
	sealer, err := seal.New(make([]byte, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	p := &login.Pipeline{
		Store: st, Passwords: password.NewHasher(password.Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}),
		OTP: mfa.NewVerifier(st, sealer), Log: log, SessionTTL: time.Hour, TransactionTTL: 30 * time.Minute,
		OTPIssuer: "authz test",
	}
	outbox := mail.NewOutbox(100)
	m := &testMail{sender: mail.NewLogSender(log, outbox), outbox: outbox}
	prov := newProvider(t, st, sealer, p, log)
	c := &Console{Store: st, Pipeline: p, Mail: m, Issuer: issuer, Log: log, Sealer: sealer, Secrets: prov.Hasher(), Tokens: prov}
	mux := http.NewServeMux()
	p.Register(mux)
	prov.Register(mux)
	c.Register(mux)
	h := http.NewCrossOriginProtection().Handler(mux)
	srv := httptest.NewServer(clientip.Resolver{}.Middleware(h))
	t.Cleanup(srv.Close)
	e := &env{t: t, st: st, srv: srv, mail: m, console: c, provider: prov, sealer: sealer}
	e.admin = e.createUser("root", "root@example.com", store.RoleAdmin, true)
	e.cookie = e.session(e.admin.ID, "pwd", "otp", "mfa")
	return e
}

// newProvider is the OpenID provider whose client_credentials tokens the API
// accepts.
func newProvider(t *testing.T, st store.Store, sealer *seal.Sealer, p *login.Pipeline, log *slog.Logger) *oauth.Provider {
	t.Helper()
	keys := oauth.NewKeySet(st, sealer)
	if err := keys.Ensure(context.Background(), "ES256"); err != nil {
		t.Fatalf("signing key: %v", err)
	}
	key := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	prov := oauth.NewProvider(oauth.Config{Issuer: issuer, AccessTokenTTL: time.Hour, RefreshTokenTTL: time.Hour,
		AuthorizeCodeTTL: time.Minute, IDTokenTTL: time.Hour, HMACSecret: key(1), ClientSecretKey: key(2)}, st, keys, p, log)
	p.Resume = prov
	return prov
}

func (e *env) createUser(username, email, role string, otp bool) *store.User {
	e.t.Helper()
	now := time.Now().UTC().Add(-time.Hour)
	u := &store.User{ID: store.NewID(), Username: username, Email: email, Enabled: true, OTPRequired: otp, Role: role, CreatedAt: now, UpdatedAt: now}
	if err := e.st.CreateUser(context.Background(), u); err != nil {
		e.t.Fatalf("CreateUser %s: %v", username, err)
	}
	// Read back: the store keeps times to the microsecond.
	return e.user(u.ID)
}

// session creates a browser session of userID and returns its cookie value.
func (e *env) session(userID string, amr ...string) string {
	e.t.Helper()
	var b [32]byte
	_, _ = rand.Read(b[:])
	token := base64.RawURLEncoding.EncodeToString(b[:])
	now := time.Now().UTC()
	s := &store.Session{ID: login.TokenID(token), UserID: userID, AuthTime: now, AMR: amr, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := e.st.CreateSession(context.Background(), s); err != nil {
		e.t.Fatalf("CreateSession: %v", err)
	}
	return token
}

// csrf is the spec's token, computed independently of the code under test.
func csrf(cookie string) string {
	sum := sha256.Sum256([]byte("admin-csrf:" + login.TokenID(cookie)))
	return hex.EncodeToString(sum[:])
}

type response struct {
	status   int
	body     string
	location string
	header   http.Header
}

func (e *env) do(req *http.Request, cookie string) response {
	e.t.Helper()
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: login.SessionCookie, Value: cookie})
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, body: string(b), location: res.Header.Get("Location"), header: res.Header}
}

func (e *env) getAs(cookie, path string) response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	return e.do(req, cookie)
}

func (e *env) get(path string) response { e.t.Helper(); return e.getAs(e.cookie, path) }

// postRaw posts form as is, without adding a CSRF token.
func (e *env) postRaw(cookie, path string, form url.Values) response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.do(req, cookie)
}

// post posts form as the admin with the right CSRF token.
func (e *env) post(path string, form url.Values) response {
	e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", csrf(e.cookie))
	return e.postRaw(e.cookie, path, form)
}

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

func (e *env) user(id string) *store.User {
	e.t.Helper()
	u, err := e.st.GetUser(context.Background(), id)
	if err != nil {
		e.t.Fatalf("GetUser %s: %v", id, err)
	}
	return u
}

func (e *env) userByName(name string) *store.User {
	e.t.Helper()
	u, err := e.st.GetUserByUsername(context.Background(), name)
	if err != nil {
		e.t.Fatalf("GetUserByUsername %s: %v", name, err)
	}
	return u
}

func (e *env) countUsers() int {
	e.t.Helper()
	n, err := e.st.CountUsers(context.Background(), "")
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) auditTypes(userID string) []string {
	e.t.Helper()
	evs, _, err := e.st.ListAudit(context.Background(), store.AuditFilter{UserID: userID, Limit: 100})
	if err != nil {
		e.t.Fatalf("ListAudit: %v", err)
	}
	var out []string
	for _, ev := range evs {
		if ev.ActorID != e.admin.ID {
			e.t.Errorf("audit %s has actor %q, want the admin", ev.Type, ev.ActorID)
		}
		if ev.IP != "127.0.0.1" {
			e.t.Errorf("audit %s has IP %q, want 127.0.0.1", ev.Type, ev.IP)
		}
		out = append(out, ev.Type)
	}
	return out
}

func (e *env) addCredential(userID string) {
	e.t.Helper()
	c := &store.OTPCredential{UserID: userID, SealedSecret: []byte("sealed"), CreatedAt: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)}
	if err := e.st.CreateOTPCredential(context.Background(), c); err != nil {
		e.t.Fatalf("CreateOTPCredential: %v", err)
	}
}

func (e *env) hasCredential(userID string) bool {
	e.t.Helper()
	_, err := e.st.GetOTPCredential(context.Background(), userID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		e.t.Fatal(err)
	}
	return err == nil
}

var linkPattern = regexp.MustCompile(regexp.QuoteMeta(issuer) + `/link/([A-Za-z0-9_-]+)`)

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

func wantStatus(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body:\n%s", r.status, status, r.body)
	}
}

func TestAccess(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		r := e.getAs("", "/admin/users")
		if r.status != http.StatusSeeOther || r.location != "/login" {
			t.Errorf("no session: %d %q, want 303 to /login", r.status, r.location)
		}
		r = e.postRaw("", "/admin/users", userForm("x", "x@example.com", false, true))
		if r.status != http.StatusSeeOther || r.location != "/login" {
			t.Errorf("no session POST: %d %q, want 303 to /login", r.status, r.location)
		}

		plain := e.createUser("pat", "pat@example.com", store.RoleUser, true)
		r = e.getAs(e.session(plain.ID, "pwd", "otp", "mfa"), "/admin/users")
		wantStatus(t, r, http.StatusForbidden)

		r = e.getAs(e.session(e.admin.ID, "pwd"), "/admin/users")
		wantStatus(t, r, http.StatusForbidden)
		if !strings.Contains(r.body, "one-time code") {
			t.Errorf("admin without otp: page does not explain the one-time code:\n%s", r.body)
		}
		r = e.postRaw(e.session(e.admin.ID, "pwd"), "/admin/users", userForm("x", "x@example.com", false, true))
		wantStatus(t, r, http.StatusForbidden)

		off := e.createUser("off", "off@example.com", store.RoleAdmin, true)
		off.Enabled = false
		if err := e.st.UpdateUser(context.Background(), off); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, e.getAs(e.session(off.ID, "pwd", "otp"), "/admin/users"), http.StatusForbidden)

		r = e.get("/admin")
		wantStatus(t, r, http.StatusOK)
		if !strings.Contains(r.body, `id="count-users"`) {
			t.Errorf("GET /admin is not the dashboard:\n%s", r.body)
		}
		r = e.get("/admin/users")
		wantStatus(t, r, http.StatusOK)
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
		if e.countUsers() != 3 {
			t.Errorf("refused requests created users")
		}
	})
}

func TestAddUser(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		r := e.get("/admin/users/new")
		wantStatus(t, r, http.StatusOK)
		if !checked(t, r.body, "enabled") || checked(t, r.body, "otp_required") {
			t.Error("new form: want enabled checked and OTP unchecked")
		}

		r = e.post("/admin/users", userForm(" alice ", "alice@example.com", true, true))
		wantStatus(t, r, http.StatusSeeOther)
		u := e.userByName("alice")
		if r.location != "/admin/users/"+u.ID+"?notice=created" {
			t.Errorf("Location %q", r.location)
		}
		if u.Email != "alice@example.com" || u.FirstName != "Ada" || u.LastName != "Lovelace" ||
			!u.OTPRequired || !u.Enabled || u.Role != store.RoleUser || u.PasswordHash != "" {
			t.Errorf("stored user %+v", u)
		}

		msgs := e.mail.outbox.Messages()
		if len(msgs) != 1 || msgs[0].To != "alice@example.com" || msgs[0].Subject != "Set up your account" {
			t.Fatalf("mails %+v, want one set-up mail to alice", msgs)
		}
		token := linkToken(t, msgs[0])
		at, err := e.st.GetActionToken(context.Background(), login.TokenID(token))
		if err != nil || at.UserID != u.ID || at.Kind != store.ActionSetup {
			t.Fatalf("action token %+v, %v", at, err)
		}
		if got := at.ExpiresAt.Sub(at.CreatedAt); got != DefaultLinkTTL {
			t.Errorf("link lifetime %v, want %v", got, DefaultLinkTTL)
		}
		// The link opens the pipeline's landing page.
		wantStatus(t, e.getAs("", "/link/"+token), http.StatusOK)

		types := e.auditTypes(u.ID)
		for _, want := range []string{"user.created", "otp.enabled", "link.sent"} {
			if !slices.Contains(types, want) {
				t.Errorf("audit %v lacks %s", types, want)
			}
		}

		r = e.get(r.location)
		wantStatus(t, r, http.StatusOK)
		if got := text(t, r.body, "notice"); !strings.Contains(got, "User created") {
			t.Errorf("notice %q", got)
		}
		if got := text(t, r.body, "otp-state"); got != "Waiting for enrollment" {
			t.Errorf("otp-state %q", got)
		}
		if got := inputValue(t, r.body, "username"); got != "alice" {
			t.Errorf("username %q", got)
		}
		if got := text(t, r.body, "last-login"); got != "Never" {
			t.Errorf("last login %q", got)
		}
		if strings.Contains(r.body, `id="error"`) {
			t.Error("profile shows an error after a successful send")
		}
	})
}

func TestAddUserWithoutOTP(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		wantStatus(t, e.post("/admin/users", userForm("bob", "bob@example.com", false, true)), http.StatusSeeOther)
		u := e.userByName("bob")
		if u.OTPRequired {
			t.Error("OTP flag stored on")
		}
		if types := e.auditTypes(u.ID); slices.Contains(types, "otp.enabled") {
			t.Errorf("audit %v has otp.enabled", types)
		}
		r := e.get("/admin/users/" + u.ID)
		if got := text(t, r.body, "otp-state"); got != "None" {
			t.Errorf("otp-state %q, want None", got)
		}
	})
}

func TestAddUserDuplicate(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		e.createUser("alice", "alice@example.com", store.RoleUser, false)
		n := e.countUsers()
		for _, f := range []url.Values{
			userForm("ALICE", "other@example.com", false, true),
			userForm("alice2", "Alice@Example.COM", false, true),
		} {
			r := e.post("/admin/users", f)
			wantStatus(t, r, http.StatusConflict)
			if got := text(t, r.body, "error"); got != msgDuplicate {
				t.Errorf("error %q", got)
			}
			if got := inputValue(t, r.body, "username"); got != f.Get("username") {
				t.Errorf("username not kept: %q", got)
			}
		}
		if e.countUsers() != n {
			t.Error("a duplicate was stored")
		}
		if msgs := e.mail.outbox.Messages(); len(msgs) != 0 {
			t.Errorf("mails sent: %+v", msgs)
		}
	})
}

func TestAddUserValidation(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		n := e.countUsers()
		for _, tc := range []struct{ username, email, want string }{
			{"", "a@example.com", msgUsernameRequired},
			{"al ice", "a@example.com", msgUsernameFormat},
			{strings.Repeat("a", 65), "a@example.com", msgUsernameFormat},
			{"al\x00ice", "a@example.com", msgUsernameFormat},
			{"alice", "", msgEmailRequired},
			{"alice", "not-an-address", msgEmailFormat},
			{"alice", "Alice <alice@example.com>", msgEmailFormat},
			{"alice", "<alice@example.com>", msgEmailFormat},
		} {
			r := e.post("/admin/users", userForm(tc.username, tc.email, true, true))
			wantStatus(t, r, http.StatusBadRequest)
			if got := text(t, r.body, "error"); got != tc.want {
				t.Errorf("%q %q: error %q, want %q", tc.username, tc.email, got, tc.want)
			}
			if got := inputValue(t, r.body, "email"); got != tc.email {
				t.Errorf("e-mail not kept: %q", got)
			}
			if !checked(t, r.body, "otp_required") {
				t.Error("OTP checkbox not kept")
			}
		}
		if e.countUsers() != n {
			t.Error("an invalid user was stored")
		}
		if len(e.mail.outbox.Messages()) != 0 {
			t.Error("mail sent for an invalid user")
		}
	})
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		target := e.createUser("tom", "tom@example.com", store.RoleUser, true)
		e.addCredential(target.ID)
		n := e.countUsers()
		forged := userForm("mallory", "m@example.com", false, true)
		forged.Set("csrf", csrf(e.session(e.admin.ID, "pwd", "otp"))) // another session's token
		for _, f := range []url.Values{userForm("mallory", "m@example.com", false, true), forged} {
			wantStatus(t, e.postRaw(e.cookie, "/admin/users", f), http.StatusForbidden)
			edit := userForm("tom", "tom@example.com", false, false)
			edit.Set("csrf", f.Get("csrf"))
			wantStatus(t, e.postRaw(e.cookie, "/admin/users/"+target.ID, edit), http.StatusForbidden)
			for _, action := range []string{"reset-otp", "send-setup", "send-reset"} {
				wantStatus(t, e.postRaw(e.cookie, "/admin/users/"+target.ID+"/"+action, url.Values{"csrf": {f.Get("csrf")}}), http.StatusForbidden)
			}
		}
		if e.countUsers() != n {
			t.Error("user created without a valid token")
		}
		if u := e.user(target.ID); !u.Enabled || !u.OTPRequired || !u.UpdatedAt.Equal(target.UpdatedAt) {
			t.Errorf("user changed without a valid token: %+v", u)
		}
		if !e.hasCredential(target.ID) {
			t.Error("credential removed without a valid token")
		}
		if len(e.mail.outbox.Messages()) != 0 {
			t.Error("mail sent without a valid token")
		}
	})
}

func TestOTPFlag(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		u := e.createUser("olga", "olga@example.com", store.RoleUser, true)
		e.addCredential(u.ID)
		r := e.get("/admin/users/" + u.ID)
		if got := text(t, r.body, "otp-state"); got != "Enrolled on 2025-03-04 05:06 UTC" {
			t.Errorf("otp-state %q", got)
		}
		if !checked(t, r.body, "otp_required") {
			t.Error("OTP Configured not checked")
		}

		r = e.post("/admin/users/"+u.ID, userForm("olga", "olga@example.com", false, true))
		if r.status != http.StatusSeeOther || r.location != "/admin/users/"+u.ID+"?notice=saved" {
			t.Fatalf("flag off: %d %q\n%s", r.status, r.location, r.body)
		}
		off := e.user(u.ID)
		if off.OTPRequired || e.hasCredential(u.ID) {
			t.Error("flag off kept the flag or the credential")
		}
		if !off.UpdatedAt.After(u.UpdatedAt) {
			t.Error("UpdatedAt did not move")
		}
		types := e.auditTypes(u.ID)
		if !slices.Contains(types, "otp.disabled") || !slices.Contains(types, "authenticator.removed") {
			t.Errorf("audit %v", types)
		}
		if got := text(t, e.get("/admin/users/"+u.ID).body, "otp-state"); got != "None" {
			t.Errorf("otp-state after off %q", got)
		}

		wantStatus(t, e.post("/admin/users/"+u.ID, userForm("olga", "olga@example.com", true, true)), http.StatusSeeOther)
		on := e.user(u.ID)
		if !on.OTPRequired || !on.UpdatedAt.After(off.UpdatedAt) {
			t.Errorf("flag on: %+v", on)
		}
		if got := text(t, e.get("/admin/users/"+u.ID).body, "otp-state"); got != "Waiting for enrollment" {
			t.Errorf("otp-state after on %q", got)
		}
		if types := e.auditTypes(u.ID); !slices.Contains(types, "otp.enabled") {
			t.Errorf("audit %v lacks otp.enabled", types)
		}

		// Submitting the same values changes nothing, not even UpdatedAt.
		r = e.post("/admin/users/"+u.ID, userForm("olga", "olga@example.com", true, true))
		if !strings.HasSuffix(r.location, "notice=unchanged") || !e.user(u.ID).UpdatedAt.Equal(on.UpdatedAt) {
			t.Errorf("unchanged save: %q", r.location)
		}
	})
}

func TestResetOTP(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		u := e.createUser("rita", "rita@example.com", store.RoleUser, true)
		e.addCredential(u.ID)
		r := e.post("/admin/users/"+u.ID+"/reset-otp", nil)
		if r.status != http.StatusSeeOther || r.location != "/admin/users/"+u.ID+"?notice=otp-reset" {
			t.Fatalf("reset: %d %q", r.status, r.location)
		}
		after := e.user(u.ID)
		if e.hasCredential(u.ID) || !after.OTPRequired || !after.UpdatedAt.After(u.UpdatedAt) {
			t.Errorf("after reset: credential=%v user=%+v", e.hasCredential(u.ID), after)
		}
		page := e.get(r.location).body
		if got := text(t, page, "otp-state"); got != "Waiting for enrollment" {
			t.Errorf("otp-state %q", got)
		}
		if got := text(t, page, "notice"); !strings.Contains(got, "new one at the next sign-in") {
			t.Errorf("notice %q", got)
		}
		if types := e.auditTypes(u.ID); !slices.Contains(types, "authenticator.removed") {
			t.Errorf("audit %v", types)
		}
		r = e.post("/admin/users/"+u.ID+"/reset-otp", nil)
		if r.location != "/admin/users/"+u.ID+"?notice=otp-none" {
			t.Errorf("second reset: %q", r.location)
		}
	})
}

func TestResendLinks(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		wantStatus(t, e.post("/admin/users", userForm("sam", "sam@example.com", true, true)), http.StatusSeeOther)
		u := e.userByName("sam")
		old := linkToken(t, e.mail.outbox.Messages()[0])

		r := e.post("/admin/users/"+u.ID+"/send-setup", nil)
		if r.status != http.StatusSeeOther || r.location != "/admin/users/"+u.ID+"?notice=setup-sent" {
			t.Fatalf("send-setup: %d %q", r.status, r.location)
		}
		msgs := e.mail.outbox.Messages()
		if len(msgs) != 2 || msgs[0].Subject != "Set up your account" || msgs[0].To != u.Email {
			t.Fatalf("mails %+v", msgs)
		}
		fresh := linkToken(t, msgs[0])
		if _, err := e.st.GetActionToken(context.Background(), login.TokenID(old)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("old link still stored: %v", err)
		}
		if _, err := e.st.GetActionToken(context.Background(), login.TokenID(fresh)); err != nil {
			t.Errorf("new link: %v", err)
		}
		if got := text(t, e.get(r.location).body, "notice"); !strings.Contains(got, "sam@example.com") {
			t.Errorf("notice %q", got)
		}

		r = e.post("/admin/users/"+u.ID+"/send-reset", nil)
		if r.location != "/admin/users/"+u.ID+"?notice=reset-sent" {
			t.Fatalf("send-reset: %d %q", r.status, r.location)
		}
		m := e.mail.outbox.Messages()[0]
		if m.Subject != "Reset your password" {
			t.Errorf("subject %q", m.Subject)
		}
		at, err := e.st.GetActionToken(context.Background(), login.TokenID(linkToken(t, m)))
		if err != nil || at.Kind != store.ActionReset {
			t.Errorf("reset token %+v %v", at, err)
		}
	})
}

func TestLinkRefusedWithoutEmailOrWhenDisabled(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		u := e.createUser("nomail", "", store.RoleUser, false)
		r := e.post("/admin/users/"+u.ID+"/send-setup", nil)
		wantStatus(t, r, http.StatusConflict)
		if got := text(t, r.body, "error"); !strings.Contains(got, "no e-mail address") {
			t.Errorf("error %q", got)
		}
		if len(e.mail.outbox.Messages()) != 0 {
			t.Error("mail sent")
		}
	})
}

func TestMailFailure(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		e.mail.fail(fmt.Errorf("mail: send to x via smtp.example:587 (password=hunter2): %w",
			&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}))
		r := e.post("/admin/users", userForm("mia", "mia@example.com", true, true))
		wantStatus(t, r, http.StatusSeeOther)
		u := e.userByName("mia")
		if !strings.Contains(r.location, "mailerror=") {
			t.Fatalf("Location %q lacks the mail error", r.location)
		}
		page := e.get(r.location).body
		want := "The set-up e-mail could not be sent: the mail server could not be reached. Check the SMTP settings, then use Resend set-up e-mail."
		if got := text(t, page, "error"); got != want {
			t.Errorf("error %q, want %q", got, want)
		}
		if strings.Contains(page, "hunter2") || strings.Contains(page, "smtp.example") {
			t.Error("page shows error details")
		}
		if types := e.auditTypes(u.ID); slices.Contains(types, "link.sent") {
			t.Errorf("audit %v claims the link was sent", types)
		}

		e.mail.fail(fmt.Errorf("mail: %w", &textproto.Error{Code: 535, Msg: "bad credentials"}))
		r = e.post("/admin/users/"+u.ID+"/send-reset", nil)
		got := text(t, e.get(r.location).body, "error")
		if !strings.HasPrefix(got, "The password reset e-mail could not be sent: the mail server rejected the SMTP login (SMTP reply 535)") {
			t.Errorf("reset failure %q", got)
		}

		e.mail.fail(nil)
		wantStatus(t, e.post("/admin/users/"+u.ID+"/send-setup", nil), http.StatusSeeOther)
		if len(e.mail.outbox.Messages()) != 1 {
			t.Error("resend after repair did not send")
		}
	})
}

func TestMailFailureReasons(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err    error
		reason string
		code   int
	}{
		{&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "smtp"}}, "dns", 0},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), "timeout", 0},
		{&net.OpError{Op: "dial", Err: errors.New("refused")}, "unreachable", 0},
		{&textproto.Error{Code: 550, Msg: "no"}, "refused", 550},
		{&textproto.Error{Code: 535, Msg: "no"}, "auth", 535},
		{errors.New("strange"), "failed", 0},
	} {
		reason, code := mailFailure(tc.err)
		if reason != tc.reason || code != tc.code {
			t.Errorf("%v: %s %d, want %s %d", tc.err, reason, code, tc.reason, tc.code)
		}
	}
	if got := mailErrorText(url.Values{"mailerror": {"<script>"}}); strings.Contains(got, "script") {
		t.Errorf("unknown reason echoed: %q", got)
	}
}

func TestListSearchAndPaging(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		for i := 1; i <= 25; i++ {
			e.createUser(fmt.Sprintf("user%02d", i), fmt.Sprintf("u%02d@example.com", i), store.RoleUser, false)
		}
		rowPattern := regexp.MustCompile(`<td><a href="/admin/users/[0-9a-f]+">([^<]+)</a>`)
		rows := func(body string) []string {
			var out []string
			for _, m := range rowPattern.FindAllStringSubmatch(body, -1) {
				out = append(out, m[1])
			}
			return out
		}

		r := e.get("/admin/users")
		wantStatus(t, r, http.StatusOK)
		if !strings.Contains(r.body, `id="users"`) || !strings.Contains(r.body, `id="search"`) || !strings.Contains(r.body, `id="add-user"`) {
			t.Error("list lacks the table, the search or the add link")
		}
		first := rows(r.body)
		if len(first) != 20 || first[0] != "root" {
			t.Fatalf("page 1 rows %v", first)
		}
		if strings.Contains(r.body, `id="prev"`) || !strings.Contains(r.body, `href="/admin/users?page=2" id="next"`) {
			t.Errorf("page 1 paging links wrong")
		}
		r = e.get("/admin/users?page=2")
		second := rows(r.body)
		if len(second) != 6 || slices.ContainsFunc(second, func(s string) bool { return slices.Contains(first, s) }) {
			t.Errorf("page 2 rows %v", second)
		}
		if !strings.Contains(r.body, `id="prev"`) || strings.Contains(r.body, `id="next"`) {
			t.Errorf("page 2 paging links wrong")
		}

		r = e.get("/admin/users?q=USER1")
		if got := rows(r.body); len(got) != 10 || got[0] != "user10" {
			t.Errorf("search USER1: %v", got)
		}
		if got := inputValue(t, r.body, "search"); got != "USER1" {
			t.Errorf("search box %q", got)
		}
		r = e.get("/admin/users?q=u07%40example")
		if got := rows(r.body); len(got) != 1 || got[0] != "user07" {
			t.Errorf("search by e-mail: %v", got)
		}
		for _, q := range []string{"?page=abc", "?page=-3", "?page=99999999999999999999", "?q=%00%ff", "?q=" + strings.Repeat("x", 5000), "?page=500"} {
			wantStatus(t, e.get("/admin/users"+q), http.StatusOK)
		}
		if got := e.get("/admin/users?q=zzz").body; !strings.Contains(got, `id="no-users"`) {
			t.Error("empty search shows no 'no users' message")
		}
	})
}

func TestEditUser(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		u := e.createUser("eve", "eve@example.com", store.RoleUser, false)
		e.createUser("frank", "frank@example.com", store.RoleUser, false)

		r := e.post("/admin/users/"+u.ID, userForm("eve", "FRANK@example.com", false, true))
		wantStatus(t, r, http.StatusConflict)
		if got := text(t, r.body, "error"); got != msgDuplicate {
			t.Errorf("error %q", got)
		}
		if got := e.user(u.ID); got.Email != "eve@example.com" || !got.UpdatedAt.Equal(u.UpdatedAt) {
			t.Errorf("duplicate e-mail changed the user: %+v", got)
		}
		r = e.post("/admin/users/"+u.ID, userForm("eve", "bad", false, true))
		wantStatus(t, r, http.StatusBadRequest)
		if got := text(t, r.body, "error"); got != msgEmailFormat {
			t.Errorf("error %q", got)
		}

		f := userForm("Eve.N", "eve.n@example.com", false, true)
		f.Set("first_name", "Évelyne")
		wantStatus(t, e.post("/admin/users/"+u.ID, f), http.StatusSeeOther)
		got := e.user(u.ID)
		if got.Username != "Eve.N" || got.Email != "eve.n@example.com" || got.FirstName != "Évelyne" {
			t.Errorf("edit not stored: %+v", got)
		}
		if types := e.auditTypes(u.ID); !slices.Contains(types, "user.updated") {
			t.Errorf("audit %v", types)
		}

		// Disabling a user ends their sessions.
		cookie := e.session(u.ID, "pwd")
		wantStatus(t, e.post("/admin/users/"+u.ID, userForm("Eve.N", "eve.n@example.com", false, false)), http.StatusSeeOther)
		if e.user(u.ID).Enabled {
			t.Error("user still enabled")
		}
		if _, err := e.st.GetSession(context.Background(), login.TokenID(cookie), time.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("disabled user's session survived: %v", err)
		}
	})
}

func TestAdminCannotDisableSelf(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		r := e.post("/admin/users/"+e.admin.ID, userForm("root", "root@example.com", true, false))
		wantStatus(t, r, http.StatusBadRequest)
		if got := text(t, r.body, "error"); got != msgDisableSelf {
			t.Errorf("error %q", got)
		}
		if !e.user(e.admin.ID).Enabled {
			t.Error("admin disabled themselves")
		}
	})
}

func TestUnknownUser(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		wantStatus(t, e.get("/admin/users/nosuchuser"), http.StatusNotFound)
		wantStatus(t, e.post("/admin/users/nosuchuser", userForm("x", "x@example.com", false, true)), http.StatusNotFound)
		for _, action := range []string{"reset-otp", "send-setup", "send-reset"} {
			wantStatus(t, e.post("/admin/users/nosuchuser/"+action, nil), http.StatusNotFound)
		}
	})
}

func TestBadBodies(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		n := e.countUsers()
		big := userForm("big", "big@example.com", false, true)
		big.Set("csrf", csrf(e.cookie))
		big.Set("first_name", strings.Repeat("x", 100<<10))
		r := e.postRaw(e.cookie, "/admin/users", big)
		if r.status < 400 || r.status >= 500 {
			t.Errorf("oversized body: status %d", r.status)
		}
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/admin/users", strings.NewReader("csrf=%zz&username=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		wantStatus(t, e.do(req, e.cookie), http.StatusBadRequest)

		long := userForm("long", "long@example.com", false, true)
		long.Set("last_name", strings.Repeat("y", 101))
		wantStatus(t, e.post("/admin/users", long), http.StatusBadRequest)
		if e.countUsers() != n {
			t.Error("a bad body created a user")
		}
	})
}
