package e2e

import (
	"strings"
	"testing"
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
		b.fill("otp", currentCode(t, u.OTPSecret, used))
		b.click("submit-otp")
		b.waitTitle("Relying app")
		if who, amr := b.text("who"), b.text("amr"); who != "ivan" || amr != "pwd otp mfa" {
			t.Fatalf("relying app sees %q with amr %q", who, amr)
		}
	})
}
