package e2e

import (
	"context"
	"encoding/base64"
	"net"
	"strings"
	"testing"

	"github.com/authz/authz/internal/mfa"
	"github.com/authz/authz/internal/store"
)

// signInThroughApp opens the relying app in b and signs in with the password
// form; it returns with the browser on whatever page follows the password.
func signInThroughApp(b *tab, app *relyingApp, username, password string) {
	b.t.Helper()
	b.navigate(app.URL + "/")
	b.waitTitle("Sign in")
	b.fill("username", username)
	b.fill("password", password)
	b.click("sign-in")
}

// Flow C: every later login of a user with an enrolled authenticator asks for
// the code after the password, and only a valid code completes it.
func TestBrowserLoginAsksForTheCode(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		chromium(t)
		in := startServer(t, backend)
		app := newRelyingApp(t, in)
		u := in.createUser("ivan", true)
		used := map[int64]bool{}

		b := newTab(t)
		signInThroughApp(b, app, u.Username, u.Password)
		b.waitTitle("One-time code")
		if ac := b.eval(`document.getElementById("otp").getAttribute("autocomplete") + " " + document.getElementById("otp").getAttribute("inputmode")`); ac != "one-time-code numeric" {
			t.Errorf("code field attributes: %q", ac)
		}
		b.fill("otp", "000000")
		b.click("submit-otp")
		b.waitTitle("One-time code")
		if !strings.Contains(b.body(), "Invalid authenticator code.") {
			t.Fatalf("a wrong code must be refused with a message:\n%s", b.body())
		}
		b.fill("otp", currentCode(t, in, u.OTPSecret, used))
		b.click("submit-otp")
		b.waitTitle("Relying app")
		if who, amr := b.text("who"), b.text("amr"); who != "ivan" || amr != "pwd otp mfa" {
			t.Fatalf("relying app sees %q with amr %q", who, amr)
		}
	})
}

// createAdmin stores an administrator with an enrolled authenticator.
func (in *instance) createAdmin(t *testing.T, username string) *testUser {
	t.Helper()
	u := in.createUser(username, true)
	u.Role = store.RoleAdmin
	if err := in.App.Store.UpdateUser(context.Background(), u.User); err != nil {
		t.Fatal(err)
	}
	return u
}

// adminTab signs an administrator in, in a tab of its own.
func adminTab(t *testing.T, in *instance, a *testUser, used map[int64]bool) *tab {
	t.Helper()
	b := newTab(t)
	b.navigate(in.URL + "/admin/users")
	b.waitTitle("Sign in")
	b.fill("username", a.Username)
	b.fill("password", a.Password)
	b.click("sign-in")
	b.waitTitle("One-time code")
	b.fill("otp", currentCode(t, in, a.OTPSecret, used))
	b.click("submit-otp")
	b.waitTitle("Your account")
	b.navigate(in.URL + "/admin/users")
	b.waitTitle("Users")
	return b
}

// startWithMail runs authz with SMTP delivery to a mailbox of the test.
func startWithMail(t *testing.T, backend string) (*instance, *mailbox) {
	t.Helper()
	mb := newMailbox(t)
	host, port, _ := net.SplitHostPort(mb.addr)
	return startServer(t, backend, "--smtp-host", host, "--smtp-port", port, "--smtp-tls", "none", "--otp-issuer", "authz test"), mb
}

// enrollFromKey reads the key "Can't scan?" shows and checks it against the QR
// code, returning the secret.
func enrollFromKey(t *testing.T, in *instance, b *tab, username string, shots string) string {
	t.Helper()
	uri := b.qrURI()
	b.screenshot(shots, "-qr")
	b.click("mode-manual")
	b.waitTitle("Mobile authenticator setup")
	b.screenshot(shots, "-key")
	secret := strings.ReplaceAll(b.text("otp-key"), " ", "")
	if want := mfa.KeyURI("authz test", username, secret); uri != want {
		t.Fatalf("the QR code must encode the key shown:\n%s\n%s", uri, want)
	}
	params := b.text("otp-params")
	for _, p := range []string{"Time-based", "SHA1", "6", "30"} {
		if !strings.Contains(params, p) {
			t.Errorf("Can't scan? must show %s: %q", p, params)
		}
	}
	body := b.body()
	for _, app := range []string{"FreeOTP", "Microsoft Authenticator", "Google Authenticator"} {
		if !strings.Contains(body, app) {
			t.Errorf("the set-up page must name %s", app)
		}
	}
	return secret
}

// Flow A: a new user, from the administrator's click to the signed-in user.
func TestFlowANewUser(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		chromium(t)
		in, mb := startWithMail(t, backend)
		used := map[int64]bool{}
		// One set of screenshots is enough: take them on the default store.
		shots := func(name string) string {
			if backend != "sqlite" {
				return ""
			}
			return name
		}
		admin := adminTab(t, in, in.createAdmin(t, "root"), used)

		admin.click("add-user")
		admin.waitTitle("Add user")
		admin.fill("username", "newton")
		admin.fill("email", "newton@example.test")
		admin.fill("first_name", "Isaac")
		admin.fill("last_name", "Newton")
		if !admin.checked("otp_required") {
			admin.toggle("otp_required")
		}
		admin.screenshot(shots("0-admin-add-user"))
		admin.click("save")
		admin.waitTitle("Edit user")
		if state := admin.text("otp-state"); state != "Waiting for enrollment" {
			t.Fatalf("authenticator state %q", state)
		}

		msg := mb.waitFor(t, "newton@example.test")
		link := msg.link(t)
		user := newTab(t)
		if shots("x") != "" {
			user.navigate("data:text/html;base64," + base64.StdEncoding.EncodeToString([]byte(msg.HTML)))
			user.screenshot("1-email")
		}
		user.navigate(link)
		user.waitTitle("Set up your account")
		user.screenshot(shots("2-landing"))
		user.click("continue")
		user.waitTitle("Mobile authenticator setup")
		secret := enrollFromKey(t, in, user, "newton", shots("3"))
		user.fill("otp", currentCode(t, in, secret, map[int64]bool{}))
		user.screenshot(shots("4-code"))
		user.click("submit-otp")
		user.saveRecoveryCodes(shots("4b-recovery-codes"))
		user.waitTitle("Set your password")
		user.screenshot(shots("5-password"))
		user.fill("password-new", "newton's long password")
		user.fill("password-confirm", "newton's long password")
		user.click("submit-password")
		user.waitTitle("Your account")
		user.screenshot(shots("6-signed-in"))
		if who := user.text("account-username"); who != "newton" {
			t.Fatalf("signed in as %q", who)
		}
		admin.navigate(admin.location())
		admin.waitTitle("Edit user")
		if state := admin.text("otp-state"); !strings.HasPrefix(state, "Enrolled on ") {
			t.Fatalf("after enrollment the profile must say so, got %q", state)
		}
	})
}

// Flow B: an existing user gets "OTP Configured" and enrolls at the next login;
// flow D: a reset makes the old authenticator useless and enrolls a new one.
func TestFlowsBAndDExistingUserEnrollsAndResets(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		chromium(t)
		in, _ := startWithMail(t, backend)
		app := newRelyingApp(t, in)
		used := map[int64]bool{}
		admin := adminTab(t, in, in.createAdmin(t, "root"), used)
		u := in.createUser("olga", false)

		// B1: the administrator ticks OTP Configured.
		admin.navigate(in.URL + "/admin/users/" + u.ID)
		admin.waitTitle("Edit user")
		admin.toggle("otp_required")
		admin.click("save")
		admin.waitTitle("Edit user")
		if state := admin.text("otp-state"); state != "Waiting for enrollment" {
			t.Fatalf("after ticking: %q", state)
		}
		// B2: the next login enrolls, then completes.
		b := newTab(t)
		signInThroughApp(b, app, u.Username, u.Password)
		b.waitTitle("Mobile authenticator setup")
		first := enrollFromKey(t, in, b, "olga", "")
		b.fill("otp", currentCode(t, in, first, map[int64]bool{}))
		b.click("submit-otp")
		b.saveRecoveryCodes("")
		b.waitTitle("Relying app")
		if amr := b.text("amr"); amr != "pwd otp mfa" {
			t.Fatalf("amr %q", amr)
		}

		// D: untick and tick again.
		admin.navigate(in.URL + "/admin/users/" + u.ID)
		admin.waitTitle("Edit user")
		admin.toggle("otp_required")
		admin.click("save")
		admin.waitTitle("Edit user")
		if state := admin.text("otp-state"); state != "None" {
			t.Fatalf("after unticking: %q", state)
		}
		admin.toggle("otp_required")
		admin.click("save")
		admin.waitTitle("Edit user")

		// The old authenticator stops working at once: the next login enrolls.
		b2 := newTab(t)
		signInThroughApp(b2, app, u.Username, u.Password)
		b2.waitTitle("Mobile authenticator setup")
		oldCode := otpCode(t, first, in.clock.now())
		b2.fill("otp", oldCode)
		b2.click("submit-otp")
		b2.waitTitle("Mobile authenticator setup")
		if !strings.Contains(b2.body(), "Invalid authenticator code.") {
			t.Fatal("the old authenticator's code must not enroll the new one")
		}
		second := enrollFromKey(t, in, b2, "olga", "")
		if second == first {
			t.Fatal("a reset must issue a new key")
		}
		b2.fill("otp", currentCode(t, in, second, map[int64]bool{}))
		b2.click("submit-otp")
		b2.saveRecoveryCodes("")
		b2.waitTitle("Relying app")

		// Reset OTP, once confirmed, does the same.
		admin.navigate(in.URL + "/admin/users/" + u.ID)
		admin.waitTitle("Edit user")
		if help := admin.text("otp-help"); !strings.Contains(help, "untick OTP Configured and save, then tick it") {
			t.Errorf("the edit page must say how to replace a device: %q", help)
		}
		admin.click("reset-otp")
		admin.waitTitle("Reset OTP")
		admin.click("confirm")
		admin.waitTitle("Edit user")
		if state := admin.text("otp-state"); state != "Waiting for enrollment" {
			t.Fatalf("after Reset OTP: %q", state)
		}
	})
}
