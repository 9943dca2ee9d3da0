package login

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/clientip"
	"github.com/authz/authz/internal/mfa"
	"github.com/authz/authz/internal/password"
	"github.com/authz/authz/internal/seal"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/store/postgres"
	"github.com/authz/authz/internal/testsupport/pgtest"
	"github.com/authz/authz/internal/testsupport/sqlitetest"
	"github.com/authz/authz/internal/throttle"
)

// forEachStore runs fn on a fresh SQLite store and, when PostgreSQL is
// configured, on a fresh PostgreSQL database.
func forEachStore(t *testing.T, fn func(t *testing.T, st store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		st := sqlitetest.Open(t)
		fn(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		st, err := postgres.Open(context.Background(), pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if err := st.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		fn(t, st)
	})
}

// loginServer serves the pipeline on st; a request's client address is its
// X-Test-Addr header, so one test can play many addresses.
type loginServer struct {
	t   *testing.T
	st  store.Store
	p   *Pipeline
	srv *httptest.Server
}

func newLoginServer(t *testing.T, st store.Store) *loginServer {
	t.Helper()
	now := time.Now().UTC()
	sealer, err := seal.New(make([]byte, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	p := &Pipeline{Store: st, Sessions: &session.Manager{Store: st}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OTP:        mfa.NewVerifier(st, sealer),
		Passwords:  password.NewHasher(password.Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}),
		SessionTTL: time.Hour, TransactionTTL: time.Hour}
	mux := http.NewServeMux()
	p.Register(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r.WithContext(clientip.NewContext(r.Context(), r.Header.Get("X-Test-Addr"))))
	}))
	t.Cleanup(srv.Close)
	hash, err := p.Passwords.Hash(context.Background(), "right password")
	if err != nil {
		t.Fatal(err)
	}
	u := &store.User{ID: store.NewID(), Username: "ann", Email: "ann@example.com", PasswordHash: hash, Enabled: true, Role: store.RoleUser, CreatedAt: now, UpdatedAt: now}
	if err := st.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return &loginServer{t: t, st: st, p: p, srv: srv}
}

// ann returns the server's user, as stored now.
func (s *loginServer) ann() *store.User {
	s.t.Helper()
	u, err := s.st.GetUserByUsername(context.Background(), "ann")
	if err != nil {
		s.t.Fatal(err)
	}
	return u
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn opens the login page and posts name and pw from addr in a new
// browser, returning the status of the answer.
func (s *loginServer) signIn(addr, name, pw string) int {
	s.t.Helper()
	status, _ := s.browse(addr, name, pw)
	return status
}

// browse is signIn that also returns the browser, to go on with the next
// step: do(method, path, form) posts with the page's CSRF secret.
func (s *loginServer) browse(addr, name, pw string) (int, func(method, path string, form url.Values) (int, string)) {
	s.t.Helper()
	jar, _ := cookiejar.New(nil)
	return s.browseIn(jar, addr, name, pw)
}

// browseIn is browse in a browser that keeps its cookies in jar.
func (s *loginServer) browseIn(jar http.CookieJar, addr, name, pw string) (int, func(method, path string, form url.Values) (int, string)) {
	s.t.Helper()
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var csrf string
	do := func(method, path string, form url.Values) (int, string) {
		if form != nil && csrf != "" {
			form.Set("csrf", csrf)
		}
		req, _ := http.NewRequest(method, s.srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Test-Addr", addr)
		resp, err := c.Do(req)
		if err != nil {
			s.t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	_, body := do("GET", "/login", nil)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		s.t.Fatalf("no CSRF field on the login page:\n%s", body)
	}
	status, _ := do("POST", "/login/password", url.Values{"csrf": {m[1]}, "username": {name}, "password": {pw}})
	csrf = m[1]
	return status, do
}

// TestPasswordLockoutFollowsTheAccount: the lock belongs to the user the name
// found, so the e-mail address does not get around a lock earned with the
// username.
func TestPasswordLockoutFollowsTheAccount(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		s := newLoginServer(t, st)
		for i := range throttle.Password.Free + 1 {
			if got := s.signIn("192.0.2.1", "ann", "wrong"); got != http.StatusUnauthorized {
				t.Fatalf("wrong password %d: %d", i+1, got)
			}
		}
		if got := s.signIn("192.0.2.1", "ann", "right password"); got != http.StatusTooManyRequests {
			t.Errorf("locked username: %d, want 429", got)
		}
		if got := s.signIn("192.0.2.1", "ann@example.com", "right password"); got != http.StatusTooManyRequests {
			t.Errorf("the same account by e-mail: %d, want 429", got)
		}
	})
}

// TestOneAddressCannotLockAnAccountForEveryone: the lock earned from one
// address holds there, not for the user elsewhere; failures spread over many
// addresses still reach the account's ceiling.
func TestOneAddressCannotLockAnAccountForEveryone(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		s := newLoginServer(t, st)
		for range throttle.Password.Free + 1 {
			s.signIn("192.0.2.66", "ann", "wrong")
		}
		if got := s.signIn("192.0.2.66", "ann", "right password"); got != http.StatusTooManyRequests {
			t.Fatalf("the failing address: %d, want 429", got)
		}
		if got := s.signIn("198.51.100.7", "ann", "right password"); got != http.StatusSeeOther {
			t.Fatalf("the user from another address: %d, want 303", got)
		}
		// The success reset the account's count; now spread guesses over
		// addresses, each staying under its own limit.
		for n, a := 0, 0; n <= throttle.PasswordAccount.Free; a++ {
			for range throttle.Password.Free {
				s.signIn("203.0.113."+strconv.Itoa(a), "ann", "wrong")
				n++
			}
		}
		if got := s.signIn("198.51.100.8", "ann", "right password"); got != http.StatusTooManyRequests {
			t.Errorf("after %d failures over many addresses: %d, want 429", throttle.PasswordAccount.Free+1, got)
		}
	})
}

// TestKnownBrowserIsSparedTheAccountLock: guesses spread over many
// addresses lock the account everywhere, but not in a browser its owner
// signed in with before, from whichever address; a note that is forged or
// about another account spares nothing.
func TestKnownBrowserIsSparedTheAccountLock(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		s := newLoginServer(t, st)
		hash, _ := s.p.Passwords.Hash(context.Background(), "bob's password")
		now := time.Now().UTC()
		if err := st.CreateUser(context.Background(), &store.User{ID: store.NewID(), Username: "bob", Email: "bob@example.com", PasswordHash: hash, Enabled: true, Role: store.RoleUser, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		owners, _ := cookiejar.New(nil)
		if got, _ := s.browseIn(owners, "198.51.100.1", "ann", "right password"); got != http.StatusSeeOther {
			t.Fatalf("the owner's first sign-in: %d", got)
		}
		bobs, _ := cookiejar.New(nil)
		if got, _ := s.browseIn(bobs, "198.51.100.2", "bob", "bob's password"); got != http.StatusSeeOther {
			t.Fatalf("bob's sign-in: %d", got)
		}
		forged, _ := cookiejar.New(nil)
		base, _ := url.Parse(s.srv.URL)
		forged.SetCookies(base, []*http.Cookie{{Name: session.DeviceCookie, Value: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}})

		for n, a := 0, 0; n <= throttle.PasswordAccount.Free; a++ {
			for range throttle.Password.Free {
				s.signIn("203.0.113."+strconv.Itoa(a), "ann", "wrong")
				n++
			}
		}
		if got := s.signIn("198.51.100.8", "ann", "right password"); got != http.StatusTooManyRequests {
			t.Fatalf("a new browser after the spread guesses: %d, want 429", got)
		}
		for name, jar := range map[string]http.CookieJar{"forged note": forged, "another account's browser": bobs} {
			if got, _ := s.browseIn(jar, "198.51.100.9", "ann", "right password"); got != http.StatusTooManyRequests {
				t.Errorf("%s: %d, want 429", name, got)
			}
		}
		if got, _ := s.browseIn(owners, "198.51.100.10", "ann", "right password"); got != http.StatusSeeOther {
			t.Errorf("the owner's browser, from a new address: %d, want 303", got)
		}
		// The owner's sign-in there left the account's lock as it was.
		if got := s.signIn("198.51.100.11", "ann", "right password"); got != http.StatusTooManyRequests {
			t.Errorf("a new browser after the owner's sign-in in a known one: %d, want 429", got)
		}
	})
}

// TestKnownBrowserNoteHasItsOwnLock: a copied note guesses under a lock of
// its own, as strict as the account's, from any number of addresses; and a
// new password voids every note made before it.
func TestKnownBrowserNoteHasItsOwnLock(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		s := newLoginServer(t, st)
		owners, _ := cookiejar.New(nil)
		if got, _ := s.browseIn(owners, "198.51.100.1", "ann", "right password"); got != http.StatusSeeOther {
			t.Fatalf("the owner's first sign-in: %d", got)
		}
		// The guess past the free ones still runs, and locks (Backoff.Charge).
		for a := range throttle.PasswordAccount.Free + 1 {
			if got, _ := s.browseIn(owners, "203.0.113."+strconv.Itoa(a%250), "ann", "wrong"); got == http.StatusTooManyRequests {
				t.Fatalf("guess %d with the note was locked before the note's free guesses ran out", a)
			}
		}
		if got, _ := s.browseIn(owners, "192.0.2.1", "ann", "right password"); got != http.StatusTooManyRequests {
			t.Errorf("the note after %d wrong guesses: %d, want 429", throttle.PasswordAccount.Free+1, got)
		}
		if got := s.signIn("192.0.2.2", "ann", "right password"); got != http.StatusSeeOther {
			t.Errorf("a new browser while the note is locked: %d, want 303 (the account's own lock is untouched)", got)
		}
	})
}

// TestNewPasswordVoidsKnownBrowsers: a browser known to the account with its
// old password is a stranger once the password changes.
func TestNewPasswordVoidsKnownBrowsers(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		s := newLoginServer(t, st)
		ctx := context.Background()
		owners, _ := cookiejar.New(nil)
		if got, _ := s.browseIn(owners, "198.51.100.1", "ann", "right password"); got != http.StatusSeeOther {
			t.Fatalf("the owner's first sign-in: %d", got)
		}
		for n, a := 0, 0; n <= throttle.PasswordAccount.Free; a++ {
			for range throttle.Password.Free {
				s.signIn("203.0.113."+strconv.Itoa(a), "ann", "wrong")
				n++
			}
		}
		if got, _ := s.browseIn(owners, "198.51.100.2", "ann", "right password"); got != http.StatusSeeOther {
			t.Fatalf("the known browser under the account's lock: %d, want 303", got)
		}
		u := s.ann()
		hash, _ := s.p.Passwords.Hash(ctx, "a new password")
		if err := s.p.replacePassword(ctx, u.ID, hash); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.browseIn(owners, "198.51.100.3", "ann", "a new password"); got != http.StatusTooManyRequests {
			t.Errorf("the once-known browser after a new password: %d, want 429", got)
		}
	})
}

// TestImpossibleUsernamesAreBadRequests: a NUL byte or invalid UTF-8 is a
// client's mistake on every store, never a database error.
func TestImpossibleUsernamesAreBadRequests(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		s := newLoginServer(t, st)
		for _, name := range []string{"ann\x00", "\xff\xfeann", "a\x1bb", strings.Repeat("a", 257)} {
			if got := s.signIn("192.0.2.1", name, "x"); got != http.StatusBadRequest {
				t.Errorf("username %q: %d, want 400", name, got)
			}
		}
	})
}

// TestPageViewsStoreNoLogin: the sign-in page of a browser without a login in
// progress stores nothing until its form is posted, so a flood of anonymous
// page views cannot grow the store; the posted form then works as usual.
func TestPageViewsStoreNoLogin(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		s := newLoginServer(t, st)
		ctx := context.Background()
		for range 20 {
			resp, err := http.Get(s.srv.URL + "/login")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			var token string
			for _, c := range resp.Cookies() {
				if c.Name == session.TransactionCookie {
					token = c.Value
				}
			}
			if resp.StatusCode != http.StatusOK || token == "" {
				t.Fatalf("GET /login: %d, cookie %q", resp.StatusCode, token)
			}
			if _, err := st.GetLoginTransaction(ctx, session.TokenID(token), time.Now()); err == nil {
				t.Fatal("a page view stored a login transaction")
			}
		}
		if got := s.signIn("192.0.2.1", "ann", "right password"); got != http.StatusSeeOther {
			t.Errorf("the posted form of a pending login: %d, want 303", got)
		}
	})
}

// TestPendingLoginNeedsItsOwnForm: a post without the page's CSRF secret, or
// with another browser's, stores nothing and signs nobody in: it is refused
// as a login that expired or finished, which is what such a form is when it
// is not forged (the page of a stored login that has gone).
func TestPendingLoginNeedsItsOwnForm(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		s := newLoginServer(t, st)
		for _, csrf := range []string{"", "forged", pendingCSRF(session.TokenID("another browser's token"))} {
			req, _ := http.NewRequest("POST", s.srv.URL+"/login/password", strings.NewReader(url.Values{"csrf": {csrf}, "username": {"ann"}, "password": {"right password"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: session.TransactionCookie, Value: "my token"})
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "expired or was already completed") {
				t.Errorf("csrf %q: %d, want 403 and the expired page:\n%.300s", csrf, resp.StatusCode, body)
			}
			if _, err := st.GetLoginTransaction(context.Background(), session.TokenID("my token"), time.Now()); err == nil {
				t.Errorf("csrf %q stored a login transaction", csrf)
			}
		}
	})
}

// TestNewPasswordEndsLoginsInFlight: whoever passed the old password in
// another browser, and waits at the next step, gets no further once the
// owner sets a new one.
func TestNewPasswordEndsLoginsInFlight(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		s := newLoginServer(t, st)
		ctx := context.Background()
		u := s.ann()
		u.OTPRequired = true // the password step leads to enrollment
		if err := st.UpdateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		_, intruder := s.browse("203.0.113.7", "ann", "right password")
		_, owner := s.browse("198.51.100.1", "ann", "right password")
		if status, body := intruder("POST", "/login/enroll", url.Values{"code": {"000000"}}); status == http.StatusBadRequest && strings.Contains(body, "expired or was already completed") {
			t.Fatalf("the login ended before the password changed: %d", status)
		}
		hash, _ := s.p.Passwords.Hash(ctx, "the owner's new password")
		if err := s.p.replacePassword(ctx, u.ID, hash); err != nil {
			t.Fatal(err)
		}
		for name, do := range map[string]func(string, string, url.Values) (int, string){"intruder": intruder, "owner's other browser": owner} {
			if status, body := do("POST", "/login/enroll", url.Values{"code": {"000000"}}); status != http.StatusBadRequest || !strings.Contains(body, "expired or was already completed") {
				t.Errorf("%s after the new password: %d, want 400 and the expired page:\n%.300s", name, status, body)
			}
		}
	})
}
