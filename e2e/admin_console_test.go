package e2e

import (
	"context"
	"fmt"
	"html"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authz/authz/internal/store"
)

// pagesRelyingApp is a relying application whose credentials an
// administrator typed into the console: it signs in through authz with the
// client ID and the secret the console showed once.
type pagesRelyingApp struct {
	ln  net.Listener
	URL string
}

func listenRelyingApp(t *testing.T) *pagesRelyingApp {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &pagesRelyingApp{ln: ln, URL: "http://" + ln.Addr().String()}
}

// serve starts the application with the credentials from the console.
func (a *pagesRelyingApp) serve(t *testing.T, in *instance, clientID, secret string) {
	t.Helper()
	provider, err := oidc.NewProvider(context.Background(), in.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg := oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: provider.Endpoint(),
		RedirectURL: a.URL + "/callback", Scopes: []string{oidc.ScopeOpenID, "profile"}}
	verifier := oauth2.GenerateVerifier()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, cfg.AuthCodeURL("state-"+verifier[:16], oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-"+verifier[:16])), http.StatusFound)
	})
	mux.HandleFunc("/callback", func(w http.ResponseWriter, r *http.Request) {
		tok, err := cfg.Exchange(r.Context(), r.URL.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			http.Error(w, "exchange: "+err.Error(), http.StatusBadRequest)
			return
		}
		idt, err := provider.Verifier(&oidc.Config{ClientID: clientID}).Verify(r.Context(), tok.Extra("id_token").(string))
		if err != nil {
			http.Error(w, "verify: "+err.Error(), http.StatusBadRequest)
			return
		}
		var c struct {
			Username string `json:"preferred_username"`
		}
		_ = idt.Claims(&c)
		fmt.Fprintf(w, `<!DOCTYPE html><h1>Relying app</h1><p id="who">%s</p>`, html.EscapeString(c.Username))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(a.ln) }()
	t.Cleanup(func() { srv.Close() })
}

// An administrator registers a relying application in the console; the
// secret shown once signs a user in through a real OIDC library.
func TestBrowserAdminCreatesApplication(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		chromium(t)
		in := startServer(t, backend)
		used := map[int64]bool{}
		b := adminTab(t, in, in.createAdmin(t, "ada"), used)
		app := listenRelyingApp(t)

		b.click("nav-dashboard")
		b.waitTitle("Dashboard")
		b.click("nav-clients")
		b.waitTitle("Applications")
		b.click("add-client")
		b.waitTitle("Add application")
		b.fill("name", "Shop")
		// A bad redirect URI first: refused with the field's message, nothing stored.
		b.fill("redirect_uris", "http://shop.example/cb#frag")
		b.click("save")
		b.waitTitle("Add application")
		if msg := b.text("error"); !strings.HasPrefix(msg, "Redirect URIs:") {
			t.Fatalf("error %q", msg)
		}
		if clients, _ := in.App.Store.ListClients(context.Background()); len(clients) != 0 {
			t.Fatal("a refused application was stored")
		}
		b.fill("redirect_uris", app.URL+"/callback")
		b.toggle("skip_consent")
		b.click("save")
		b.waitTitle("Application created")
		clientID, secret := b.text("client-id"), b.text("client-secret")
		if clientID == "" || len(secret) < 40 {
			t.Fatalf("credentials %q %q", clientID, secret)
		}
		b.click("continue")
		b.waitTitle("Edit application")
		if strings.Contains(b.body(), secret) {
			t.Fatal("the application page shows the secret again")
		}

		// The administrator's own session signs in to the new application.
		app.serve(t, in, clientID, secret)
		b.navigate(app.URL + "/")
		b.waitTitle("Relying app")
		if who := b.text("who"); who != "ada" {
			t.Fatalf("signed in as %q", who)
		}

		// Disabling it takes effect at once.
		b.navigate(in.URL + "/admin/clients/" + clientID)
		b.waitTitle("Edit application")
		b.click("disable-client")
		b.waitTitle("Edit application")
		if status := b.text("client-status"); status != "Disabled" {
			t.Fatalf("status %q", status)
		}
		c, err := in.App.Store.GetClient(context.Background(), clientID)
		if err != nil || !c.Disabled || c.Name != "Shop" || !c.SkipConsent {
			t.Fatalf("stored %+v %v", c, err)
		}
	})
}

// An administrator adds an upstream provider in the console, tests its
// discovery before and after saving, and its secret is stored sealed.
func TestBrowserAdminCreatesProvider(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		chromium(t)
		in := startServer(t, backend)
		upstream := startServer(t, "sqlite")
		used := map[int64]bool{}
		b := adminTab(t, in, in.createAdmin(t, "ada"), used)

		b.click("nav-providers")
		b.waitTitle("Upstream providers")
		b.click("add-provider")
		b.waitTitle("Add upstream provider")
		b.fill("alias", "upstream")
		b.fill("display_name", "Upstream authz")
		b.fill("issuer_url", upstream.URL)
		b.fill("client_id", "authz-downstream")
		b.fill("client_secret", "upstream-client-secret")
		b.fill("link_policy", store.LinkVerifiedMail)
		b.click("test-discovery")
		b.waitTitle("Add upstream provider")
		if status := b.text("discovery-status"); !strings.HasPrefix(status, "Discovery succeeded") {
			t.Fatalf("discovery: %q", status)
		}
		if ep := b.text("discovery-token"); ep != upstream.URL+"/oauth2/token" {
			t.Fatalf("token endpoint %q", ep)
		}
		if providers, _ := in.App.Store.ListProviders(context.Background()); len(providers) != 0 {
			t.Fatal("testing saved the provider")
		}
		// The test keeps what was typed, but never echoes the secret.
		if v := b.eval(`document.getElementById("alias").value`); v != "upstream" {
			t.Fatalf("alias not kept: %q", v)
		}
		if v := b.eval(`document.getElementById("client_secret").value`); v != "" {
			t.Fatal("the page echoes the secret")
		}
		b.fill("client_secret", "upstream-client-secret")
		b.click("save")
		b.waitTitle("Edit upstream provider")
		if notice := b.text("notice"); !strings.HasPrefix(notice, "Provider saved") {
			t.Fatalf("notice %q", notice)
		}
		p, err := in.App.Store.GetProvider(context.Background(), "upstream")
		if err != nil || p.IssuerURL != upstream.URL || p.LinkPolicy != store.LinkVerifiedMail || !p.Enabled || p.RequireOTP {
			t.Fatalf("stored %+v %v", p, err)
		}
		plain, err := in.App.Sealer.Open(p.SealedClientSecret, []byte("provider:upstream"))
		if err != nil || string(plain) != "upstream-client-secret" {
			t.Fatalf("sealed secret: %q %v", plain, err)
		}

		// Edit: require OTP; the empty secret field keeps the secret.
		b.toggle("require_otp")
		b.click("save")
		b.waitTitle("Edit upstream provider")
		p2, _ := in.App.Store.GetProvider(context.Background(), "upstream")
		if !p2.RequireOTP || string(p2.SealedClientSecret) != string(p.SealedClientSecret) {
			t.Fatalf("edited %+v", p2)
		}
		b.click("test-discovery")
		b.waitTitle("Edit upstream provider")
		if status := b.text("discovery-status"); !strings.HasPrefix(status, "Discovery succeeded") {
			t.Fatalf("discovery of the saved provider: %q", status)
		}
		b.click("disable-provider")
		b.waitTitle("Edit upstream provider")
		if p3, _ := in.App.Store.GetProvider(context.Background(), "upstream"); p3.Enabled {
			t.Fatal("not disabled")
		}

		// A user's linked identity shows on the profile and can be unlinked.
		u := in.createUser("uma", false)
		if err := in.App.Store.CreateFederatedIdentity(context.Background(), &store.FederatedIdentity{
			ProviderAlias: "upstream", Subject: "upstream-sub-1", UserID: u.ID, CreatedAt: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
		b.navigate(in.URL + "/admin/users/" + u.ID)
		b.waitTitle("Edit user")
		if !strings.Contains(b.text("identities"), "upstream-sub-1") {
			t.Fatalf("the profile does not list the link:\n%s", b.body())
		}
		b.click("unlink-0")
		b.waitTitle("Edit user")
		if b.text("no-identities") == "" {
			t.Fatal("the link is still listed")
		}
		if ids, _ := in.App.Store.ListFederatedIdentities(context.Background(), u.ID); len(ids) != 0 {
			t.Fatal("the link is still stored")
		}
	})
}
