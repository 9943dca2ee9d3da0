package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/throttle"
)

// signInHTTP signs u in to the account page with an HTTP browser and
// returns the account page.
func signInHTTP(t *testing.T, in *instance, b *browser, u *testUser, used map[int64]bool) *page {
	t.Helper()
	p := b.loginWithPassword(b.get(in.URL+"/account"), u.Username, u.Password)
	p = b.submit(p, "/login/otp", url.Values{"otp": {currentCode(t, in, u.OTPSecret, used)}})
	if !strings.Contains(p.Body, `id="account-username"`) {
		t.Fatalf("not signed in: %d\n%s", p.Status, p.Body)
	}
	return p
}

// postAccount posts fields to an account form's path with the form token of
// the account page home, whether or not home shows that form.
func (b *browser) postAccount(t *testing.T, home *page, path string, fields url.Values) *page {
	t.Helper()
	form := url.Values{"csrf": {formValues(t, home.Body, "/account/password").Get("csrf")}}
	for k, v := range fields {
		form[k] = v
	}
	return b.post(home.URL.ResolveReference(&url.URL{Path: path}).String(), form)
}

// The account page's forms with bad input: no or a wrong form token, a
// wrong current password or code (counted), hostile and oversized input, a
// session ended elsewhere. None changes anything or answers 500.
func TestAccountFormsBadInput(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		ctx := context.Background()
		u := in.createUser("bert", true)
		used := map[int64]bool{}
		b := newBrowser(t)
		home := signInHTTP(t, in, b, u, used)
		before, _ := in.App.Store.GetUser(ctx, u.ID)

		change := url.Values{"current_password": {u.Password}, "password": {"a new long passphrase"}, "password_confirm": {"a new long passphrase"}}
		for name, token := range map[string]string{"no token": "", "wrong token": strings.Repeat("a", 64)} {
			form := url.Values{"csrf": {token}}
			for k, v := range change {
				form[k] = v
			}
			if p := b.post(in.URL+"/account/password", form); p.Status != http.StatusForbidden {
				t.Errorf("%s: %d", name, p.Status)
			}
		}
		if p := b.submit(home, "/account/password", url.Values{"current_password": {"wrong"}, "otp": {"123456"},
			"password": {"a new long passphrase"}, "password_confirm": {"a new long passphrase"}}); p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "current password is not correct") {
			t.Errorf("wrong current password: %d", p.Status)
		}
		overall := "pwd:user:" + u.ID
		if th, _ := in.App.Store.GetThrottle(ctx, overall); th.Failures != 1 {
			t.Errorf("a wrong current password must count towards the lockout: %d", th.Failures)
		}
		for name, code := range map[string]string{"wrong code": "000000", "hostile": "<script>x</script>", "nul": "\x00\x00", "long": strings.Repeat("9", 500)} {
			if p := b.submit(home, "/account/password", url.Values{"current_password": {u.Password}, "otp": {code},
				"password": {"a new long passphrase"}, "password_confirm": {"a new long passphrase"}}); p.Status != http.StatusUnauthorized || strings.Contains(p.Body, "<script>x") {
				t.Errorf("%s: %d", name, p.Status)
			}
		}
		if th, _ := in.App.Store.GetThrottle(ctx, throttle.OTPKey(u.ID)); th.Failures < 1 {
			t.Errorf("a wrong code must count towards the code lockout: %d", th.Failures)
		}
		if p := b.submit(home, "/account/password", url.Values{"current_password": {u.Password}, "otp": {"123456"},
			"password": {"short"}, "password_confirm": {"short"}}); p.Status != http.StatusBadRequest {
			t.Errorf("a too short new password: %d", p.Status)
		}
		if p := b.postAccount(t, home, "/account/sessions/end", url.Values{"session": {"nonsense"}}); p.Status != http.StatusOK || !strings.Contains(p.Body, "had ended already") {
			t.Errorf("ending an unknown session: %d", p.Status)
		}
		big := url.Values{"csrf": {formValues(t, home.Body, "/account/password").Get("csrf")}, "x": {strings.Repeat("y", 20<<10)}}
		if p := b.post(in.URL+"/account/password", big); p.Status != http.StatusBadRequest {
			t.Errorf("oversized form: %d", p.Status)
		}
		if after, _ := in.App.Store.GetUser(ctx, u.ID); after.PasswordHash != before.PasswordHash {
			t.Fatal("bad input changed the password")
		}

		// A session ended elsewhere: its next form goes to sign in.
		other := newBrowser(t)
		otherHome := signInHTTP(t, in, other, u, used)
		b.submit(b.get(in.URL+"/account"), "/account/sessions/end-others", url.Values{})
		if p := other.submit(otherHome, "/account/recovery-codes", url.Values{"otp": {"123456"}}); !strings.Contains(p.Body, `action="/login/password"`) {
			t.Errorf("a signed-out browser's form must lead to sign-in: %d %s", p.Status, p.URL)
		}

		// The right current password and code change it; the code is not
		// accepted twice.
		code := currentCode(t, in, u.OTPSecret, used)
		ok := b.submit(b.get(in.URL+"/account"), "/account/password", url.Values{"current_password": {u.Password}, "otp": {code},
			"password": {"a new long passphrase"}, "password_confirm": {"a new long passphrase"}})
		if !strings.Contains(ok.Body, "Your password was changed") {
			t.Fatalf("change password: %d\n%s", ok.Status, ok.Body)
		}
		if p := b.postAccount(t, ok, "/account/recovery-codes", url.Values{"otp": {code}}); p.Status != http.StatusUnauthorized {
			t.Errorf("a code used once must not work again: %d", p.Status)
		}
	})
}

// Recovery codes at the code step: normalised, single-use, refused when
// malformed without counting, never a 500.
func TestRecoveryCodeBadInput(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		ctx := context.Background()
		u := in.createUser("cora", true)
		codes, err := in.App.OTP.IssueRecoveryCodes(ctx, u.ID, in.clock.now())
		if err != nil {
			t.Fatal(err)
		}
		codePage := func() (*browser, *page) {
			b := newBrowser(t)
			b.loginWithPassword(b.get(in.URL+"/account"), u.Username, u.Password)
			return b, b.get(in.URL + "/login?recovery=1")
		}
		b, p := codePage()
		if !strings.Contains(p.Body, `action="/login/recovery"`) {
			t.Fatalf("recovery form: %d\n%s", p.Status, p.Body)
		}
		for name, input := range map[string]string{"empty": "", "nul": "\x00", "hostile": "<img src=x>", "long": strings.Repeat("A", 5000), "digits": "123456"} {
			got := b.submit(p, "/login/recovery", url.Values{"code": {input}})
			if got.Status >= 500 || got.Status < 400 || strings.Contains(got.Body, "<img src=x>") {
				t.Errorf("%s: %d", name, got.Status)
			}
		}
		if th, _ := in.App.Store.GetThrottle(ctx, throttle.OTPKey(u.ID)); th.Failures != 0 {
			t.Errorf("malformed input counted as %d guesses", th.Failures)
		}
		// Dashes, spaces and lower case are normalised.
		typed := " " + strings.ToLower(strings.ReplaceAll(codes[0], "-", " - ")) + " "
		got := b.submit(p, "/login/recovery", url.Values{"code": {typed}})
		if got.Status != http.StatusOK || !strings.Contains(got.Body, "9 recovery codes left") {
			t.Fatalf("recovery code: %d\n%s", got.Status, got.Body)
		}
		if p := b.get(in.URL + "/login"); !strings.Contains(p.Body, `id="account-username"`) {
			t.Fatalf("continue after the recovery code: %d", p.Status)
		}
		b2, p2 := codePage()
		if got := b2.submit(p2, "/login/recovery", url.Values{"code": {codes[0]}}); got.Status != http.StatusUnauthorized || !strings.Contains(got.Body, "Invalid recovery code.") {
			t.Errorf("a recovery code used twice: %d", got.Status)
		}
		events, _, _ := in.App.Store.ListAudit(ctx, store.AuditFilter{Type: string(audit.RecoveryCodeUsed), UserID: u.ID})
		if len(events) != 1 || events[0].Detail != "left=9" {
			t.Errorf("audit of the used code: %+v", events)
		}
	})
}

// Forgot password with bad input and a flood: always the same answer, a
// limited number of links, CSRF required; a reset link works once.
func TestForgotPasswordBadInputAndFlood(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		ctx := context.Background()
		u := in.createUser("dora", true)
		b := newBrowser(t)
		form := b.get(in.URL + "/login/forgot")
		if form.Status != http.StatusOK {
			t.Fatalf("forgot page: %d", form.Status)
		}
		if p := b.post(in.URL+"/login/forgot", url.Values{"username": {"dora"}}); p.Status != http.StatusForbidden {
			t.Errorf("no CSRF secret: %d", p.Status)
		}
		if p := newBrowser(t).post(in.URL+"/login/forgot", url.Values{"username": {"dora"}, "csrf": {"x"}}); p.Status != http.StatusForbidden {
			t.Errorf("no cookie: %d", p.Status)
		}
		for name, input := range map[string]string{"empty": "", "control": "do\x01ra", "long": strings.Repeat("d", 300)} {
			if p := b.submit(form, "/login/forgot", url.Values{"username": {input}}); p.Status != http.StatusBadRequest {
				t.Errorf("%s: %d", name, p.Status)
			}
		}
		var answers []string
		for _, name := range []string{"dora", "nobody", "dora@example.test", "DORA", "dora", "dora", "dora", "nobody"} {
			p := b.submit(form, "/login/forgot", url.Values{"username": {name}})
			if p.Status != http.StatusOK {
				t.Fatalf("%s: %d", name, p.Status)
			}
			answers = append(answers, p.Body)
		}
		for _, a := range answers[1:] {
			if a != answers[0] {
				t.Fatal("the answers differ: they must not tell whether an account exists or is throttled")
			}
		}
		in.App.Notify.Wait()
		events, _, _ := in.App.Store.ListAudit(ctx, store.AuditFilter{Type: string(audit.PasswordResetAsked), UserID: u.ID})
		if want := throttle.ResetAccount.Free + 1; len(events) != want {
			t.Errorf("%d reset links for one account in a burst, want %d", len(events), want)
		}

		// Only the newest link works, and once.
		older := in.issueLink(t, u.ID, store.ActionReset, time.Hour, in.clock.now())
		link := in.issueLink(t, u.ID, store.ActionReset, time.Hour, in.clock.now())
		if p := b.get(older); p.Status != http.StatusNotFound {
			t.Errorf("an older link: %d", p.Status)
		}
		p := b.get(link + "?continue=1")
		p = b.submit(p, "/login/otp", url.Values{"otp": {currentCode(t, in, u.OTPSecret, map[int64]bool{})}})
		b.submit(p, "/login/set-password", url.Values{"password": {"another passphrase"}, "password_confirm": {"another passphrase"}})
		if p := newBrowser(t).get(link); p.Status != http.StatusGone {
			t.Errorf("a used link: %d", p.Status)
		}
		expired := in.issueLink(t, u.ID, store.ActionReset, time.Hour, in.clock.now().Add(-2*time.Hour))
		if p := newBrowser(t).get(expired); p.Status != http.StatusGone {
			t.Errorf("an expired link: %d", p.Status)
		}
	})
}
