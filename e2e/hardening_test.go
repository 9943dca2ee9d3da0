package e2e

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/throttle"
)

// TestUpstreamAMRNeverPassesForTheLocalCode: an upstream that says "otp" does
// not satisfy a provider's "require OTP", yet its word reaches the relying
// application.
func TestUpstreamAMRNeverPassesForTheLocalCode(t *testing.T) {
	t.Parallel()
	in := startServer(t, "sqlite")
	op := newFakeOP(t)
	addProvider(t, in, op.srv.URL, "c", "s", store.LinkExisting, true)
	u := in.createUser("wendy", true)
	if err := in.App.Store.CreateFederatedIdentity(context.Background(), &store.FederatedIdentity{ProviderAlias: "corp", Subject: "ext-1", UserID: u.ID, CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	op.set("ok", map[string]any{"amr": []string{"pwd", "otp", "mfa"}})
	b := newBrowser(t)
	if p := b.get(in.URL + "/login/upstream/corp"); !strings.Contains(p.Body, `action="/login/otp"`) {
		t.Fatalf("an upstream amr of otp must not skip the local code: %d %s", p.Status, p.URL)
	}

	// Without "require OTP", the relying application sees the upstream's methods.
	setRequireOTP(t, in, false)
	id, secret := in.createClient(clientSpec{SkipConsent: true})
	r := newRP(t, in, id, secret)
	b = newBrowser(t)
	b.get(in.URL + "/login/upstream/corp")
	f := r.start()
	_, idt := r.exchange(r.callback(b.get(f.authURL), f, in.URL), f)
	amr := strings.Join(claimsOf(t, idt).AMR, " ")
	if amr != "fed pwd otp mfa" {
		t.Fatalf("amr %q", amr)
	}
}

func TestUnverifiedUpstreamEmailIsNotKept(t *testing.T) {
	t.Parallel()
	in := startServer(t, "sqlite")
	op := newFakeOP(t)
	addProvider(t, in, op.srv.URL, "c", "s", store.LinkCreate, false)
	op.set("ok", map[string]any{"preferred_username": "victim@corp.example", "email": "victim@corp.example", "email_verified": false})
	if p := newBrowser(t).get(in.URL + "/login/upstream/corp"); p.Status != 200 {
		t.Fatalf("provisioning: %d", p.Status)
	}
	users, _, _ := in.App.Store.ListUsers(context.Background(), store.UserFilter{Query: "victim"})
	if len(users) != 1 || users[0].Email != "" || strings.Contains(users[0].Username, "@") {
		t.Fatalf("provisioned user must carry no unverified e-mail and no @ in the username: %+v", users)
	}
}

// TestResetEndsOtherSessions: a password reset ends the user's sessions in
// other browsers, on either store (the store deletes them, DeleteUserSessions).
func TestResetEndsOtherSessions(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		u := in.createUser("sam", false)
		old := newBrowser(t)
		if p := old.loginWithPassword(old.get(in.URL+"/login"), u.Username, u.Password); !strings.Contains(p.Body, `id="account-username"`) {
			t.Fatal("sign-in failed")
		}
		b := newBrowser(t)
		p := b.get(in.issueLink(t, u.ID, store.ActionReset, time.Hour, time.Now()) + "?continue=1")
		p = b.submit(p, "/login/set-password", url.Values{"password": {"the new password"}, "password_confirm": {"the new password"}})
		if !strings.Contains(p.Body, `id="account-username"`) {
			t.Fatalf("the reset did not sign its browser in: %d %s", p.Status, p.URL)
		}
		if p := old.get(in.URL + "/account"); strings.Contains(p.Body, `id="account-username"`) {
			t.Fatal("a password reset must end the sessions that existed before it")
		}
	})
}

func TestLogoutNeedsTheUsersOwnHintOrAConfirmation(t *testing.T) {
	t.Parallel()
	in := startServer(t, "sqlite")
	id, secret := in.createClient(clientSpec{SkipConsent: true})
	r := newRP(t, in, id, secret)
	vic := in.createUser("vic", false)
	victim, _, _ := signIn(t, in, r, vic)
	_, attackerTok, _ := signIn(t, in, r, in.createUser("att", false))
	hint := attackerTok.Extra("id_token").(string)

	// Someone else's hint: the victim is asked, not signed out.
	p := victim.get(in.URL + "/oauth2/logout?" + url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {postLogoutURL}}.Encode())
	if !strings.Contains(p.Body, "Do you want to sign out?") || victim.sessionCookie(in) == "" {
		t.Fatalf("a foreign hint must ask first: %d %s", p.Status, p.URL)
	}
	// The victim's own JWT access token names the victim, but it is no ID
	// token: refused as a hint, the victim stays signed in.
	in.updateClient(id, func(c *store.Client) {
		c.AccessTokenFormat, c.Audiences = store.AccessTokenJWT, []string{"https://api.example"}
	})
	_, vicTok, _ := signIn(t, in, r, vic)
	if strings.Count(vicTok.AccessToken, ".") != 2 {
		t.Fatalf("not a JWT access token: %q", vicTok.AccessToken)
	}
	victim.get(in.URL + "/oauth2/logout?" + url.Values{"id_token_hint": {vicTok.AccessToken}}.Encode())
	if q := victim.get(r.start(oidcPromptNone()).authURL).URL.Query(); q.Get("error") != "" {
		t.Fatalf("the victim's access token as id_token_hint signed the victim out: %v", q)
	}
	// A cross-site form post without the confirmation token: asked too.
	if p := victim.post(in.URL+"/oauth2/logout", url.Values{}); !strings.Contains(p.Body, "Do you want to sign out?") {
		t.Fatalf("an unconfirmed post: %d", p.Status)
	}
	f := r.start(oidcPromptNone())
	if q := victim.get(f.authURL).URL.Query(); q.Get("error") != "" {
		t.Fatalf("the victim must still be signed in: %v", q)
	}
	// Confirming returns to the application that asked (client_id only).
	p = victim.get(in.URL + "/oauth2/logout?" + url.Values{"client_id": {id}, "post_logout_redirect_uri": {postLogoutURL}, "state": {"s1"}}.Encode())
	p = victim.submit(p, "/oauth2/logout", nil)
	if p.URL.String() != postLogoutURL+"?state=s1" {
		t.Fatalf("confirmed logout: %d %s", p.Status, p.URL)
	}
}

func TestLogoutEndsALoginInProgress(t *testing.T) {
	t.Parallel()
	in := startServer(t, "sqlite")
	id, secret := in.createClient(clientSpec{SkipConsent: false})
	u := in.createUser("lola", false)
	b := newBrowser(t)
	r := newRP(t, in, id, secret, oidc.ScopeOpenID)
	f := r.start()
	p := b.loginWithPassword(b.get(f.authURL), u.Username, u.Password)
	r.callback(b.submit(p, "/login/consent", url.Values{"decision": {"allow"}}), f, in.URL)

	// A new scope: the consent page of a transaction begun from the session.
	r2 := newRP(t, in, id, secret, oidc.ScopeOpenID, "email")
	if p := b.get(r2.start().authURL); !strings.Contains(p.Body, `action="/login/consent"`) {
		t.Fatal("expected the consent page")
	}
	b.submit(b.get(in.URL+"/account"), "/oauth2/logout", nil)
	if p := b.get(in.URL + "/login"); strings.Contains(p.Body, `action="/login/consent"`) {
		t.Fatal("after logout the consent page of the old login must be gone")
	}
}

func TestIntrospectionRefusesBearerCallers(t *testing.T) {
	t.Parallel()
	in := startServer(t, "sqlite")
	cc := in.createClientCC()
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, in.URL+"/oauth2/introspect", strings.NewReader("token="+tok.AccessToken))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken+"x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("introspection with a bearer token: %d", resp.StatusCode)
	}
}

// A sign-in submitted twice at once (a double click) passes the password
// check in both requests, but the login transaction finishes once: one answer
// carries an authorization code, the other says the login was already
// completed, as does a third submit after it. The same claim stops a login that a logout or a denial overtook.
func TestLoginTransactionFinishesOnce(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		id, secret := in.createClient(clientSpec{SkipConsent: true})
		r := newRP(t, in, id, secret)
		u := in.createUser("dora", false)
		b := newBrowser(t)
		f := r.start()
		p := b.get(f.authURL)
		form := formValues(t, p.Body, "/login/password")
		form.Set("username", u.Username)
		form.Set("password", u.Password)
		target := p.URL.ResolveReference(&url.URL{Path: "/login/password"}).String()

		type answer struct {
			code, body string
			err        error
		}
		// The third submit comes after the login finished, from a tab that
		// still holds the cookies the form was served with, as a late double
		// click does: the login is gone, and it must be told so.
		targetURL, _ := url.Parse(target)
		lateTab := newBrowser(t)
		lateTab.client.Jar.SetCookies(targetURL, b.client.Jar.Cookies(targetURL))
		answers := make([]answer, 3)
		var wg sync.WaitGroup
		for i := range answers {
			submit := func() {
				req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				client := b.client
				if i == 2 {
					client = lateTab.client
				}
				resp, err := client.Do(req)
				if err != nil {
					answers[i].err = err
					return
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				answers[i].body = string(body)
				if loc, err := resp.Location(); err == nil && loc.Host == "127.0.0.1:9" {
					answers[i].code = loc.Query().Get("code")
				}
			}
			if i < 2 {
				wg.Go(submit)
				continue
			}
			wg.Wait()
			submit()
		}
		codes := 0
		for _, a := range answers {
			switch {
			case a.err != nil:
				t.Fatalf("submit: %v", a.err)
			case a.code != "":
				codes++
			case !strings.Contains(a.body, "already completed"):
				t.Errorf("the other submit must say the login was completed, got:\n%.400s", a.body)
			}
		}
		if codes != 1 {
			t.Fatalf("%d of three submits got an authorization code, want exactly 1", codes)
		}
	})
}

// TestAnonymousLoginFloodIsBounded: authorization requests and upstream
// sign-ins from one address without a session store a login transaction
// each only up to the address's limit, then 429 with Retry-After and
// nothing stored; an unknown upstream alias stores nothing at all; and a
// user at another address still signs in.
func TestAnonymousLoginFloodIsBounded(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		const limit = 10
		in := startServer(t, backend, "--trusted-proxies", "127.0.0.1", "--login-anonymous-per-address", strconv.Itoa(limit))
		op := newFakeOP(t)
		addProvider(t, in, op.srv.URL, "c", "s", store.LinkCreate, false)
		pub, _ := in.createClient(clientSpec{Public: true, SkipConsent: true})
		authURL := newRP(t, in, pub, "").start().authURL

		// No cookies and no redirects followed: each request is a new visitor.
		flood := func(addr, rawURL string, n int) map[int]int {
			t.Helper()
			c := &http.Client{Transport: forwardedFor(addr), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			statuses := map[int]int{}
			for range n {
				resp, err := c.Get(rawURL)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				statuses[resp.StatusCode]++
				if resp.StatusCode == http.StatusTooManyRequests {
					if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || secs < 1 || secs > 60 {
						t.Fatalf("429 with Retry-After %q", resp.Header.Get("Retry-After"))
					}
					if !strings.Contains(string(body), "Too many sign-ins have been started from your network. Please try again in 1 minute.") {
						t.Fatalf("429 page:\n%s", body)
					}
				}
			}
			return statuses
		}
		before := in.countRows("login_transactions")
		if got := flood("203.0.113.1", in.URL+"/login/upstream/made-up", 3*limit); got[http.StatusNotFound] != 3*limit {
			t.Fatalf("unknown alias: %v, want only 404", got)
		}
		if n := in.countRows("login_transactions"); n != before {
			t.Fatalf("an unknown alias stored %d login transactions", n-before)
		}
		if got := flood("203.0.113.1", authURL, 3*limit); got[http.StatusSeeOther] != limit+1 || got[http.StatusTooManyRequests] != 2*limit-1 {
			t.Fatalf("authorization requests: %v, want %d redirects to the sign-in page, then 429", got, limit+1)
		}
		if got := flood("203.0.113.1", in.URL+"/login/upstream/corp", limit); got[http.StatusTooManyRequests] != limit {
			t.Fatalf("upstream sign-ins from the same address: %v, want only 429", got)
		}
		if got := flood("203.0.113.2", in.URL+"/login/upstream/corp", 3*limit); got[http.StatusSeeOther] != limit+1 || got[http.StatusTooManyRequests] != 2*limit-1 {
			t.Fatalf("upstream sign-ins: %v, want %d redirects upstream, then 429", got, limit+1)
		}
		if n := in.countRows("login_transactions"); n-before != 2*(limit+1) {
			t.Fatalf("%d login transactions stored by the flood, want %d", n-before, 2*(limit+1))
		}

		// Another address is not affected.
		id, secret := in.createClient(clientSpec{SkipConsent: true})
		r := newRP(t, in, id, secret)
		u := in.createUser("nora", false)
		b := newBrowserAt(t, "198.51.100.7")
		f := r.start()
		p := b.loginWithPassword(b.get(f.authURL), u.Username, u.Password)
		if _, idt := r.exchange(r.callback(p, f, in.URL), f); idt.Subject != u.ID {
			t.Fatalf("signed in as %q", idt.Subject)
		}
	})
}

// TestPublicClientRevokesItsOwnToken: a public client (no secret) revokes
// its own refresh token with its client_id alone (RFC 7009 §2.1), which ends
// the grant; another client naming its own id cannot revoke it, and hears
// unauthorized_client.
func TestPublicClientRevokesItsOwnToken(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		pub, _ := in.createClient(clientSpec{Public: true, SkipConsent: true})
		other, _ := in.createClient(clientSpec{Public: true, SkipConsent: true})
		r := newRP(t, in, pub, "")
		_, tok, _ := signIn(t, in, r, in.createUser("paula", false))
		ctx := context.Background()
		revoke := func(clientID string) int {
			t.Helper()
			resp, err := http.PostForm(in.URL+"/oauth2/revoke", url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}, "client_id": {clientID}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if status := revoke(other); status != http.StatusBadRequest {
			t.Errorf("revocation by another client: %d, want 400 unauthorized_client (RFC 7009 §2.1)", status)
		}
		if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
			t.Fatalf("another client revoked the token: %v", err)
		}
		if status := revoke(pub); status != http.StatusOK {
			t.Fatalf("revocation by the public client: %d, want 200", status)
		}
		expired := &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
		if _, err := r.config.TokenSource(ctx, expired).Token(); err == nil {
			t.Error("a revoked refresh token still refreshes")
		}
		if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil || !strings.Contains(err.Error(), "401") {
			t.Errorf("userinfo after revoking the grant: %v, want 401", err)
		}
	})
}

// TestRememberedBrowserStillAsksOnResetLink: "don't ask again on this
// browser" spares the code of a sign-in only. A reset link opened in the
// remembered browser asks for the code before the new password, as does a
// set-up link; otherwise the cookie and the user's e-mail would set a
// password without the password or the code.
func TestRememberedBrowserStillAsksOnResetLink(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend, "--login-remember-browser-days", "30")
		u := in.createUser("remy", true)
		used := map[int64]bool{}
		b := newBrowser(t)
		p := b.loginWithPassword(b.get(in.URL+"/login"), u.Username, u.Password)
		p = b.submit(p, "/login/otp", url.Values{"otp": {currentCode(t, in, u.OTPSecret, used)}, "remember": {"yes"}})
		if !strings.Contains(p.Body, `id="account-username"`) {
			t.Fatalf("sign-in with the code: %d %s", p.Status, p.URL)
		}
		b.submit(p, "/oauth2/logout", nil)
		// The browser is remembered: a sign-in skips the code.
		p = b.loginWithPassword(b.get(in.URL+"/login"), u.Username, u.Password)
		if !strings.Contains(p.Body, `id="account-username"`) {
			t.Fatalf("a remembered browser was asked for the code at sign-in: %d %s", p.Status, p.URL)
		}
		b.submit(p, "/oauth2/logout", nil)

		for _, kind := range []string{store.ActionReset, store.ActionSetup} {
			p = b.get(in.issueLink(t, u.ID, kind, time.Hour, in.clock.now()) + "?continue=1")
			if !strings.Contains(p.Body, `action="/login/otp"`) || strings.Contains(p.Body, `action="/login/set-password"`) {
				t.Fatalf("%s link in a remembered browser must ask for the code first: %d %s\n%s", kind, p.Status, p.URL, p.Body)
			}
			if got := b.post(in.URL+"/login/set-password", url.Values{"csrf": {formValues(t, p.Body, "/login/otp").Get("csrf")},
				"password": {"taken over"}, "password_confirm": {"taken over"}}); strings.Contains(got.Body, `id="account-username"`) {
				t.Fatalf("%s link: the password was set without the code", kind)
			}
		}
		fresh := newBrowser(t)
		if p := fresh.loginWithPassword(fresh.get(in.URL+"/login"), u.Username, "taken over"); p.Status != http.StatusUnauthorized {
			t.Fatalf("the password must be unchanged: %d", p.Status)
		}
	})
}

// TestPasswordReplacedRevokesTokens: a password set through a reset link,
// one changed on the account page, and an administrator's Reset OTP end the
// user's OAuth grants, not only the browser sessions: a refresh token issued
// before fails with invalid_grant and the access token introspects
// inactive. A new password also voids the user's other unused links.
func TestPasswordReplacedRevokesTokens(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		id, secret := in.createClient(clientSpec{SkipConsent: true})
		r := newRP(t, in, id, secret)
		u := in.createUser("tom", false)
		ctx := context.Background()
		live := func(what string, tok *oauth2.Token) {
			t.Helper()
			if !introspect(t, in, id, secret, tok.AccessToken) {
				t.Fatalf("%s: the access token is inactive before the change", what)
			}
		}
		revoked := func(what string, tok *oauth2.Token) {
			t.Helper()
			if introspect(t, in, id, secret, tok.AccessToken) {
				t.Errorf("%s: the access token issued before is still active", what)
			}
			old := &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
			if _, err := r.config.TokenSource(ctx, old).Token(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
				t.Errorf("%s: refresh with a token issued before: %v, want invalid_grant", what, err)
			}
		}
		gone := func(what, link string) {
			t.Helper()
			if p := newBrowser(t).get(link + "?continue=1"); p.Status != http.StatusNotFound {
				t.Errorf("%s: another unused link still works after the new password: %d %s", what, p.Status, p.URL)
			}
		}

		// A reset through a link.
		_, tok, _ := signIn(t, in, r, u)
		live("reset", tok)
		other := in.issueLink(t, u.ID, store.ActionSetup, time.Hour, in.clock.now())
		b := newBrowser(t)
		p := b.get(in.issueLink(t, u.ID, store.ActionReset, time.Hour, in.clock.now()) + "?continue=1")
		p = b.submit(p, "/login/set-password", url.Values{"password": {"reset password"}, "password_confirm": {"reset password"}})
		if !strings.Contains(p.Body, `id="account-username"`) {
			t.Fatalf("reset: %d %s", p.Status, p.URL)
		}
		revoked("reset", tok)
		gone("reset", other)

		// A change on the account page.
		u.Password = "reset password"
		b, tok, _ = signIn(t, in, r, u)
		live("change", tok)
		other = in.issueLink(t, u.ID, store.ActionReset, time.Hour, in.clock.now())
		p = b.submit(b.get(in.URL+"/account"), "/account/password", url.Values{"current_password": {u.Password},
			"password": {"changed password"}, "password_confirm": {"changed password"}})
		if p.URL.Query().Get("done") != "password" {
			t.Fatalf("change: %d %s", p.Status, p.URL)
		}
		revoked("change", tok)
		gone("change", other)

		// An administrator's Reset OTP (a lost phone holds the grants of
		// its applications).
		u.Password = "changed password"
		_, tok, _ = signIn(t, in, r, u)
		live("reset OTP", tok)
		if _, err := in.App.Admin.ResetOTP(ctx, admin.Actor{}, u.ID); err != nil {
			t.Fatal(err)
		}
		revoked("reset OTP", tok)
	})
}

// TestForgotPasswordFloodFromOneAddress: a flood of reset requests for a
// user from one address throttles that address only; the user, elsewhere,
// still gets a reset e-mail. Requests spread over many addresses still stop
// at the ceiling over all addresses. Every answer is the same.
func TestForgotPasswordFloodFromOneAddress(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend, "--trusted-proxies", "127.0.0.1")
		ctx := context.Background()
		u := in.createUser("vera", true)
		var answer string
		ask := func(addr string, n int) {
			t.Helper()
			b := newBrowserAt(t, addr)
			form := b.get(in.URL + "/login/forgot")
			for range n {
				p := b.submit(form, "/login/forgot", url.Values{"username": {u.Username}})
				if answer == "" {
					answer = p.Body
				}
				if p.Status != http.StatusOK || p.Body != answer {
					t.Fatalf("from %s: %d, the answer differs", addr, p.Status)
				}
			}
		}
		sent := func() int {
			t.Helper()
			in.App.Notify.Wait()
			events, _, err := in.App.Store.ListAudit(ctx, store.AuditFilter{Type: string(audit.PasswordResetAsked), UserID: u.ID})
			if err != nil {
				t.Fatal(err)
			}
			return len(events)
		}

		ask("203.0.113.1", 10)
		if n := sent(); n != throttle.ResetAccount.Free+1 {
			t.Fatalf("%d reset e-mails from a flood at one address, want %d", n, throttle.ResetAccount.Free+1)
		}
		ask("198.51.100.7", 1)
		if n := sent(); n != throttle.ResetAccount.Free+2 {
			t.Fatal("the user at another address got no reset e-mail after a flood from one address")
		}

		// Many addresses: the ceiling over all of them holds.
		for i := range 5 {
			ask("192.0.2."+strconv.Itoa(i+1), throttle.ResetAccount.Free)
		}
		before := sent()
		if before > throttle.ResetAccountOverall.Free+1+throttle.ResetAccount.Free+1 {
			t.Errorf("%d reset e-mails from a distributed flood", before)
		}
		ask("198.51.100.8", 1)
		if n := sent(); n != before {
			t.Error("past the ceiling over all addresses a reset e-mail was still sent")
		}
	})
}
