package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/testsupport/sqlitetest"
)

func openStore(t *testing.T) store.Store {
	t.Helper()
	ctx := context.Background()
	st := sqlitetest.Open(t)
	u := &store.User{ID: "u1", Username: "ann", Enabled: true, Role: store.RoleUser, CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestPublicAMRDropsUpstreamMarkAndDuplicates(t *testing.T) {
	got := PublicAMR([]string{AMRFederated, UpstreamAMR("otp"), UpstreamAMR("pwd"), "pwd"})
	if want := []string{"fed", "otp", "pwd"}; !slices.Equal(got, want) {
		t.Errorf("PublicAMR = %v, want %v", got, want)
	}
	if slices.Contains([]string{UpstreamAMR(AMROTP)}, AMROTP) {
		t.Error("an upstream otp passes for the local one")
	}
}

func TestTokensAreStoredOnlyAsHashes(t *testing.T) {
	token, id := NewToken()
	if token == id || id != TokenID(token) || len(id) != 64 {
		t.Errorf("token %q, id %q", token, id)
	}
	a1, a2, b := LogoutToken("a"), LogoutToken("a"), LogoutToken("b")
	if a1 == b || a1 != a2 || a1 == "a" {
		t.Error("LogoutToken is not a function of the session ID alone")
	}
	if got := LinkPath("a/b c"); got != "/link/a%2Fb%20c" {
		t.Errorf("LinkPath = %q", got)
	}
}

// cookieOf returns the value rec set for name, and whether it deletes it.
func cookieOf(rec *httptest.ResponseRecorder, name string) (string, bool) {
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			return c.Value, c.MaxAge < 0
		}
	}
	return "", false
}

// A sign-in that ends a login transaction deletes it and its cookie; a
// second sign-in ending the same one is refused and sets no cookie.
func TestManagerSignInEndsLogin(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	m := &Manager{Store: st, SecureCookies: true, Now: func() time.Time { return now }}
	lt := &store.LoginTransaction{ID: TokenID("lt-token"), Purpose: store.PurposeLogin, CSRF: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := st.CreateLoginTransaction(context.Background(), lt); err != nil {
		t.Fatal(err)
	}
	signIn := func() (*httptest.ResponseRecorder, error) {
		rec := httptest.NewRecorder()
		s := &store.Session{UserID: "u1", AuthTime: now, AMR: []string{AMRPassword, AMROTP}}
		e := &store.AuditEvent{Time: now, Type: "login.success", ActorID: "u1", UserID: "u1"}
		return rec, m.SignIn(rec, httptest.NewRequest("POST", "/login/otp", nil), lt.ID, s, time.Hour, e)
	}
	rec, err := signIn()
	if err != nil {
		t.Fatal(err)
	}
	if _, deleted := cookieOf(rec, m.CookieName(TransactionCookie)); !deleted {
		t.Error("the sign-in kept the login transaction's cookie")
	}
	if token, _ := cookieOf(rec, m.CookieName(Cookie)); token == "" {
		t.Error("the sign-in set no session cookie")
	}
	if _, err := st.GetLoginTransaction(context.Background(), lt.ID, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("login transaction after the sign-in: %v, want ErrNotFound", err)
	}
	rec, err = signIn()
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second sign-in ending the same login: %v, want ErrNotFound", err)
	}
	if len(rec.Result().Cookies()) != 0 {
		t.Errorf("a refused sign-in set cookies: %v", rec.Result().Cookies())
	}
}

func TestManagerSignInCurrentEnd(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	m := &Manager{Store: st, SecureCookies: true, Now: func() time.Time { return now }}

	rec := httptest.NewRecorder()
	s := &store.Session{UserID: "u1", AuthTime: now, AMR: []string{AMRPassword, AMROTP}}
	e := &store.AuditEvent{Time: now, Type: "login.success", ActorID: "u1", UserID: "u1"}
	if err := m.SignIn(rec, httptest.NewRequest("GET", "/", nil), "", s, time.Hour, e); err != nil {
		t.Fatal(err)
	}
	if u, err := st.GetUser(context.Background(), "u1"); err != nil || !u.LastLoginAt.Equal(now) {
		t.Fatalf("after SignIn the user's last login is %v (%v), want %v", u.LastLoginAt, err, now)
	}
	if events, _, err := st.ListAudit(context.Background(), store.AuditFilter{UserID: "u1"}); err != nil || len(events) != 1 || events[0].ID != e.ID {
		t.Fatalf("after SignIn the audit log holds %v (%v), want the sign-in's event", events, err)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == Cookie {
			t.Error("a Secure session cookie must carry the __Host- prefix")
		}
	}
	token, _ := cookieOf(rec, "__Host-"+Cookie)
	if token == "" || s.ID != TokenID(token) {
		t.Fatalf("cookie %q for session %q", token, s.ID)
	}
	if c := rec.Result().Cookies()[0]; !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode {
		t.Errorf("cookie attributes: %+v", c)
	}

	// A cookie without the prefix, as a neighbouring subdomain could plant
	// it, is not read.
	planted := httptest.NewRequest("GET", "/", nil)
	planted.AddCookie(&http.Cookie{Name: Cookie, Value: token})
	if got, err := m.Current(planted); got != nil || err != nil {
		t.Errorf("a cookie without the __Host- prefix was taken: %+v, %v", got, err)
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: "__Host-" + Cookie, Value: token})
	got, err := m.Current(req)
	if err != nil || got == nil || got.UserID != "u1" {
		t.Fatalf("Current = %+v, %v", got, err)
	}
	if later, _ := (&Manager{Store: st, SecureCookies: true, Now: func() time.Time { return now.Add(2 * time.Hour) }}).Current(req); later != nil {
		t.Error("an expired session is still current")
	}

	lt := &store.LoginTransaction{ID: TokenID("lt-token"), Purpose: store.PurposeLogin, CSRF: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := st.CreateLoginTransaction(context.Background(), lt); err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: "__Host-" + TransactionCookie, Value: "lt-token"})
	rec = httptest.NewRecorder()
	ended, err := m.End(rec, req)
	if err != nil || ended == nil || ended.ID != s.ID {
		t.Fatalf("End = %+v, %v", ended, err)
	}
	if _, deleted := cookieOf(rec, "__Host-"+Cookie); !deleted {
		t.Error("End kept the session cookie")
	}
	if again, _ := m.Current(req); again != nil {
		t.Error("the session outlived End")
	}
	if _, err := st.GetLoginTransaction(context.Background(), lt.ID, now); err == nil {
		t.Error("the login in progress outlived End")
	}
}

func TestCurrentWithoutOrWithForgedCookie(t *testing.T) {
	t.Parallel()
	m := &Manager{Store: openStore(t)}
	for _, c := range []*http.Cookie{nil, {Name: Cookie, Value: ""}, {Name: Cookie, Value: "forged"}} {
		req := httptest.NewRequest("GET", "/", nil)
		if c != nil {
			req.AddCookie(c)
		}
		if s, err := m.Current(req); s != nil || err != nil {
			t.Errorf("cookie %+v: Current = %+v, %v", c, s, err)
		}
	}
}

func TestNeedsConsent(t *testing.T) {
	t.Parallel()
	st, ctx := openStore(t), context.Background()
	if err := st.CreateClient(ctx, &store.Client{ID: "c", Name: "C", RedirectURIs: []string{"https://a/cb"}, GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid", "email"}}); err != nil {
		t.Fatal(err)
	}
	need := func(scopes ...string) bool {
		t.Helper()
		n, err := NeedsConsent(ctx, st, "u1", "c", scopes)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if !need("openid") || need() {
		t.Error("without a grant: consent needed exactly when scopes are asked")
	}
	if err := st.PutConsent(ctx, &store.Consent{UserID: "u1", ClientID: "c", Scopes: []string{"openid"}, GrantedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	if need("openid") || !need("openid", "email") {
		t.Error("a grant covers its scopes and no others")
	}
}

func TestSessionsListedTouchedAndEndedElsewhere(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	m := &Manager{Store: st, Now: func() time.Time { return now }}

	signIn := func(ua string) (*store.Session, *http.Request) {
		t.Helper()
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("User-Agent", ua)
		rec := httptest.NewRecorder()
		s := &store.Session{UserID: "u1", AuthTime: now, IP: "192.0.2.1"}
		if err := m.SignIn(rec, r, "", s, time.Hour, &store.AuditEvent{Time: now, Type: "login.success", UserID: "u1"}); err != nil {
			t.Fatal(err)
		}
		token, _ := cookieOf(rec, Cookie)
		req := httptest.NewRequest("GET", "/account", nil)
		req.AddCookie(&http.Cookie{Name: Cookie, Value: token})
		now = now.Add(time.Second)
		return s, req
	}
	laptop, laptopReq := signIn("Laptop browser")
	phone, phoneReq := signIn("Phone browser " + string(make([]byte, 1000)))
	if len(phone.UserAgent) > maxUserAgent {
		t.Errorf("user agent kept at %d bytes", len(phone.UserAgent))
	}

	list, err := m.List(ctx, "u1")
	if err != nil || len(list) != 2 || list[0].ID != phone.ID || list[1].UserAgent != "Laptop browser" || list[1].IP != "192.0.2.1" {
		t.Fatalf("List = %+v, %v", list, err)
	}

	// Seen again within minutes: no write; later: LastSeenAt moves.
	now = now.Add(time.Minute)
	if s, _ := m.Current(laptopReq); !s.LastSeenAt.Equal(laptop.LastSeenAt) {
		t.Errorf("LastSeenAt written after a minute: %v", s.LastSeenAt)
	}
	now = now.Add(touchEvery)
	if s, _ := m.Current(laptopReq); !s.LastSeenAt.Equal(now) {
		t.Errorf("LastSeenAt = %v, want %v", s.LastSeenAt, now)
	}
	if s, _ := st.GetSession(ctx, laptop.ID, now); !s.LastSeenAt.Equal(now) {
		t.Errorf("stored LastSeenAt = %v, want %v", s.LastSeenAt, now)
	}

	// Signing out everywhere else from the laptop ends the phone's session:
	// its next request has none.
	n, err := m.EndOthers(ctx, "u1", laptop.ID)
	if err != nil || n != 1 {
		t.Fatalf("EndOthers = %d, %v", n, err)
	}
	if s, _ := m.Current(phoneReq); s != nil {
		t.Error("the phone is still signed in")
	}
	if s, _ := m.Current(laptopReq); s == nil {
		t.Error("the laptop was signed out too")
	}
	// Ending a session that is gone already is no error.
	if err := m.EndSession(ctx, phone); err != nil {
		t.Errorf("EndSession of an ended session: %v", err)
	}
}

func TestHandleAndFormTokenHideTheStoreID(t *testing.T) {
	id := TokenID("cookie")
	if h := Handle(id); h == id || len(h) != 24 || h != Handle(id) || h == Handle(TokenID("other")) {
		t.Errorf("Handle(%q) = %q", id, h)
	}
	if f := FormToken(id); f == id || f == LogoutToken(id) || f != FormToken(id) {
		t.Errorf("FormToken(%q) = %q", id, f)
	}
}
