package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/authz/authz/internal/store"
)

// accountTab signs u in to the account page, in a tab of its own.
func accountTab(t *testing.T, in *instance, u *testUser, used map[int64]bool) *tab {
	t.Helper()
	b := newTab(t)
	b.navigate(in.URL + "/account")
	b.waitTitle("Sign in")
	b.fill("username", u.Username)
	b.fill("password", u.Password)
	b.click("sign-in")
	b.waitTitle("One-time code")
	b.fill("otp", currentCode(t, in, u.OTPSecret, used))
	b.click("submit-otp")
	b.waitTitle("Your account")
	return b
}

// shotsOn names a screenshot on the default store only: one set is enough.
func shotsOn(backend, name string) string {
	if backend != "sqlite" {
		return ""
	}
	return name
}

// Lost phone: a recovery code signs the user in, the account page replaces
// the authenticator (confirmed with another recovery code, the phone being
// gone), and the old phone's codes are refused from then on.
func TestAccountLostPhoneRecoveryCodeThenReplaceAuthenticator(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		chromium(t)
		in, mb := startWithMail(t, backend)
		u := in.createUser("lena", true)
		used := map[int64]bool{}

		// While she still has her phone, Lena makes recovery codes.
		home := accountTab(t, in, u, used)
		if got := home.text("otp-state"); !strings.HasPrefix(got, "Authenticator set up on ") {
			t.Fatalf("OTP state on the account page: %q", got)
		}
		home.fill("codes-otp", currentCode(t, in, u.OTPSecret, used))
		home.click("new-recovery-codes")
		codes := strings.Fields(home.text("recovery-codes"))
		if len(codes) != 10 {
			t.Fatalf("new recovery codes: %q", codes)
		}
		home.screenshot(shotsOn(backend, "8-recovery-codes"))
		if dl := home.eval(`document.getElementById("download-codes").getAttribute("download")`); dl != "authz-recovery-codes.txt" {
			t.Errorf("download link: %q", dl)
		}
		if got := mb.waitFor(t, u.Email); got.Subject != "New recovery codes were made" {
			t.Errorf("notice after new codes: %q", got.Subject)
		}

		// The phone is lost: a recovery code, typed lower case with a
		// space for the dash, stands in for the code.
		b := newTab(t)
		b.navigate(in.URL + "/account")
		b.waitTitle("Sign in")
		b.fill("username", u.Username)
		b.fill("password", u.Password)
		b.click("sign-in")
		b.waitTitle("One-time code")
		b.click("use-recovery")
		b.waitTitle("Recovery code")
		b.fill("recovery-code", "ZZZZZ-ZZZZZ")
		b.click("submit-recovery")
		b.waitTitle("Recovery code")
		if !strings.Contains(b.body(), "Invalid recovery code.") {
			t.Fatalf("a wrong recovery code must be refused:\n%s", b.body())
		}
		b.fill("recovery-code", strings.ToLower(strings.Replace(codes[0], "-", " ", 1)))
		b.click("submit-recovery")
		b.waitTitle("Recovery code accepted")
		if left := b.text("recovery-left"); left != "You have 9 recovery codes left." {
			t.Fatalf("after a recovery code: %q", left)
		}
		msg := mb.waitFor(t, u.Email)
		if msg.Subject != "A recovery code was used" || !strings.Contains(msg.Text, "9 recovery codes are left") {
			t.Errorf("notice of a used code: %q\n%s", msg.Subject, msg.Text)
		}
		b.click("continue")
		b.waitTitle("Your account")
		if left := b.text("recovery-left"); left != "Recovery codes: 9 left" {
			t.Errorf("account page: %q", left)
		}

		// Replace the authenticator, confirmed with a second recovery code.
		b.fill("replace-otp", codes[1])
		b.click("replace-authenticator")
		b.waitTitle("Mobile authenticator setup")
		if intro := b.text("replace-intro"); !strings.Contains(intro, "current one keeps working") {
			t.Errorf("replacement intro: %q", intro)
		}
		newPhone := enrollFromKey(t, in, b, "lena", "")
		b.fill("otp", currentCode(t, in, newPhone, used))
		b.click("submit-otp")
		fresh := b.saveRecoveryCodes("")
		b.waitTitle("Your account")
		b.screenshot(shotsOn(backend, "7-account"))
		if left := b.text("recovery-left"); left != "Recovery codes: 10 left" {
			t.Errorf("after the replacement: %q", left)
		}
		if got := mb.waitFor(t, u.Email); got.Subject != "A recovery code was used" {
			t.Errorf("the second code's notice: %q", got.Subject)
		}
		if got := mb.waitFor(t, u.Email); got.Subject != "A new authenticator was set up" {
			t.Errorf("notice after the replacement: %q", got.Subject)
		}

		// The old phone's code is refused; so is an old recovery code; the
		// new phone signs in.
		c := newTab(t)
		c.navigate(in.URL + "/account")
		c.waitTitle("Sign in")
		c.fill("username", u.Username)
		c.fill("password", u.Password)
		c.click("sign-in")
		c.waitTitle("One-time code")
		c.fill("otp", currentCode(t, in, u.OTPSecret, used))
		c.click("submit-otp")
		c.waitTitle("One-time code")
		if !strings.Contains(c.body(), "Invalid authenticator code.") {
			t.Fatalf("the old phone's code must be refused:\n%s", c.body())
		}
		c.click("use-recovery")
		c.waitTitle("Recovery code")
		c.fill("recovery-code", codes[2])
		c.click("submit-recovery")
		c.waitTitle("Recovery code")
		if !strings.Contains(c.body(), "Invalid recovery code.") {
			t.Fatalf("a code of the replaced set must be refused:\n%s", c.body())
		}
		c.click("use-otp")
		c.waitTitle("One-time code")
		c.fill("otp", currentCode(t, in, newPhone, used))
		c.click("submit-otp")
		c.waitTitle("Your account")
		if fresh[0] == codes[0] {
			t.Error("the replacement must make new recovery codes")
		}
	})
}

// Forgot password: the e-mailed link, the one-time code, a new password;
// the old password stops working.
func TestAccountForgotPassword(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		chromium(t)
		in, mb := startWithMail(t, backend)
		u := in.createUser("fiona", true)
		used := map[int64]bool{}

		b := newTab(t)
		b.navigate(in.URL + "/account")
		b.waitTitle("Sign in")
		b.click("forgot-password")
		b.waitTitle("Forgot password")
		b.fill("forgot-name", "nobody-here")
		b.click("submit-forgot")
		b.waitTitle("Check your e-mail")
		unknown := b.text("forgot-sent")
		b.navigate(in.URL + "/login/forgot")
		b.waitTitle("Forgot password")
		b.fill("forgot-name", strings.ToUpper(u.Email))
		b.click("submit-forgot")
		b.waitTitle("Check your e-mail")
		if known := b.text("forgot-sent"); known != unknown {
			t.Fatalf("the answer must not tell whether the account exists:\n%q\n%q", known, unknown)
		}

		msg := mb.waitFor(t, u.Email)
		if msg.Subject != "Reset your password" || !strings.Contains(msg.Text, "hopefully you") {
			t.Fatalf("reset e-mail: %q\n%s", msg.Subject, msg.Text)
		}
		b.navigate(msg.link(t))
		b.waitTitle("Reset your password")
		b.click("continue")
		b.waitTitle("One-time code")
		b.fill("otp", currentCode(t, in, u.OTPSecret, used))
		b.click("submit-otp")
		b.waitTitle("Set your password")
		b.fill("password-new", "fiona's brand new passphrase")
		b.fill("password-confirm", "fiona's brand new passphrase")
		b.click("submit-password")
		b.waitTitle("Your account")
		if who := b.text("account-username"); who != "fiona" {
			t.Fatalf("signed in as %q", who)
		}
		if got := mb.waitFor(t, u.Email); got.Subject != "Your password was changed" {
			t.Errorf("notice after the reset: %q", got.Subject)
		}

		// The link worked once.
		b.navigate(msg.link(t))
		b.waitTitle("Link already used")

		old := newTab(t)
		old.navigate(in.URL + "/account")
		old.waitTitle("Sign in")
		old.fill("username", u.Username)
		old.fill("password", u.Password)
		old.click("sign-in")
		old.waitTitle("Sign in")
		if !strings.Contains(old.body(), "Invalid username or password.") {
			t.Fatalf("the old password must be refused:\n%s", old.body())
		}
		old.fill("username", u.Username)
		old.fill("password", "fiona's brand new passphrase")
		old.click("sign-in")
		old.waitTitle("One-time code")
	})
}

// Sessions: the account page lists the user's browsers, and signing one out
// there signs that browser out; "everywhere else" ends every other one.
func TestAccountSignOutOtherSessions(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		chromium(t)
		in := startServer(t, backend)
		u := in.createUser("sam", true)
		used := map[int64]bool{}
		laptop := accountTab(t, in, u, used)
		phone := accountTab(t, in, u, used)

		laptop.navigate(in.URL + "/account")
		laptop.waitTitle("Your account")
		rows := laptop.eval(`String(document.querySelectorAll("#sessions tbody tr").length)`)
		if rows != "2" {
			t.Fatalf("%s sessions listed, want 2:\n%s", rows, laptop.body())
		}
		if table := laptop.text("sessions"); !strings.Contains(table, "Chrome on Linux") || !strings.Contains(table, "127.0.0.1") || !strings.Contains(table, "This browser") {
			t.Errorf("session table:\n%s", table)
		}
		other := laptop.eval(`document.querySelector("#sessions button[id^=end-]").id`)
		laptop.click(other)
		laptop.waitTitle("Your account")
		if notice := laptop.text("account-notice"); notice != "That session was signed out." {
			t.Errorf("notice: %q", notice)
		}
		phone.navigate(in.URL + "/account")
		phone.waitTitle("Sign in")

		// Everywhere else.
		tablet := accountTab(t, in, u, used)
		laptop.navigate(in.URL + "/account")
		laptop.waitTitle("Your account")
		laptop.click("end-others")
		laptop.waitTitle("Your account")
		tablet.navigate(in.URL + "/account")
		tablet.waitTitle("Sign in")
		laptop.navigate(in.URL + "/account")
		laptop.waitTitle("Your account")

		events, _, err := in.App.Store.ListAudit(context.Background(), store.AuditFilter{Type: "session.ended", UserID: u.ID})
		if err != nil || len(events) != 2 {
			t.Errorf("session.ended events: %d, %v", len(events), err)
		}
	})
}
