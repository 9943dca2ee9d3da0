package login

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/testsupport/sqlitetest"
)

// answer records how the pipeline answered a parked authorization request.
type answer struct {
	resumed *store.Session
	denied  error
}

func (a *answer) ResumeAuthorization(_ http.ResponseWriter, _ *http.Request, _ *store.LoginTransaction, sess *store.Session, _ *store.User) {
	a.resumed = sess
}

func (a *answer) DenyAuthorization(_ http.ResponseWriter, _ *http.Request, _ *store.LoginTransaction, reason error) {
	a.denied = reason
}

type startEnv struct {
	st  store.Store
	p   *Pipeline
	ans *answer
	now time.Time
}

func newStartEnv(t *testing.T) *startEnv {
	t.Helper()
	ctx := context.Background()
	st := sqlitetest.Open(t)
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	for _, c := range []*store.Client{
		{ID: "asks", Name: "Asks", RedirectURIs: []string{"https://a/cb"}, GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid"}},
		{ID: "trusted", Name: "Trusted", SkipConsent: true, RedirectURIs: []string{"https://a/cb"}, GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid"}},
	} {
		if err := st.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	ans := &answer{}
	p := &Pipeline{Store: st, Sessions: &session.Manager{Store: st, Now: clock}, Resume: ans, Now: clock,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), SessionTTL: time.Hour, TransactionTTL: time.Hour}
	return &startEnv{st: st, p: p, ans: ans, now: now}
}

// signedIn creates a user (OTP flag otp) and a session of it proving amr,
// and returns its cookie.
func (e *startEnv) signedIn(t *testing.T, otp bool, amr ...string) *http.Cookie {
	t.Helper()
	ctx := context.Background()
	u := &store.User{ID: store.NewID(), Username: "u" + store.NewID()[:6], Enabled: true, OTPRequired: otp, Role: store.RoleUser, CreatedAt: e.now, UpdatedAt: e.now}
	if err := e.st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s := &store.Session{UserID: u.ID, AuthTime: e.now.Add(-10 * time.Minute), AMR: amr}
	signIn := &store.AuditEvent{Time: e.now, Type: string(audit.LoginSuccess), ActorID: u.ID, UserID: u.ID}
	if err := e.p.Sessions.SignIn(rec, httptest.NewRequest("GET", "/", nil), "", s, time.Hour, signIn); err != nil {
		t.Fatal(err)
	}
	return rec.Result().Cookies()[0]
}

// start hands an authorization request of client with extra parameters to
// the pipeline, as the authorize endpoint does, and returns the response.
func (e *startEnv) start(t *testing.T, c *http.Cookie, client string, extra url.Values) *httptest.ResponseRecorder {
	t.Helper()
	*e.ans = answer{}
	form := url.Values{"client_id": {client}, "scope": {"openid"}, "response_type": {"code"}}
	for k, v := range extra {
		form[k] = v
	}
	req := httptest.NewRequest("GET", "/oauth2/auth?"+form.Encode(), nil)
	if c != nil {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	e.p.Start(rec, req, session.LoginRequest{AuthRequest: form, ClientID: client, RequestedAt: e.now})
	return rec
}

func toLogin(rec *httptest.ResponseRecorder) bool {
	return rec.Code == http.StatusSeeOther && rec.Header().Get("Location") == "/login"
}

func TestStartAnswersAtOnceWhenTheSessionIsEnough(t *testing.T) {
	t.Parallel()
	e := newStartEnv(t)
	c := e.signedIn(t, false, session.AMRPassword)
	rec := e.start(t, c, "trusted", nil)
	if e.ans.resumed == nil || toLogin(rec) {
		t.Fatalf("a sufficient session was not reused: %d %v", rec.Code, e.ans)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == session.TransactionCookie {
			t.Errorf("a login transaction was begun for a request needing no page")
		}
	}
}

func TestStartAsksWhatTheSessionLacks(t *testing.T) {
	t.Parallel()
	e := newStartEnv(t)
	cases := []struct {
		name   string
		cookie *http.Cookie
		client string
		extra  url.Values
	}{
		{"no session", nil, "trusted", nil},
		{"prompt=login", e.signedIn(t, false, session.AMRPassword), "trusted", url.Values{"prompt": {"login"}}},
		{"max_age passed", e.signedIn(t, false, session.AMRPassword), "trusted", url.Values{"max_age": {"60"}}},
		{"malformed max_age", e.signedIn(t, false, session.AMRPassword), "trusted", url.Values{"max_age": {"soon"}}},
		{"consent not yet given", e.signedIn(t, false, session.AMRPassword), "asks", nil},
		// The administrator switched "OTP Configured" on after this session
		// was opened with the password alone: enrollment comes next.
		{"OTP switched on since", e.signedIn(t, true, session.AMRPassword), "trusted", nil},
	}
	for _, c := range cases {
		rec := e.start(t, c.cookie, c.client, c.extra)
		if !toLogin(rec) || e.ans.resumed != nil || e.ans.denied != nil {
			t.Errorf("%s: %d %q, answer %+v; want the login pages", c.name, rec.Code, rec.Header().Get("Location"), e.ans)
		}
	}
}

func TestStartWithPromptNone(t *testing.T) {
	t.Parallel()
	e := newStartEnv(t)
	none := url.Values{"prompt": {"none"}}
	cases := []struct {
		name   string
		cookie *http.Cookie
		client string
		want   error
	}{
		{"no session", nil, "trusted", session.ErrLoginRequired},
		{"consent not yet given", e.signedIn(t, false, session.AMRPassword), "asks", session.ErrConsentRequired},
		{"OTP switched on since", e.signedIn(t, true, session.AMRPassword), "trusted", session.ErrLoginRequired},
	}
	for _, c := range cases {
		rec := e.start(t, c.cookie, c.client, none)
		if !errors.Is(e.ans.denied, c.want) || toLogin(rec) {
			t.Errorf("%s: denied %v, want %v", c.name, e.ans.denied, c.want)
		}
	}
	e.start(t, e.signedIn(t, false, session.AMRPassword), "trusted", none)
	if e.ans.resumed == nil {
		t.Error("prompt=none with a sufficient session was not answered")
	}
}

// TestPromptConsentAsksAgain: prompt=consent shows the consent page even when
// the scopes were granted before, and answering it goes on to the
// application instead of asking again.
func TestPromptConsentAsksAgain(t *testing.T) {
	t.Parallel()
	e := newStartEnv(t)
	c := e.signedIn(t, false, session.AMRPassword)
	s, err := e.p.Sessions.Current(func() *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(c)
		return r
	}())
	if err != nil || s == nil {
		t.Fatal(s, err)
	}
	if err := e.st.PutConsent(context.Background(), &store.Consent{UserID: s.UserID, ClientID: "asks", Scopes: []string{"openid"}, GrantedAt: e.now}); err != nil {
		t.Fatal(err)
	}
	if e.start(t, c, "asks", nil); e.ans.resumed == nil {
		t.Fatal("remembered consent must not ask without prompt=consent")
	}
	rec := e.start(t, c, "asks", url.Values{"prompt": {"consent"}})
	if !toLogin(rec) {
		t.Fatalf("prompt=consent: %d %q, want the consent page", rec.Code, rec.Header().Get("Location"))
	}
	lt := rec.Result().Cookies()[0]
	mux := http.NewServeMux()
	e.p.Register(mux)
	get := httptest.NewRequest("GET", "/login", nil)
	get.AddCookie(lt)
	page := httptest.NewRecorder()
	mux.ServeHTTP(page, get)
	m := csrfField.FindStringSubmatch(page.Body.String())
	if page.Code != http.StatusOK || m == nil || !strings.Contains(page.Body.String(), `action="/login/consent"`) {
		t.Fatalf("GET /login: %d\n%s", page.Code, page.Body)
	}
	post := httptest.NewRequest("POST", "/login/consent", strings.NewReader(url.Values{"csrf": {m[1]}, "decision": {"allow"}}.Encode()))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	post.AddCookie(lt)
	post.AddCookie(c)
	done := httptest.NewRecorder()
	mux.ServeHTTP(done, post)
	if e.ans.resumed == nil {
		t.Fatalf("after consent: %d %q, want the request answered", done.Code, done.Header().Get("Location"))
	}
}
