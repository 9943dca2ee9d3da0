package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/authz/authz/internal/server"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/testsupport/pgtest"
	"github.com/authz/authz/internal/testsupport/testkeys"
)

func TestTokensSignedBeforeKeyRotationStillVerify(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		clk := driveKeys(in)
		id, secret := in.createClient(clientSpec{SkipConsent: true})
		r := newRP(t, in, id, secret)
		u := in.createUser("heidi", false)
		_, before, _ := signIn(t, in, r, u)
		oldRaw := before.Extra("id_token").(string)
		oldKid := kidOf(t, oldRaw)

		newKid, activateAt, err := in.App.Keys.Rotate(context.Background(), "RS256", in.App.RetireAfter())
		if err != nil {
			t.Fatal(err)
		}
		clk.reach(activateAt) // it signs from then on; the test does not wait
		// A relying party that starts now (fresh JWKS) still verifies the old token.
		fresh := newRP(t, in, id, secret)
		if _, err := fresh.verifier.Verify(context.Background(), oldRaw); err != nil {
			t.Fatalf("token signed before rotation: %v", err)
		}
		// The relying party that cached the old JWKS verifies new tokens: go-oidc
		// refetches on an unknown kid.
		_, after, _ := signIn(t, in, r, u)
		raw := after.Extra("id_token").(string)
		if kidOf(t, raw) != newKid || newKid == oldKid {
			t.Fatalf("new tokens must be signed with the new key %s, got %s", newKid, kidOf(t, raw))
		}
		// An ES256 key of its own, for the clients that ask for ES256,
		// keeps every earlier key published and signing for the others.
		esKid, esAt, err := in.App.Keys.Rotate(context.Background(), "ES256", in.App.RetireAfter())
		if err != nil {
			t.Fatal(err)
		}
		clk.reach(esAt)
		esID, esSecret := in.createClient(clientSpec{SkipConsent: true, IDTokenAlg: "ES256"})
		es := newRP(t, in, esID, esSecret)
		_, third, _ := signIn(t, in, es, u)
		if kid := kidOf(t, third.Extra("id_token").(string)); kid != esKid {
			t.Fatalf("the ES256 client's ID token is signed by %s, want the ES256 key %s", kid, esKid)
		}
		if _, err := fresh.verifier.Verify(context.Background(), oldRaw); err != nil {
			t.Fatalf("first token after two rotations: %v", err)
		}
		if _, fourth, _ := signIn(t, in, r, u); kidOf(t, fourth.Extra("id_token").(string)) != newKid {
			t.Fatal("the RS256 key must still sign for the clients of the default")
		}
		var jwks struct {
			Keys []struct {
				Kid string `json:"kid"`
				Alg string `json:"alg"`
			} `json:"keys"`
		}
		getJSON(t, in.URL+"/.well-known/jwks.json", &jwks)
		// Each algorithm's first key and its successor.
		if len(jwks.Keys) != 4 {
			t.Fatalf("JWKS must publish all four keys, got %+v", jwks.Keys)
		}
		var disc struct {
			Algs []string `json:"id_token_signing_alg_values_supported"`
		}
		getJSON(t, in.URL+"/.well-known/openid-configuration", &disc)
		if strings.Join(disc.Algs, ",") != "RS256,ES256" { // the default first
			t.Errorf("discovery algorithms %v", disc.Algs)
		}
	})
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// pausableProxy forwards TCP to a backend and can cut every connection, to
// simulate a database that goes away and comes back.
type pausableProxy struct {
	t       *testing.T
	addr    string
	backend string
	mu      sync.Mutex
	ln      net.Listener
	conns   []net.Conn
}

func newProxy(t *testing.T, backend string) *pausableProxy {
	p := &pausableProxy{t: t, backend: backend}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.pause)
	return p
}

func (p *pausableProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", p.backend)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(b, c); b.Close() }()
			go func() { _, _ = io.Copy(c, b); c.Close() }()
		}
	}()
}

func (p *pausableProxy) pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *pausableProxy) resume() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy resume: %v", err)
	}
	p.serve(ln)
}

// TestReadinessFollowsTheStore cuts the database off under a running server:
// /readyz turns 503, requests fail cleanly, and everything recovers by itself.
func TestReadinessFollowsTheStore(t *testing.T) {
	t.Parallel()
	dbURL, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newProxy(t, dbURL.Host)
	dbURL.Host = proxy.addr
	q := dbURL.Query()
	q.Set("connect_timeout", "2")
	dbURL.RawQuery = q.Encode()
	in := startServerArgs(t, t.TempDir(), "127.0.0.1", "--database-url", dbURL.String())
	status := func(path string) int {
		resp, err := http.Get(in.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := status("/readyz"); s != 200 {
		t.Fatalf("readyz before the outage: %d", s)
	}
	proxy.pause()
	if s := status("/readyz"); s != http.StatusServiceUnavailable {
		t.Fatalf("readyz during the outage: %d", s)
	}
	if s := status("/healthz"); s != 200 {
		t.Fatalf("healthz must stay 200 (the process is alive): %d", s)
	}
	// A page that needs the store fails cleanly, without detail.
	resp, err := http.Get(in.URL + "/account")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(string(body), "dial") {
		t.Fatalf("account during the outage: %d %s", resp.StatusCode, body)
	}
	proxy.resume()
	deadline := time.Now().Add(15 * time.Second)
	for status("/readyz") != 200 {
		if time.Now().After(deadline) {
			t.Fatal("readyz did not recover after the store came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s := status("/account"); s != 200 {
		t.Fatalf("account after recovery: %d", s)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and returns the file paths and
// a pool that trusts it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "authz test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestHTTPSAndSecureCookies(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	cfg := loadConfig(t, "--data-dir", dir, "--listen", addr, "--issuer", "https://"+addr, "--tls-cert-file", certFile, "--tls-key-file", keyFile,
		"--password-memory-kib", "1024", "--password-iterations", "1")
	app, err := server.Open(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard, server.WithKeyGenerator(testkeys.Generator()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- app.Serve(ctx, func(net.Addr) { close(ready) }) }()
	t.Cleanup(func() { cancel(); <-done; app.Close() })
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get("https://" + addr + "/login")
	if err != nil {
		t.Fatalf("HTTPS: %v", err)
	}
	resp.Body.Close()
	secure := len(resp.Cookies()) > 0
	for _, c := range resp.Cookies() {
		// __Host-: no subdomain or network attacker can plant the cookie.
		secure = secure && c.Secure && c.HttpOnly && c.SameSite == http.SameSiteLaxMode && strings.HasPrefix(c.Name, "__Host-") && c.Path == "/" && c.Domain == ""
	}
	if !secure || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("cookies behind TLS must be Secure, HttpOnly, SameSite=Lax, __Host-; HSTS set: %v %q", resp.Cookies(), resp.Header.Get("Strict-Transport-Security"))
	}
	// The language chosen is such a cookie too.
	lang, err := client.PostForm("https://"+addr+"/language", url.Values{"lang": {"ja"}, "next": {"/login"}})
	if err != nil {
		t.Fatal(err)
	}
	lang.Body.Close()
	if c := lang.Cookies(); len(c) != 1 || c[0].Name != "__Host-authz_lang" || !c[0].Secure {
		t.Errorf("the language cookie behind TLS: %v", c)
	}
	// A browser keeps such a cookie and sends it back: the sign-in form's
	// post belongs to the login it began.
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, client: &http.Client{Jar: jar, Transport: client.Transport}}
	page := b.get("https://" + addr + "/login")
	page = b.submit(page, "/login/password", url.Values{"username": {"nobody"}, "password": {"wrong"}})
	if page.Status != http.StatusUnauthorized || !strings.Contains(page.Body, `action="/login/password"`) {
		t.Errorf("the sign-in form over HTTPS: %d, want the form again with its error\n%s", page.Status, page.Body)
	}
	p, err := oidc.NewProvider(oidc.ClientContext(context.Background(), client), "https://"+addr)
	if err != nil || !strings.HasPrefix(p.Endpoint().TokenURL, "https://") {
		t.Fatalf("discovery over HTTPS: %v", err)
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp, _ := http.Get("http://" + addr + "/healthz")
		if resp != nil && resp.StatusCode == 200 {
			t.Error("plain HTTP must not be served when TLS is configured")
		}
	}
}

func TestForwardedForOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		trusted string
		want    string
	}{{"127.0.0.1", "198.51.100.23"}, {"10.0.0.0/8", "127.0.0.1"}} {
		in := startServer(t, "sqlite", "--trusted-proxies", c.trusted)
		b := newBrowser(t)
		p := b.get(in.URL + "/account")
		form := formValues(t, p.Body, "/login/password")
		form.Set("username", "nobody")
		form.Set("password", "x")
		req, _ := http.NewRequest(http.MethodPost, in.URL+"/login/password", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", "198.51.100.23")
		b.do(req)
		events, _, err := in.App.Store.ListAudit(context.Background(), store.AuditFilter{Type: "login.failure"})
		if err != nil || len(events) != 1 {
			t.Fatalf("audit: %v %d", err, len(events))
		}
		if events[0].IP != c.want {
			t.Errorf("trusted %s: audit IP %q, want %q", c.trusted, events[0].IP, c.want)
		}
	}
}

func TestSecurityHeadersOnEveryPage(t *testing.T) {
	t.Parallel()
	in := startServer(t, "sqlite")
	for _, path := range []string{"/account", "/login", "/oauth2/auth?client_id=x", "/.well-known/openid-configuration", "/nope"} {
		resp, err := http.Get(in.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", path, h)
		}
	}
	resp, err := http.Get(in.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.Contains(resp.Header.Get("Cache-Control"), "no-store") {
		t.Error("login pages must not be cached")
	}
}

func TestCrossOriginFormPostIsRefused(t *testing.T) {
	t.Parallel()
	in := startServer(t, "sqlite")
	b := newBrowser(t)
	p := b.get(in.URL + "/account")
	form := formValues(t, p.Body, "/login/password")
	for name, hdr := range map[string][2]string{
		"cross-site fetch": {"Sec-Fetch-Site", "cross-site"},
		"foreign origin":   {"Origin", "https://evil.example"},
	} {
		req, _ := http.NewRequest(http.MethodPost, in.URL+"/login/password", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(hdr[0], hdr[1])
		if got := b.do(req); got.Status != http.StatusForbidden {
			t.Errorf("%s: %d", name, got.Status)
		}
	}
	// A missing or forged CSRF field is refused as a login that has gone,
	// which is what the page of a finished login posted late looks like.
	form.Set("csrf", "forged")
	form.Set("username", "x")
	if got := b.post(in.URL+"/login/password", form); got.Status != http.StatusForbidden || !strings.Contains(got.Body, "expired or was already completed") {
		t.Errorf("forged csrf: %d", got.Status)
	}
	form.Del("csrf")
	if got := b.post(in.URL+"/login/password", form); got.Status != http.StatusForbidden {
		t.Errorf("missing csrf: %d", got.Status)
	}
}
