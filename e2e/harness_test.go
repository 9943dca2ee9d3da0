// Package e2e runs the real authz server over HTTP and drives it the way relying
// applications (coreos/go-oidc, golang.org/x/oauth2) and browsers do.
package e2e

import (
	"context"
	"database/sql"
	"encoding/base64"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/net/html"

	"github.com/authz/authz/internal/config"
	"github.com/authz/authz/internal/mfa"
	"github.com/authz/authz/internal/server"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/testsupport/clienttransport"
	"github.com/authz/authz/internal/testsupport/pgtest"
	"github.com/authz/authz/internal/testsupport/sqlitetest"
	"github.com/authz/authz/internal/testsupport/testkeys"
)

// backends are the stores every end-to-end test runs on.
var backends = []string{"sqlite", "postgres"}

// forEachStore runs fn once per backend, the two in parallel: each has a
// server and a store of its own.
func forEachStore(t *testing.T, fn func(t *testing.T, backend string)) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			fn(t, b)
		})
	}
}

// clock is the time of one authz under test: real time plus an offset that
// the test moves forward instead of sleeping (server.WithClock). It never
// moves back, since fosite inside the server keeps reading real time; and
// fosite refuses an auth_time more than 5 s ahead of real time, so once it is
// further ahead, no login whose password step comes later can finish an
// authorization request.
type clock struct {
	offset atomic.Int64 // nanoseconds ahead of real time
}

func (c *clock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// advance moves the clock d forward.
func (c *clock) advance(d time.Duration) {
	if d < 0 {
		panic("e2e: a clock moves only forward")
	}
	c.offset.Add(int64(d))
}

// instance is one running authz.
type instance struct {
	t       *testing.T
	App     *server.App
	URL     string // the issuer
	DataDir string
	clock   *clock
}

// startServer runs authz on a fresh store of backend, on a random loopback port.
// Extra flags are configuration flags (e.g. "--tokens-code-ttl", "2s").
func startServer(t *testing.T, backend string, extra ...string) *instance {
	t.Helper()
	var args []string
	dir := t.TempDir()
	if backend == "postgres" {
		args = append(args, "--database-url", pgtest.URL(t))
	} else {
		sqlitetest.Place(t, filepath.Join(dir, "authz.db"))
	}
	return startServerArgs(t, dir, "127.0.0.1", append(args, extra...)...)
}

// startServerArgs runs authz with its data in dir, addressed by host (its
// issuer is http://host:port), with extra configuration flags, on a clock of
// its own.
func startServerArgs(t *testing.T, dir, host string, args ...string) *instance {
	t.Helper()
	return startServerClock(t, &clock{}, dir, host, args...)
}

// startServerClock is startServerArgs on clk, which replicas of one
// deployment share.
func startServerClock(t *testing.T, clk *clock, dir, host string, args ...string) *instance {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	issuer := "http://" + net.JoinHostPort(host, port)
	cfg := loadConfig(t, append([]string{"--data-dir", dir, "--issuer", issuer, "--listen", ln.Addr().String(),
		"--password-memory-kib", "1024", "--password-iterations", "1"}, args...)...)
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	app, err := server.Open(context.Background(), cfg, log, io.Discard, server.WithClock(clk.now), server.WithKeyGenerator(testkeys.Generator()))
	if err != nil {
		t.Fatalf("open server: %v", err)
	}
	app.StartBackchannel() // as serve does
	srv := &http.Server{Handler: app.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = app.Close()
	})
	return &instance{t: t, App: app, URL: issuer, DataDir: dir, clock: clk}
}

func loadConfig(t testing.TB, args ...string) *config.Config {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	l := config.Register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	cfg, err := l.Load(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// testWriter sends server logs to the test log, so they show only on failure.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// clientSpec describes a relying application to register.
type clientSpec struct {
	Public      bool
	SkipConsent bool
	Grants      []string
	Scopes      []string
	IDTokenAlg  string // id_token_signed_response_alg; "" for the server's
}

const callbackURL = "http://127.0.0.1:9/callback"
const postLogoutURL = "http://127.0.0.1:9/bye"

// createClient registers a client and returns its id and secret.
func (in *instance) createClient(spec clientSpec) (id, secret string) {
	in.t.Helper()
	return in.createClientWith(spec, callbackURL)
}

// createClientWith registers a client with one redirect URI.
func (in *instance) createClientWith(spec clientSpec, redirect string) (id, secret string) {
	in.t.Helper()
	if spec.Grants == nil {
		spec.Grants = []string{"authorization_code", "refresh_token"}
	}
	if spec.Scopes == nil {
		spec.Scopes = []string{"openid", "profile", "email", "offline_access"}
	}
	c := &store.Client{ID: store.NewID(), Name: "Test App", Public: spec.Public, RedirectURIs: []string{redirect},
		PostLogoutRedirectURIs: []string{postLogoutURL}, GrantTypes: spec.Grants, Scopes: spec.Scopes,
		SkipConsent: spec.SkipConsent, IDTokenAlg: spec.IDTokenAlg, CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()}
	if !spec.Public {
		var err error
		secret, c.SecretHash, err = in.App.Provider.Hasher().NewClientSecret()
		if err != nil {
			in.t.Fatal(err)
		}
	}
	if err := in.App.Store.CreateClient(context.Background(), c); err != nil {
		in.t.Fatal(err)
	}
	return c.ID, secret
}

// testUser is a local account made for a test.
type testUser struct {
	*store.User
	Password  string
	OTPSecret string // set when an authenticator is enrolled
}

// createUser stores a user with a password; with enrolled, also an authenticator.
func (in *instance) createUser(username string, enrolled bool) *testUser {
	in.t.Helper()
	ctx := context.Background()
	pw := "pw-" + username + "-secret"
	hash, err := in.App.Passwords.Hash(ctx, pw)
	if err != nil {
		in.t.Fatal(err)
	}
	now := time.Now().UTC()
	u := &store.User{ID: store.NewID(), Username: username, Email: username + "@example.test", FirstName: "Test", LastName: strings.ToUpper(username[:1]) + username[1:],
		PasswordHash: hash, Enabled: true, OTPRequired: enrolled, Role: store.RoleUser, CreatedAt: now, UpdatedAt: now}
	if err := in.App.Store.CreateUser(ctx, u); err != nil {
		in.t.Fatal(err)
	}
	tu := &testUser{User: u, Password: pw}
	if enrolled {
		tu.OTPSecret = in.enroll(u.ID)
	}
	return tu
}

// enroll gives userID an authenticator directly in the store.
func (in *instance) enroll(userID string) string {
	in.t.Helper()
	secret, err := mfa.NewSecret()
	if err != nil {
		in.t.Fatal(err)
	}
	sealed, err := in.App.Sealer.Seal([]byte(secret), []byte("otp:"+userID))
	if err != nil {
		in.t.Fatal(err)
	}
	if err := in.App.Store.CreateOTPCredential(context.Background(), &store.OTPCredential{UserID: userID, SealedSecret: sealed, CreatedAt: time.Now().UTC()}); err != nil {
		in.t.Fatal(err)
	}
	return secret
}

// browser is a cookie-carrying HTTP client that stops at the relying party's
// callback, as a browser would hand it over to the application.
type browser struct {
	t      *testing.T
	client *http.Client
}

func newBrowser(t *testing.T) *browser { return newBrowserAt(t, "") }

// newBrowserAt is a browser at client address addr, which it names in
// X-Forwarded-For (believed by a server started with --trusted-proxies
// 127.0.0.1); "" names none.
func newBrowserAt(t *testing.T, addr string) *browser {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second, Transport: forwardedFor(addr)}
	c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if req.URL.Host == "127.0.0.1:9" {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return &browser{t: t, client: c}
}

// forwardedFor is a transport that says its requests come from addr.
func forwardedFor(addr string) http.RoundTripper {
	if addr == "" {
		return clienttransport.Transport()
	}
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		req = req.Clone(req.Context())
		req.Header.Set("X-Forwarded-For", addr)
		return clienttransport.Transport().RoundTrip(req)
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// countRows counts the rows of table with SQL of its own, so that a test sees
// what is stored, not only what the store's methods show.
func (in *instance) countRows(table string) int {
	in.t.Helper()
	ctx := context.Background()
	q := "SELECT count(*) FROM " + table
	var n int
	var err error
	if dbURL := in.App.Config.DatabaseURL; dbURL != "" {
		var conn *pgx.Conn
		if conn, err = pgx.Connect(ctx, dbURL); err == nil {
			err = conn.QueryRow(ctx, q).Scan(&n)
			conn.Close(ctx)
		}
	} else {
		var db *sql.DB
		if db, err = sql.Open("sqlite", in.App.Config.SQLitePath()+"?_pragma=busy_timeout(5000)"); err == nil {
			err = db.QueryRowContext(ctx, q).Scan(&n)
			db.Close()
		}
	}
	if err != nil {
		in.t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// page is a fetched response with its body.
type page struct {
	Status int
	URL    *url.URL
	Body   string
	Header http.Header
}

func (b *browser) do(req *http.Request) *page {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	u := resp.Request.URL
	// A redirect to the relying party ends the walk: report where it points.
	if loc, err := resp.Location(); err == nil && resp.StatusCode/100 == 3 {
		u = loc
	}
	return &page{Status: resp.StatusCode, URL: u, Body: string(body), Header: resp.Header}
}

func (b *browser) get(rawURL string) *page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(rawURL string, form url.Values) *page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, rawURL, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// submit fills the form of p whose action is action with fields (hidden inputs
// are kept) and posts it.
func (b *browser) submit(p *page, action string, fields url.Values) *page {
	b.t.Helper()
	form := formValues(b.t, p.Body, action)
	for k, v := range fields {
		form[k] = v
	}
	target := p.URL.ResolveReference(&url.URL{Path: action})
	return b.post(target.String(), form)
}

// formValues returns the values of the inputs of the form with action.
func formValues(t *testing.T, body, action string) url.Values {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var form *html.Node
	var find func(*html.Node)
	find = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "form" && attr(n, "action") == action {
			form = n
		}
		for c := n.FirstChild; c != nil && form == nil; c = c.NextSibling {
			find(c)
		}
	}
	find(doc)
	if form == nil {
		t.Fatalf("no form with action %q in page:\n%s", action, body)
	}
	values := url.Values{}
	var collect func(*html.Node)
	collect = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "input" && attr(n, "name") != "" {
			if typ := attr(n, "type"); typ != "checkbox" || hasAttr(n, "checked") {
				values.Set(attr(n, "name"), attr(n, "value"))
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			collect(c)
		}
	}
	collect(form)
	return values
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

// loginWithPassword submits the password form on p.
func (b *browser) loginWithPassword(p *page, username, password string) *page {
	b.t.Helper()
	return b.submit(p, "/login/password", url.Values{"username": {username}, "password": {password}})
}

// currentCode returns the authenticator's code at in's clock. When this test
// already used the current time step (the server refuses a step twice), it
// first moves in's clock to the start of the next step, as waiting for it
// would.
func currentCode(t *testing.T, in *instance, secret string, used map[int64]bool) string {
	t.Helper()
	now := in.clock.now()
	if step := mfa.Step(now); used[step] {
		next := time.Unix(0, 0).Add(time.Duration(step+1) * mfa.Period)
		in.clock.advance(next.Sub(now))
		now = in.clock.now()
	}
	used[mfa.Step(now)] = true
	return otpCode(t, secret, now)
}

// otpCode is the authenticator's code for secret at the time at.
func otpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := mfa.Code(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// sessionCookie returns the browser's authz session cookie value for in, or "".
func (b *browser) sessionCookie(in *instance) string {
	u, _ := url.Parse(in.URL)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == session.Cookie {
			return c.Value
		}
	}
	return ""
}

func TestMain(m *testing.M) {
	clienttransport.Isolate()
	os.Exit(m.Run())
}

func base64URLDecode(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// postAsClient POSTs form to path, authenticated as the client with HTTP
// Basic, and returns the status.
func (in *instance) postAsClient(path, id, secret string, form url.Values) int {
	in.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, in.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
