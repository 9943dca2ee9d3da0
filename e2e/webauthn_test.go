package e2e

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/testsupport/pgtest"
	"github.com/authz/authz/internal/testsupport/sqlitetest"
)

// startLocalhost is startServer with the issuer at http://localhost:port:
// WebAuthn needs a domain for its RP ID, which an IP address is not.
func startLocalhost(t *testing.T, backend string, extra ...string) *instance {
	t.Helper()
	var args []string
	dir := t.TempDir()
	if backend == "postgres" {
		args = append(args, "--database-url", pgtest.URL(t))
	} else {
		sqlitetest.Place(t, filepath.Join(dir, "authz.db"))
	}
	return startServerArgs(t, dir, "localhost", append(args, extra...)...)
}

// virtualAuthenticator gives the tab a CTAP2 security key with user
// verification, through the DevTools protocol's WebAuthn domain: it answers
// every ceremony at once, as a key touched at once would.
func (b *tab) virtualAuthenticator() webauthn.AuthenticatorID {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		b.t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(b.ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportUsb,
			HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}})
	if err != nil {
		b.t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

// passwordStep signs u in up to the page after the password.
func (b *tab) passwordStep(in *instance, u *testUser, wantTitle string) {
	b.t.Helper()
	b.navigate(in.URL + "/account")
	b.waitTitle("Sign in")
	b.fill("username", u.Username)
	b.fill("password", u.Password)
	b.click("sign-in")
	b.waitTitle(wantTitle)
}

func (b *tab) signOut() {
	b.t.Helper()
	b.click("sign-out")
	b.waitTitle("Signed out")
}

// userAMR is the amr of u's newest session.
func userAMR(t *testing.T, in *instance, u *testUser) []string {
	t.Helper()
	ss, err := in.App.Store.ListUserSessions(context.Background(), u.ID, in.clock.now())
	if err != nil || len(ss) == 0 {
		t.Fatalf("sessions of %s: %v (%d)", u.Username, err, len(ss))
	}
	return ss[0].AMR
}

func auditCount(t *testing.T, in *instance, typ audit.Type, userID string) int {
	t.Helper()
	_, n, err := in.App.Store.ListAudit(context.Background(), store.AuditFilter{Type: string(typ), UserID: userID, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A user registers a security key from the account page after a code, signs
// in with it (offered first), signs in with a one-time code instead, and
// removes it; the code step is then the app's again.
func TestSecurityKeyRegisterSignInFallbackRemove(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		chromium(t)
		mb := newMailbox(t)
		host, port, _ := net.SplitHostPort(mb.addr)
		in := startLocalhost(t, backend, "--smtp-host", host, "--smtp-port", port, "--smtp-tls", "none")
		u := in.createUser("kim", true)
		used := map[int64]bool{}
		b := newTab(t)
		b.virtualAuthenticator()

		b.passwordStep(in, u, "One-time code")
		if strings.Contains(b.body(), "security key") {
			t.Errorf("the code page offers a security key before there is one:\n%s", b.body())
		}
		b.fill("otp", currentCode(t, in, u.OTPSecret, used))
		b.click("submit-otp")
		b.waitTitle("Your account")
		if b.text("no-security-keys") == "" {
			t.Fatalf("account page without the security keys section:\n%s", b.body())
		}

		// A wrong code first: nothing is begun.
		b.fill("key-name", "YubiKey 5")
		b.fill("key-otp", "000000")
		b.click("add-security-key")
		b.waitTitle("Your account")
		if !strings.Contains(b.body(), "Invalid authenticator code.") {
			t.Fatalf("a wrong code must keep the key from being added:\n%s", b.body())
		}
		b.fill("key-name", "YubiKey 5")
		b.fill("key-otp", currentCode(t, in, u.OTPSecret, used))
		b.click("add-security-key")
		b.waitTitle("Add a security key or passkey")
		if n := b.eval(`String(document.querySelectorAll("script:not([src])").length)`); n != "0" {
			t.Errorf("inline scripts on the ceremony page: %s", n)
		}
		b.click("register-security-key")
		b.waitTitle("Your account")
		if got := b.text("account-notice"); got != "Your security key or passkey was added." {
			t.Fatalf("after registering: notice %q\n%s", got, b.body())
		}
		if got := b.eval(`(e => e ? e.innerText : '')(document.querySelector("#security-key-list .key-name"))`); got != "YubiKey 5" {
			t.Errorf("listed key: %q", got)
		}
		if got := b.eval(`document.querySelector("#security-key-list .key-last-used").innerText`); got != "never" {
			t.Errorf("last use of a new key: %q", got)
		}
		keys, err := in.App.Store.ListWebAuthnCredentials(context.Background(), u.ID)
		if err != nil || len(keys) != 1 || keys[0].Name != "YubiKey 5" {
			t.Fatalf("stored keys: %v %v", keys, err)
		}
		if auditCount(t, in, audit.WebAuthnRegistered, u.ID) != 1 {
			t.Error("no webauthn.registered event")
		}
		if got := mb.waitFor(t, u.Email); got.Subject != "A security key or passkey was added" || !strings.Contains(got.Text, "“YubiKey 5”") {
			t.Errorf("notice of the added key: %q\n%s", got.Subject, got.Text)
		}

		// Signed out and in again: the key is offered first.
		b.signOut()
		b.passwordStep(in, u, "Security key or passkey")
		b.screenshot(shotsOn(backend, "9-security-key"))
		b.click("use-security-key")
		b.waitTitle("Your account")
		if amr := userAMR(t, in, u); !slices.Contains(amr, session.AMRHardwareKey) || !slices.Contains(amr, session.AMRMFA) || slices.Contains(amr, session.AMROTP) {
			t.Errorf("amr after a security key: %v, want hwk and mfa, no otp", amr)
		}
		if got := b.eval(`document.querySelector("#security-key-list .key-last-used").innerText`); got == "never" {
			t.Error("last use not recorded")
		}
		if auditCount(t, in, audit.WebAuthnUsed, u.ID) != 1 {
			t.Error("no webauthn.used event")
		}

		// "Use a one-time code instead" works without the key.
		b.signOut()
		b.passwordStep(in, u, "Security key or passkey")
		b.click("use-otp-instead")
		b.waitTitle("One-time code")
		b.fill("otp", currentCode(t, in, u.OTPSecret, used))
		b.click("submit-otp")
		b.waitTitle("Your account")
		if amr := userAMR(t, in, u); !slices.Contains(amr, session.AMROTP) {
			t.Errorf("amr after the code fallback: %v", amr)
		}

		// Removed, after a code: the code step is the app's again.
		b.fill("remove-key-otp", currentCode(t, in, u.OTPSecret, used))
		b.click("remove-security-key")
		b.waitTitle("Your account")
		if got := b.text("account-notice"); got != "The security key or passkey was removed." {
			t.Errorf("after removing: %q", got)
		}
		if b.text("no-security-keys") == "" {
			t.Errorf("the key is still listed:\n%s", b.body())
		}
		if auditCount(t, in, audit.WebAuthnRemoved, u.ID) != 1 {
			t.Error("no webauthn.removed event")
		}
		if got := mb.waitFor(t, u.Email); got.Subject != "A security key or passkey was removed" || !strings.Contains(got.Text, "“YubiKey 5”") {
			t.Errorf("notice of the removed key: %q\n%s", got.Subject, got.Text)
		}
		b.signOut()
		b.passwordStep(in, u, "One-time code")
	})
}

// An administrator's Reset OTP removes the user's security keys too.
func TestSecurityKeyResetOTPRemovesKeys(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		chromium(t)
		in := startLocalhost(t, backend)
		u := in.createUser("ola", true)
		used := map[int64]bool{}
		b := newTab(t)
		b.virtualAuthenticator()
		b.passwordStep(in, u, "One-time code")
		b.fill("otp", currentCode(t, in, u.OTPSecret, used))
		b.click("submit-otp")
		b.waitTitle("Your account")
		b.fill("key-name", "Laptop")
		b.fill("key-otp", currentCode(t, in, u.OTPSecret, used))
		b.click("add-security-key")
		b.waitTitle("Add a security key or passkey")
		b.click("register-security-key")
		b.waitTitle("Your account")

		st, err := in.App.Admin.Dashboard(context.Background())
		if err != nil || st.BothFactors != 1 || st.TOTPOnly != 0 {
			t.Errorf("dashboard by factor: %+v %v", st, err)
		}
		if _, err := in.App.Admin.ResetOTP(context.Background(), admin.Actor{}, u.ID); err != nil {
			t.Fatal(err)
		}
		keys, _ := in.App.Store.ListWebAuthnCredentials(context.Background(), u.ID)
		if len(keys) != 0 {
			t.Errorf("keys after Reset OTP: %d", len(keys))
		}
		// The session ended with the reset; the next sign-in enrolls.
		b.passwordStep(in, u, "Mobile authenticator setup")
	})
}

// Remember this browser: off by default; when allowed, the code step offers
// it, a later login in that browser skips the code with an honest amr, and
// "forget all", a reset and a cookie copied to another user's login each
// bring the code back.
func TestRememberBrowser(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		chromium(t)
		off := startLocalhost(t, backend)
		uo := off.createUser("nina", true)
		b0 := newTab(t)
		b0.passwordStep(off, uo, "One-time code")
		if b0.eval(`String(!!document.getElementById("remember"))`) != "false" {
			t.Error("remember offered although the setting is off")
		}

		in := startLocalhost(t, backend, "--login-remember-browser-days", "30")
		u := in.createUser("mia", true)
		other := in.createUser("lee", true)
		used := map[int64]bool{}
		b := newTab(t)
		b.passwordStep(in, u, "One-time code")
		if got := b.body(); !strings.Contains(got, "Don't ask again on this browser for 30 days") {
			t.Fatalf("remember not offered:\n%s", got)
		}
		b.fill("otp", currentCode(t, in, u.OTPSecret, used))
		b.toggle("remember")
		b.click("submit-otp")
		b.waitTitle("Your account")
		if got := b.text("remembered-list"); !strings.Contains(got, "(this browser)") {
			t.Errorf("remembered browsers on the account page: %q", got)
		}

		// The next login skips the code, and says so.
		b.signOut()
		b.passwordStep(in, u, "Your account")
		amr := userAMR(t, in, u)
		if !slices.Contains(amr, session.AMRRemembered) || session.SecondFactor(amr) || slices.Contains(amr, session.AMRMFA) {
			t.Errorf("amr of a remembered login: %v, want pwd and remembered, no otp or mfa", amr)
		}
		if auditCount(t, in, audit.RememberedBrowserUsed, u.ID) != 1 {
			t.Error("no browser.remembered_used event")
		}
		// The admin's user page lists it.
		info, err := in.App.Admin.GetUser(context.Background(), u.ID)
		if err != nil || len(info.Remembered) != 1 {
			t.Errorf("admin view of remembered browsers: %v %v", info, err)
		}

		// The cookie copied into another user's login proves nothing there.
		cookie := rememberCookie(t, b)
		hb := newBrowser(t)
		issuer, _ := url.Parse(in.URL)
		hb.client.Jar.SetCookies(issuer, []*http.Cookie{{Name: session.RememberCookie, Value: cookie}})
		p := hb.loginWithPassword(hb.get(in.URL+"/login"), other.Username, other.Password)
		if !strings.Contains(p.Body, "One-time code") {
			t.Errorf("another user's login skipped the code with a copied cookie:\n%s", p.Body)
		}
		if auditCount(t, in, audit.RememberedBrowserRefused, other.ID) != 1 {
			t.Error("the copied cookie was not audited")
		}

		// "Forget all remembered browsers": the code is back.
		b.click("forget-browsers")
		b.waitTitle("Your account")
		b.signOut()
		b.passwordStep(in, u, "One-time code")
		b.fill("otp", currentCode(t, in, u.OTPSecret, used))
		b.toggle("remember")
		b.click("submit-otp")
		b.waitTitle("Your account")

		// An administrator's reset voids it too: the next login enrolls.
		if _, err := in.App.Admin.ResetOTP(context.Background(), admin.Actor{}, u.ID); err != nil {
			t.Fatal(err)
		}
		bs, _ := in.App.Store.ListRememberedBrowsers(context.Background(), u.ID, in.clock.now())
		if len(bs) != 0 {
			t.Errorf("remembered browsers after Reset OTP: %d", len(bs))
		}
		b.passwordStep(in, u, "Mobile authenticator setup")
	})
}

// rememberCookie reads the tab's remember cookie through the DevTools
// protocol (it is HttpOnly).
func rememberCookie(t *testing.T, b *tab) string {
	t.Helper()
	v := b.cookie(session.RememberCookie)
	if v == "" {
		t.Fatal("no remember cookie")
	}
	return v
}

// cookie returns the value of the tab's cookie name, or "".
func (b *tab) cookie(name string) string {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		b.t.Fatalf("Network.getCookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}
