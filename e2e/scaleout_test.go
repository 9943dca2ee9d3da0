package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authz/authz/internal/testsupport/pgtest"
	"github.com/authz/authz/internal/throttle"
)

// replicaPair is two authz processes' worth of servers on one PostgreSQL
// database, as behind a load balancer: the same seal key and the same
// issuer (a's address), each reachable at its own address.
type replicaPair struct {
	a, b *instance
}

func startReplicas(t *testing.T) *replicaPair {
	t.Helper()
	dbURL := pgtest.URL(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sealKey := base64.StdEncoding.EncodeToString(key)
	// One clock, as the replicas of one deployment share the time. No
	// refresh reuse grace, so that a second use of a refresh token on either
	// replica is refused at once: single use shows across replicas.
	clk := &clock{}
	common := []string{"--database-url", dbURL, "--seal-key", sealKey, "--tokens-refresh-reuse-grace", "0s"}
	a := startServerClock(t, clk, t.TempDir(), "127.0.0.1", common...)
	// A later --issuer wins: b answers for a's issuer, as a replica does.
	b := startServerClock(t, clk, t.TempDir(), "127.0.0.1", append(common, "--issuer", a.URL)...)
	return &replicaPair{a: a, b: b}
}

// on rewrites an absolute URL of the issuer to reach instance in instead, as
// a load balancer sending the next request to another replica would.
func on(in *instance, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		in.t.Fatal(err)
	}
	target, _ := url.Parse(in.URL)
	u.Scheme, u.Host = target.Scheme, target.Host
	return u.String()
}

// postTo submits the form with action of p to in, as a browser whose next
// request the load balancer sends to another replica.
func (b *browser) postTo(in *instance, p *page, action string, fields url.Values) *page {
	b.t.Helper()
	form := formValues(b.t, p.Body, action)
	for k, v := range fields {
		form[k] = v
	}
	return b.post(in.URL+action, form)
}

// TestScaleOut runs two replicas on one database: everything a user or a
// client does may reach either one.
func TestScaleOut(t *testing.T) {
	t.Parallel()
	rp2 := startReplicas(t)
	a, b := rp2.a, rp2.b
	clk := driveKeys(a, b)
	ctx := context.Background()
	id, secret := a.createClient(clientSpec{SkipConsent: true})
	r := newRP(t, a, id, secret) // discovery and JWKS at the issuer, a

	var tok *oauth2.Token
	t.Run("login started on one finishes on the other", func(t *testing.T) {
		u := a.createUser("ann", true)
		br := newBrowser(t)
		f := r.start()
		p := br.get(f.authURL) // a: the authorization request and the login transaction
		p = br.postTo(b, p, "/login/password", url.Values{"username": {u.Username}, "password": {u.Password}})
		if !strings.Contains(p.Body, `action="/login/otp"`) || p.URL.Host != hostOf(b) {
			t.Fatalf("b must continue a's login with the code page, got %d %s", p.Status, p.URL)
		}
		code := currentCode(t, b, u.OTPSecret, map[int64]bool{})
		p = br.postTo(b, p, "/login/otp", url.Values{"otp": {code}}) // b issues the code
		tk, idt := r.exchange(r.callback(p, f, a.URL), f)            // a redeems it
		tok = tk
		if amr := claimsOf(t, idt).AMR; !slices.Contains(amr, "otp") {
			t.Errorf("amr %v: the code step done on b must count", amr)
		}
	})

	t.Run("refresh token issued by one is used on the other", func(t *testing.T) {
		if tok == nil {
			t.Skip("no tokens from the login")
		}
		cfgB := r.config
		cfgB.Endpoint.TokenURL = b.URL + "/oauth2/token"
		old := tok.RefreshToken
		fresh, err := cfgB.TokenSource(ctx, &oauth2.Token{RefreshToken: old, Expiry: time.Now().Add(-time.Minute)}).Token()
		if err != nil {
			t.Fatalf("refresh on b of a token from a: %v", err)
		}
		if fresh.RefreshToken == "" || fresh.RefreshToken == old {
			t.Fatal("b did not rotate the refresh token")
		}
		// a knows the old token was rotated on b.
		_, err = r.config.TokenSource(ctx, &oauth2.Token{RefreshToken: old, Expiry: time.Now().Add(-time.Minute)}).Token()
		if err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("reuse on a of a token rotated on b: %v", err)
		}
	})

	t.Run("OTP lockout reached on one holds on the other", func(t *testing.T) {
		u := a.createUser("lou", true)
		br := newBrowser(t)
		p, _ := otpPage(t, a, r, br, u)
		var last *page
		for range throttle.OTP.Free + 1 {
			last = br.submit(p, "/login/otp", url.Values{"otp": {"000000"}})
		}
		if last.Status != http.StatusTooManyRequests {
			t.Fatalf("after %d wrong codes on a: %d", throttle.OTP.Free+1, last.Status)
		}
		other := newBrowser(t)
		f := r.start()
		q := other.loginWithPassword(other.get(on(b, f.authURL)), u.Username, u.Password)
		valid := otpCode(t, u.OTPSecret, b.clock.now())
		got := other.postTo(b, q, "/login/otp", url.Values{"otp": {valid}})
		if got.Status != http.StatusTooManyRequests || !strings.Contains(got.Body, "Too many failed attempts") {
			t.Fatalf("a valid code on b during a's lockout: %d", got.Status)
		}
	})

	t.Run("the same refresh token sent to both at once succeeds exactly once", func(t *testing.T) {
		for round := range 10 {
			_, tok, _ := signIn(t, a, r, a.createUser(fmt.Sprintf("race%d", round), false))
			statuses := raceRefresh(t, []*instance{a, b}, id, secret, tok.RefreshToken)
			ok := 0
			for _, s := range statuses {
				switch {
				case s == http.StatusOK:
					ok++
				case s >= 500:
					t.Errorf("round %d: the losing refresh got %d, want a 4xx", round, s)
				}
			}
			t.Logf("round %d: statuses %v", round, statuses)
			if ok != 1 {
				t.Fatalf("round %d: %d of 2 concurrent refreshes with one token succeeded (statuses %v), want exactly 1", round, ok, statuses)
			}
		}
	})

	t.Run("a key rotated on one is served by both before either signs with it, then accepted by the other", func(t *testing.T) {
		_, before, _ := signIn(t, a, r, a.createUser("kay", false))
		oldKid := kidOf(t, before.Extra("id_token").(string))
		newKid, activateAt, err := a.App.Keys.Rotate(ctx, "RS256", a.App.RetireAfter())
		if err != nil {
			t.Fatal(err)
		}
		// Served: shortly before the key activates, b has reloaded its keys
		// and publishes it, and a still signs with the old key.
		clk.reach(activateAt.Add(-10 * time.Second))
		if !slices.Contains(jwksKids(t, b), newKid) {
			t.Fatalf("b does not publish the key rotated on a (%s) 10 s before it activates", newKid)
		}
		_, early, _ := signIn(t, a, r, a.createUser("kai", false))
		if kid := kidOf(t, early.Extra("id_token").(string)); kid != oldKid {
			t.Fatalf("a signs with %s before the rotated key activates, want the old key %s", kid, oldKid)
		}
		// Accepted: once it activates, an ID token a signed with it ends a
		// session on b.
		clk.reach(activateAt)
		br, tok, _ := signIn(t, a, r, a.createUser("kim", false))
		hint := tok.Extra("id_token").(string)
		if kidOf(t, hint) != newKid {
			t.Fatalf("a signs with %s, want the rotated key %s", kidOf(t, hint), newKid)
		}
		p := br.get(b.URL + "/oauth2/logout?" + url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {postLogoutURL}}.Encode())
		if p.URL.String() != postLogoutURL {
			t.Fatalf("b refused an id_token_hint signed with the rotated key: %d %s", p.Status, p.URL)
		}
		// And b, having reloaded, signs with it too.
		f := r.start()
		bb := newBrowser(t)
		u := a.createUser("kit", false)
		q := bb.loginWithPassword(bb.get(on(b, f.authURL)), u.Username, u.Password)
		cfgB := r.config
		cfgB.Endpoint.TokenURL = b.URL + "/oauth2/token"
		tk, err := cfgB.Exchange(ctx, r.callback(q, f, a.URL), oauth2.VerifierOption(f.verifier))
		if err != nil {
			t.Fatalf("exchange on b: %v", err)
		}
		raw, _ := tk.Extra("id_token").(string)
		if kidOf(t, raw) != newKid {
			t.Errorf("b signs with %s, want the rotated key %s", kidOf(t, raw), newKid)
		}
		if _, err := r.verifier.Verify(ctx, raw); err != nil {
			t.Errorf("an ID token b signed does not verify at the issuer's JWKS: %v", err)
		}
	})
}

func hostOf(in *instance) string {
	u, _ := url.Parse(in.URL)
	return u.Host
}

// jwksKids lists the key IDs in.URL publishes.
func jwksKids(t *testing.T, in *instance) []string {
	t.Helper()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	getJSON(t, in.URL+"/.well-known/jwks.json", &set)
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// raceRefresh sends the same refresh token to every instance at the same
// moment and returns the statuses.
func raceRefresh(t *testing.T, ins []*instance, clientID, secret, refresh string) []int {
	t.Helper()
	statuses := make([]int, len(ins))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, in := range ins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
			req, _ := http.NewRequest(http.MethodPost, in.URL+"/oauth2/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
			<-start
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	return statuses
}
