package e2e

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/mfa"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/throttle"
)

// otpPage signs u in with the password and returns the one-time code page.
func otpPage(t *testing.T, in *instance, r *rp, b *browser, u *testUser) (*page, *flow) {
	t.Helper()
	f := r.start()
	p := b.loginWithPassword(b.get(f.authURL), u.Username, u.Password)
	if !strings.Contains(p.Body, `action="/login/otp"`) {
		t.Fatalf("expected the one-time code page, got %d %s\n%s", p.Status, p.URL, p.Body)
	}
	return p, f
}

func TestOneTimeCodeBadInput(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		id, secret := in.createClient(clientSpec{SkipConsent: true})
		r := newRP(t, in, id, secret)
		u := in.createUser("judy", true)
		b := newBrowser(t)
		p, f := otpPage(t, in, r, b, u)

		old := otpCode(t, u.OTPSecret, in.clock.now().Add(-2*mfa.Period))
		cases := []struct {
			name, code, want string
			status           int
		}{
			{"empty", "", "Please specify authenticator code.", 400},
			{"letters", "abcdef", "Invalid authenticator code.", 401},
			{"too long", "1234567", "Invalid authenticator code.", 401},
			{"hostile", "<script>1</script>", "Invalid authenticator code.", 401},
			{"previous-but-one step", old, "Invalid authenticator code.", 401},
		}
		for _, c := range cases {
			got := b.submit(p, "/login/otp", url.Values{"otp": {c.code}})
			if got.Status != c.status || !strings.Contains(got.Body, c.want) || strings.Contains(got.Body, "<script>1") {
				t.Errorf("%s: %d, want %d with %q", c.name, got.Status, c.status, c.want)
			}
		}
		used := map[int64]bool{}
		code := currentCode(t, in, u.OTPSecret, used)
		got := b.submit(p, "/login/otp", url.Values{"otp": {code}})
		r.exchange(r.callback(got, f, in.URL), f)

		// The same valid code a second time (another browser, same time step)
		// is a replay.
		b2 := newBrowser(t)
		p2, f2 := otpPage(t, in, r, b2, u)
		again := b2.submit(p2, "/login/otp", url.Values{"otp": {code}})
		if again.Status != 401 || !strings.Contains(again.Body, "Invalid authenticator code.") {
			t.Errorf("replayed code: %d", again.Status)
		}
		// The authenticator's next code, a time step later, gets in.
		next := b2.submit(p2, "/login/otp", url.Values{"otp": {currentCode(t, in, u.OTPSecret, used)}})
		r.exchange(r.callback(next, f2, in.URL), f2)
	})
}

func TestOneTimeCodeLockout(t *testing.T) {
	t.Parallel()
	in := startServer(t, "sqlite")
	id, secret := in.createClient(clientSpec{SkipConsent: true})
	r := newRP(t, in, id, secret)
	u := in.createUser("mallory", true)
	b := newBrowser(t)
	p, f := otpPage(t, in, r, b, u)
	var last *page
	for i := 0; i < throttle.OTP.Free+1; i++ {
		last = b.submit(p, "/login/otp", url.Values{"otp": {"000000"}})
	}
	if !strings.Contains(last.Body, "Too many failed attempts") {
		t.Fatalf("after %d wrong codes the user must be locked out:\n%s", throttle.OTP.Free+1, last.Body)
	}
	valid := otpCode(t, u.OTPSecret, in.clock.now())
	if got := b.submit(p, "/login/otp", url.Values{"otp": {valid}}); got.Status != http.StatusTooManyRequests {
		t.Fatalf("a valid code during the lockout must be refused: %d", got.Status)
	}
	events, _, _ := in.App.Store.ListAudit(context.Background(), store.AuditFilter{Type: "otp.lockout"})
	if len(events) == 0 {
		t.Error("the lockout must be audited")
	}
	// The lock ends once its back-off has passed on the server's clock.
	in.clock.advance(throttle.OTP.Base + time.Second)
	got := b.submit(p, "/login/otp", url.Values{"otp": {otpCode(t, u.OTPSecret, in.clock.now())}})
	r.exchange(r.callback(got, f, in.URL), f)
}

// issueLink creates a set-up link for u the way the admin console does.
func (in *instance) issueLink(t *testing.T, userID, kind string, ttl time.Duration, now time.Time) string {
	t.Helper()
	token, err := session.IssueLink(context.Background(), in.App.Store, userID, kind, ttl, now)
	if err != nil {
		t.Fatal(err)
	}
	return in.URL + session.LinkPath(token)
}

// newSetupUser stores a user the way Add User does: no password yet.
func (in *instance) newSetupUser(t *testing.T, username string, otp bool) *store.User {
	t.Helper()
	now := time.Now().UTC()
	u := &store.User{ID: store.NewID(), Username: username, Email: username + "@example.test", Enabled: true, OTPRequired: otp, Role: store.RoleUser, CreatedAt: now, UpdatedAt: now}
	if err := in.App.Store.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

var keyPattern = regexp.MustCompile(`id="otp-key">([A-Z2-7 ]+)<`)

// enrollmentKey reads the key that "Can't scan?" shows.
func enrollmentKey(t *testing.T, b *browser, in *instance) string {
	t.Helper()
	p := b.get(in.URL + "/login?manual=1")
	m := keyPattern.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no key on the manual page:\n%s", p.Body)
	}
	return strings.ReplaceAll(m[1], " ", "")
}

func TestSetupLinkAndEnrollmentBadInput(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		ctx := context.Background()
		u := in.newSetupUser(t, "kim", true)
		now := time.Now().UTC()

		// Unknown, expired and superseded links each say which.
		b := newBrowser(t)
		if p := b.get(in.URL + "/link/not-a-token"); p.Status != 404 || !strings.Contains(p.Body, "not valid") {
			t.Errorf("unknown link: %d", p.Status)
		}
		expired := in.issueLink(t, u.ID, store.ActionSetup, time.Hour, now.Add(-2*time.Hour))
		if p := b.get(expired); p.Status != 410 || !strings.Contains(p.Body, "expired") {
			t.Errorf("expired link: %d %s", p.Status, p.Body)
		}
		older := in.issueLink(t, u.ID, store.ActionSetup, time.Hour, now)
		link := in.issueLink(t, u.ID, store.ActionSetup, time.Hour, now)
		if p := b.get(older); p.Status != 404 {
			t.Errorf("superseded link: %d", p.Status)
		}

		// The landing page, twice: opening it changes nothing.
		for i := 0; i < 2; i++ {
			p := b.get(link)
			if p.Status != 200 || !strings.Contains(p.Body, "Click here to continue") || !strings.Contains(p.Body, "Configure OTP") {
				t.Fatalf("landing page #%d: %d", i+1, p.Status)
			}
		}
		p := b.get(link + "?continue=1")
		if !strings.Contains(p.Body, `action="/login/enroll"`) {
			t.Fatalf("continue must lead to the authenticator set-up, got %s", p.URL)
		}
		key := enrollmentKey(t, b, in)

		// A wrong code enrolls nothing.
		if got := b.submit(p, "/login/enroll", url.Values{"otp": {"000000"}}); got.Status != 401 {
			t.Errorf("wrong enrollment code: %d", got.Status)
		}
		if _, err := in.App.Store.GetOTPCredential(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a wrong code must not create a credential: %v", err)
		}

		// The administrator resets OTP while the form is open: the stale form is
		// refused, and a new key is shown.
		stale := b.get(in.URL + "/login")
		fresh, _ := in.App.Store.GetUser(ctx, u.ID)
		fresh.OTPRequired, fresh.UpdatedAt = false, time.Now().UTC().Add(time.Millisecond)
		_ = in.App.Store.UpdateUser(ctx, fresh)
		fresh.OTPRequired, fresh.UpdatedAt = true, time.Now().UTC().Add(2*time.Millisecond)
		_ = in.App.Store.UpdateUser(ctx, fresh)
		code := otpCode(t, key, in.clock.now())
		got := b.submit(stale, "/login/enroll", url.Values{"otp": {code}})
		if got.Status != 409 || !strings.Contains(got.Body, "reset the authenticator setup") {
			t.Fatalf("stale enrollment form: %d\n%s", got.Status, got.Body)
		}
		if _, err := in.App.Store.GetOTPCredential(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatal("a stale form must not enroll")
		}
		newKey := enrollmentKey(t, b, in)
		if newKey == key {
			t.Fatal("after a reset a new key must be shown")
		}
		used := map[int64]bool{}
		got = b.submit(b.get(in.URL+"/login"), "/login/enroll", url.Values{"otp": {currentCode(t, in, newKey, used)}})
		_, got = b.confirmRecoveryCodes(t, got)
		if !strings.Contains(got.Body, `action="/login/set-password"`) {
			t.Fatalf("after enrollment the password page follows, got %d\n%s", got.Status, got.Body)
		}

		// Password policy.
		for name, c := range map[string][2]string{
			"too short":  {"short", "short"},
			"mismatched": {"long enough 1", "long enough 2"},
		} {
			res := b.submit(got, "/login/set-password", url.Values{"password": {c[0]}, "password_confirm": {c[1]}})
			if res.Status != 400 || !strings.Contains(res.Body, `action="/login/set-password"`) {
				t.Errorf("%s: %d", name, res.Status)
			}
		}
		res := b.submit(got, "/login/set-password", url.Values{"password": {"kim"}, "password_confirm": {"kim"}})
		if res.Status != 400 {
			t.Errorf("short password equal to the username: %d", res.Status)
		}
		if u2, _ := in.App.Store.GetUser(ctx, u.ID); u2.PasswordHash != "" {
			t.Fatal("a refused password must not be stored")
		}
		res = b.submit(got, "/login/set-password", url.Values{"password": {"a good long password"}, "password_confirm": {"a good long password"}})
		if !strings.Contains(res.Body, `id="account-username"`) {
			t.Fatalf("after the password the user is signed in, got %d %s", res.Status, res.URL)
		}

		// The link is now used.
		if p := newBrowser(t).get(link); p.Status != 410 || !strings.Contains(p.Body, "already been used") {
			t.Errorf("used link: %d", p.Status)
		}
	})
}

// TestReplacedLinkStopsItsSetUp: a set-up begun from a link ends when the
// link is replaced (an administrator sends a new one) or expires, at
// whichever step it is: the old link enrolls no authenticator.
func TestReplacedLinkStopsItsSetUp(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		ctx := context.Background()
		u := in.newSetupUser(t, "lou", true)
		b := newBrowser(t)
		p := b.get(in.issueLink(t, u.ID, store.ActionSetup, time.Hour, time.Now().UTC()) + "?continue=1")
		if !strings.Contains(p.Body, `action="/login/enroll"`) {
			t.Fatalf("continue must lead to the authenticator set-up, got %d %s", p.Status, p.URL)
		}
		key := enrollmentKey(t, b, in)
		in.issueLink(t, u.ID, store.ActionSetup, time.Hour, time.Now().UTC())
		got := b.submit(p, "/login/enroll", url.Values{"otp": {otpCode(t, key, in.clock.now())}})
		if got.Status != http.StatusForbidden || !strings.Contains(got.Body, "replaced by a newer one") {
			t.Errorf("enrollment from a replaced link: %d\n%s", got.Status, got.Body)
		}
		if _, err := in.App.Store.GetOTPCredential(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a replaced link enrolled an authenticator: %v", err)
		}

		// An expired one: the page after it says so too.
		b = newBrowser(t)
		if p := b.get(in.issueLink(t, u.ID, store.ActionSetup, time.Minute, time.Now().UTC()) + "?continue=1"); !strings.Contains(p.Body, `action="/login/enroll"`) {
			t.Fatalf("continue must lead to the authenticator set-up, got %d %s", p.Status, p.URL)
		}
		in.clock.advance(2 * time.Minute)
		if got := b.get(in.URL + "/login"); got.Status != http.StatusForbidden || strings.Contains(got.Body, `action="/login/enroll"`) {
			t.Errorf("set-up from an expired link: %d", got.Status)
		}
	})
}

func TestPasswordEqualToUsernameIsRefused(t *testing.T) {
	t.Parallel()
	in := startServer(t, "sqlite")
	u := in.newSetupUser(t, "longusername", false)
	b := newBrowser(t)
	p := b.get(in.issueLink(t, u.ID, store.ActionSetup, time.Hour, time.Now()) + "?continue=1")
	res := b.submit(p, "/login/set-password", url.Values{"password": {"LongUserName"}, "password_confirm": {"LongUserName"}})
	if res.Status != 400 || !strings.Contains(res.Body, "must not be your username") {
		t.Fatalf("password equal to the username: %d", res.Status)
	}
}

// TestFailuresFromOneAddressAreLimited sprays wrong passwords over many
// usernames from one address: the address gets locked out.
// The lock is checked with the throttle read beside the login transaction
// (in PostgreSQL's one round trip), on both stores.
func TestFailuresFromOneAddressAreLimited(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		b := newBrowser(t)
		p := b.get(in.URL + "/login")
		var last *page
		for i := 0; i < 52; i++ {
			last = b.loginWithPassword(p, "spray"+strconv.Itoa(i), "guess")
		}
		if last.Status != http.StatusTooManyRequests || !strings.Contains(last.Body, "Too many failed attempts") {
			t.Fatalf("after 52 failures from one address: %d", last.Status)
		}
	})
}

// TestPasswordResetLink walks a reset link of a user with an authenticator: the
// code is asked before the new password, and the old password stops working.
func TestPasswordResetLink(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		u := in.createUser("rita", true)
		b := newBrowser(t)
		link := in.issueLink(t, u.ID, store.ActionReset, time.Hour, time.Now())
		if p := b.get(link); !strings.Contains(p.Body, "Reset your password") || strings.Contains(p.Body, "Configure OTP") {
			t.Fatalf("reset landing page: %d\n%s", p.Status, p.Body)
		}
		p := b.get(link + "?continue=1")
		if !strings.Contains(p.Body, `action="/login/otp"`) {
			t.Fatalf("a reset must ask for the code first, got %s", p.URL)
		}
		p = b.submit(p, "/login/otp", url.Values{"otp": {currentCode(t, in, u.OTPSecret, map[int64]bool{})}})
		p = b.submit(p, "/login/set-password", url.Values{"password": {"brand new password"}, "password_confirm": {"brand new password"}})
		if !strings.Contains(p.Body, `id="account-username"`) {
			t.Fatalf("after the reset the user is signed in: %d", p.Status)
		}
		fresh := newBrowser(t)
		if p := fresh.loginWithPassword(fresh.get(in.URL+"/login"), "rita", u.Password); p.Status != http.StatusUnauthorized {
			t.Errorf("the old password must stop working: %d", p.Status)
		}
		if p := fresh.loginWithPassword(fresh.get(in.URL+"/login"), "rita", "brand new password"); !strings.Contains(p.Body, `action="/login/otp"`) {
			t.Errorf("the new password must work: %d", p.Status)
		}
	})
}
