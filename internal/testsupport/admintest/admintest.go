// Package admintest builds what the tests of the admin console and of the
// admin API share: authz's administration on a real store (SQLite, and
// PostgreSQL when configured) behind a real HTTP server, with the login
// pipeline and the OpenID provider mounted beside the handlers under test, an
// administrator signed in with a one-time code, and a mail sender that can be
// made to fail.
package admintest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/clientip"
	"github.com/authz/authz/internal/i18n"
	"github.com/authz/authz/internal/login"
	"github.com/authz/authz/internal/mail"
	"github.com/authz/authz/internal/mfa"
	"github.com/authz/authz/internal/oauth"
	"github.com/authz/authz/internal/password"
	"github.com/authz/authz/internal/seal"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/store/postgres"
	"github.com/authz/authz/internal/testsupport/pgtest"
	"github.com/authz/authz/internal/testsupport/sqlitetest"
	"github.com/authz/authz/internal/testsupport/testkeys"
)

// Issuer is the public base URL of the server under test; e-mailed links
// start with it.
const Issuer = "http://authz.test"

// Env is the administration on a real store behind a real HTTP server.
type Env struct {
	T        *testing.T
	Store    store.Store
	Server   *httptest.Server
	Mail     *Mail
	Sessions *session.Manager
	Login    *login.Pipeline
	Provider *oauth.Provider
	// Sealer seals the upstream providers' client secrets.
	Sealer *seal.Sealer
	// Service is the admin service the mounted handlers share.
	Service *admin.Service
	Log     *slog.Logger
	// Admin is an enabled administrator; Cookie is their session, opened
	// with a password and a one-time code.
	Admin  *store.User
	Cookie string
}

// ForEachStore runs fn against a fresh SQLite store and, when pgtest provides
// one, a fresh PostgreSQL database. mount registers the handlers under test
// on the server's mux and returns the test's own view of the Env.
func ForEachStore[E any](t *testing.T, mount func(e *Env, mux *http.ServeMux) E, fn func(t *testing.T, e E)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		s := sqlitetest.Open(t)
		fn(t, start(t, s, mount))
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
		fn(t, start(t, s, mount))
	})
}

func start[E any](t *testing.T, st store.Store, mount func(e *Env, mux *http.ServeMux) E) E {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	sealer, err := seal.New(make([]byte, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	sessions := &session.Manager{Store: st}
	p := &login.Pipeline{
		Store: st, Sessions: sessions, Passwords: password.NewHasher(password.Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}),
		OTP: mfa.NewVerifier(st, sealer), Log: log, SessionTTL: time.Hour, TransactionTTL: 30 * time.Minute,
		OTPIssuer: "authz test",
	}
	outbox := mail.NewOutbox(100)
	m := &Mail{sender: mail.NewLogSender(log, outbox), Outbox: outbox}
	prov := newProvider(t, st, sealer, sessions, p, log)
	e := &Env{T: t, Store: st, Mail: m, Sessions: sessions, Login: p, Provider: prov, Sealer: sealer, Log: log,
		Service: &admin.Service{Store: st, Mail: m, Issuer: Issuer, Log: log, Sealer: sealer, Secrets: prov.Hasher()}}
	mux := http.NewServeMux()
	p.Register(mux)
	prov.Register(mux)
	mounted := mount(e, mux)
	// The language middleware as the server has it: pages follow the
	// request's Accept-Language and language cookie.
	h := http.NewCrossOriginProtection().Handler(i18n.Middleware("", time.UTC, false, mux))
	e.Server = httptest.NewServer(clientip.Resolver{}.Middleware(h))
	t.Cleanup(e.Server.Close)
	e.Admin = e.CreateUser("root", "root@example.com", store.RoleAdmin, true)
	e.Cookie = e.Session(e.Admin.ID, "pwd", "otp", "mfa")
	return mounted
}

// newProvider is the OpenID provider whose client_credentials tokens the API
// accepts.
func newProvider(t *testing.T, st store.Store, sealer *seal.Sealer, sessions *session.Manager, p *login.Pipeline, log *slog.Logger) *oauth.Provider {
	t.Helper()
	keys := oauth.NewKeySet(st, sealer)
	keys.Generate = testkeys.Generator()
	if err := keys.Ensure(context.Background(), "ES256"); err != nil {
		t.Fatalf("signing key: %v", err)
	}
	key := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	prov := oauth.NewProvider(oauth.Config{Issuer: Issuer, AccessTokenTTL: time.Hour, RefreshTokenTTL: time.Hour,
		AuthorizeCodeTTL: time.Minute, IDTokenTTL: time.Hour, HMACSecret: key(1), ClientSecretKey: key(2)}, st, keys, sessions, p, log)
	p.Resume = prov
	return prov
}

// Mail delivers through a LogSender into Outbox, or fails with the error
// given to Fail.
type Mail struct {
	mu     sync.Mutex
	err    error
	sender *mail.LogSender
	// Outbox holds the messages delivered, newest first.
	Outbox *mail.Outbox
}

// Send implements mail.Sender.
func (m *Mail) Send(ctx context.Context, msg mail.Message) error {
	m.mu.Lock()
	err := m.err
	m.mu.Unlock()
	if err != nil {
		return err
	}
	return m.sender.Send(ctx, msg)
}

// Fail makes every later Send fail with err; nil repairs the sender.
func (m *Mail) Fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.err = err
}

// CreateUser stores a user with a creation time an hour ago and returns it
// as read back.
func (e *Env) CreateUser(username, email, role string, otp bool) *store.User {
	e.T.Helper()
	now := time.Now().UTC().Add(-time.Hour)
	u := &store.User{ID: store.NewID(), Username: username, Email: email, Enabled: true, OTPRequired: otp, Role: role, CreatedAt: now, UpdatedAt: now}
	if err := e.Store.CreateUser(context.Background(), u); err != nil {
		e.T.Fatalf("CreateUser %s: %v", username, err)
	}
	// Read back: the store keeps times to the microsecond.
	return e.User(u.ID)
}

// Session creates a browser session of userID with the authentication
// methods amr and returns its cookie value.
func (e *Env) Session(userID string, amr ...string) string {
	e.T.Helper()
	token, id := session.NewToken()
	now := time.Now().UTC()
	s := &store.Session{ID: id, UserID: userID, AuthTime: now, AMR: amr, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := e.Store.CreateSession(context.Background(), s); err != nil {
		e.T.Fatalf("CreateSession: %v", err)
	}
	return token
}

// CSRF is the CSRF token of the session with cookie, computed as the spec
// says, independently of the code under test.
func CSRF(cookie string) string {
	sum := sha256.Sum256([]byte("admin-csrf:" + session.TokenID(cookie)))
	return hex.EncodeToString(sum[:])
}

// Response is an answer of the server, read whole.
type Response struct {
	Status   int
	Body     string
	Location string
	Header   http.Header
}

// Do sends req with the session cookie (none if empty) and does not follow
// redirects.
func (e *Env) Do(req *http.Request, cookie string) Response {
	e.T.Helper()
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: session.Cookie, Value: cookie})
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		e.T.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return Response{Status: res.StatusCode, Body: string(b), Location: res.Header.Get("Location"), Header: res.Header}
}

// GetAs gets path with the session cookie.
func (e *Env) GetAs(cookie, path string) Response {
	e.T.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.Server.URL+path, nil)
	return e.Do(req, cookie)
}

// Get gets path as the administrator.
func (e *Env) Get(path string) Response { e.T.Helper(); return e.GetAs(e.Cookie, path) }

// PostRaw posts form as is, without adding a CSRF token.
func (e *Env) PostRaw(cookie, path string, form url.Values) Response {
	e.T.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.Server.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.Do(req, cookie)
}

// Post posts form as the administrator with the right CSRF token.
func (e *Env) Post(path string, form url.Values) Response {
	e.T.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", CSRF(e.Cookie))
	return e.PostRaw(e.Cookie, path, form)
}

// User reads user id from the store.
func (e *Env) User(id string) *store.User {
	e.T.Helper()
	u, err := e.Store.GetUser(context.Background(), id)
	if err != nil {
		e.T.Fatalf("GetUser %s: %v", id, err)
	}
	return u
}

// UserByName reads the user called name from the store.
func (e *Env) UserByName(name string) *store.User {
	e.T.Helper()
	u, err := e.Store.GetUserByUsername(context.Background(), name)
	if err != nil {
		e.T.Fatalf("GetUserByUsername %s: %v", name, err)
	}
	return u
}

// CountUsers counts the stored users.
func (e *Env) CountUsers() int {
	e.T.Helper()
	n, err := e.Store.CountUsers(context.Background(), "")
	if err != nil {
		e.T.Fatal(err)
	}
	return n
}

// AuditTypes lists the types of the audit events about userID, newest
// first, and checks that the administrator did each from the loopback
// address.
func (e *Env) AuditTypes(userID string) []string {
	e.T.Helper()
	evs, _, err := e.Store.ListAudit(context.Background(), store.AuditFilter{UserID: userID, Limit: 100})
	if err != nil {
		e.T.Fatalf("ListAudit: %v", err)
	}
	var out []string
	for _, ev := range evs {
		if ev.ActorID != e.Admin.ID {
			e.T.Errorf("audit %s has actor %q, want the admin", ev.Type, ev.ActorID)
		}
		if ev.IP != "127.0.0.1" {
			e.T.Errorf("audit %s has IP %q, want 127.0.0.1", ev.Type, ev.IP)
		}
		out = append(out, ev.Type)
	}
	return out
}

// AddEvent appends an audit event of typ about userID at t.
func (e *Env) AddEvent(typ, userID, detail string, t time.Time) {
	e.T.Helper()
	if err := e.Store.AppendAudit(context.Background(), &store.AuditEvent{Time: t, Type: typ, UserID: userID, Detail: detail}); err != nil {
		e.T.Fatal(err)
	}
}

// AddCredential gives userID an enrolled authenticator, created 2025-03-04
// 05:06:07 UTC.
func (e *Env) AddCredential(userID string) {
	e.T.Helper()
	c := &store.OTPCredential{UserID: userID, SealedSecret: []byte("sealed"), CreatedAt: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)}
	if err := e.Store.CreateOTPCredential(context.Background(), c); err != nil {
		e.T.Fatalf("CreateOTPCredential: %v", err)
	}
}

// HasCredential reports whether userID has an authenticator.
func (e *Env) HasCredential(userID string) bool {
	e.T.Helper()
	_, err := e.Store.GetOTPCredential(context.Background(), userID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		e.T.Fatal(err)
	}
	return err == nil
}

// SecretWorks reports whether secret is the current secret of client id.
func (e *Env) SecretWorks(id, secret string) bool {
	e.T.Helper()
	c, err := e.Store.GetClient(context.Background(), id)
	if err != nil {
		e.T.Fatal(err)
	}
	return e.Provider.Hasher().Compare(context.Background(), c.SecretHash, []byte(secret)) == nil
}

// DiscoveryServer starts a minimal upstream OpenID provider, serving its
// discovery document only, and returns its issuer URL.
func DiscoveryServer(t *testing.T) string {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": srv.URL, "authorization_endpoint": srv.URL + "/auth", "token_endpoint": srv.URL + "/token",
			"userinfo_endpoint": srv.URL + "/userinfo", "jwks_uri": srv.URL + "/jwks",
			"scopes_supported": []string{"openid", "email"}, "id_token_signing_alg_values_supported": []string{"RS256"},
		})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
