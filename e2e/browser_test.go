package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"html"
	"image"
	_ "image/png" // QR codes are PNG data URIs
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/emersion/go-smtp"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"golang.org/x/oauth2"
)

// browserSlots bounds the browser tests that run at once. Each drives
// Chromium and one or two servers, and the two of them that run at once
// already keep two cores busy; more would only make each one's page loads
// slower.
var browserSlots = make(chan struct{}, 2)

// chromium marks a browser test: it skips without Chromium (fails under
// AUTHZ_REQUIRE_BROWSER=1), then waits for a browser slot, which the test
// holds until it ends.
func chromium(t *testing.T) {
	t.Helper()
	chromiumPath(t)
	browserSlots <- struct{}{}
	t.Cleanup(func() { <-browserSlots })
}

// chromiumPath finds Debian's Chromium, or skips (fails under AUTHZ_REQUIRE_BROWSER=1).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "browser tests skipped: install Debian's chromium (apt-get install chromium) to run them"
	if os.Getenv("AUTHZ_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

var (
	browserOnce  sync.Once
	browserCtx   context.Context
	browserError error
)

// sharedBrowser starts one headless Chromium for the whole test binary.
func sharedBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath(t)
	browserOnce.Do(func() {
		dir, err := os.MkdirTemp("", "authz-chromium")
		if err != nil {
			browserError = err
			return
		}
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(path), chromedp.UserDataDir(dir),
			chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
			chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1000, 900),
			// Tabs of tests running side by side are background windows to
			// Chromium: without these it slows their timers and lowers their
			// renderers' priority, which on a busy machine stalls page loads.
			chromedp.Flag("disable-background-timer-throttling", true),
			chromedp.Flag("disable-backgrounding-occluded-windows", true),
			chromedp.Flag("disable-renderer-backgrounding", true),
			// One renderer process for the tests' few sites, not one a site
			// per tab, and nothing else started beside them.
			chromedp.Flag("disable-features", "site-per-process,Translate"),
			chromedp.Flag("disable-extensions", true), chromedp.Flag("disable-default-apps", true),
			chromedp.Flag("disable-breakpad", true), chromedp.Flag("disable-client-side-phishing-detection", true),
			chromedp.Flag("disable-hang-monitor", true), chromedp.Flag("disable-ipc-flooding-protection", true),
		}
		alloc, _ := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, _ := chromedp.NewContext(alloc)
		browserError = chromedp.Do(ctx) // starts the browser
		browserCtx = ctx
	})
	if browserError != nil {
		t.Fatalf("start chromium: %v", browserError)
	}
	return browserCtx
}

// tab is a page in its own browser context: its own cookies, like a private window.
type tab struct {
	t   *testing.T
	ctx context.Context
}

func newTab(t *testing.T) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(sharedBrowser(t), chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel() })
	return &tab{t: t, ctx: ctx}
}

func (b *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v\nat %s\n%s", err, b.location(), b.eval("document.body ? document.body.innerText : ''"))
	}
}

// eval runs a JavaScript expression through the DevTools protocol (not page
// script, so the page's CSP does not apply) and returns its string value.
func (b *tab) eval(expr string) string {
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		return ""
	}
	return v
}

func (b *tab) navigate(u string) { b.t.Helper(); b.do(chromedp.Navigate(u)) }

// fill types value into the input with id.
func (b *tab) fill(id, value string) {
	b.t.Helper()
	b.do(chromedp.WaitVisible(chromedp.ID(id)), chromedp.SetValue(chromedp.ID(id), value))
}

// click clicks the link or button with id and waits until the next document
// has loaded.
func (b *tab) click(id string) {
	b.t.Helper()
	b.eval("window.__authzOld = true; ''")
	b.do(chromedp.WaitVisible(chromedp.ID(id)), chromedp.Click(chromedp.ID(id)))
	deadline := time.Now().Add(15 * time.Second)
	for b.eval("String(window.__authzOld === true)") != "false" || b.eval("document.readyState") != "complete" {
		if time.Now().After(deadline) {
			b.t.Fatalf("clicking #%s loaded no new page (at %s)", id, b.location())
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// toggle clicks a checkbox (no navigation).
func (b *tab) toggle(id string) {
	b.t.Helper()
	b.do(chromedp.WaitVisible(chromedp.ID(id)), chromedp.Click(chromedp.ID(id)))
}

// checked reports whether the checkbox with id is ticked.
func (b *tab) checked(id string) bool {
	b.t.Helper()
	return b.eval(fmt.Sprintf("String(document.getElementById(%q).checked)", id)) == "true"
}

// text returns the visible text of the element with id, or "" when absent.
func (b *tab) text(id string) string {
	b.t.Helper()
	return strings.TrimSpace(b.eval(fmt.Sprintf("(e => e ? e.innerText : '')(document.getElementById(%q))", id)))
}

func (b *tab) body() string { return b.eval("document.body ? document.body.innerText : ''") }

func (b *tab) location() string {
	v, _ := chromedp.Run(b.ctx, chromedp.Location())
	return v
}

// waitTitle waits until the page heading is want.
func (b *tab) waitTitle(want string) {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := strings.TrimSpace(b.eval("(h => h ? h.innerText : '')(document.querySelector('h1'))"))
		if got == want && b.eval("document.readyState") == "complete" {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waiting for page %q, at %q (%s):\n%s", want, got, b.location(), b.body())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// screenshot saves the page as <dir>/<name><suffix>.png when AUTHZ_SCREENSHOTS
// names a directory (make screenshots); an empty name takes none.
func (b *tab) screenshot(name string, suffix ...string) {
	b.t.Helper()
	dir := os.Getenv("AUTHZ_SCREENSHOTS")
	if dir == "" || name == "" {
		return
	}
	name += strings.Join(suffix, "")
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// qrURI decodes the QR code image on the page (a PNG data URI).
func (b *tab) qrURI() string {
	b.t.Helper()
	res, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.ID("otp-qr"), "src"))
	if err != nil {
		b.t.Fatal(err)
	}
	src := res.Value
	data, found := strings.CutPrefix(src, "data:image/png;base64,")
	if !res.Exists || !found {
		b.t.Fatalf("QR image src %q", src)
	}
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		b.t.Fatal(err)
	}
	img, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		b.t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		b.t.Fatal(err)
	}
	// The image is a rendered code, not a photo: PURE_BARCODE reads it exactly,
	// TRY_HARDER is the camera-style fallback.
	qr, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		qr, err = qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	}
	if err != nil {
		b.t.Fatalf("decode QR: %v", err)
	}
	return qr.GetText()
}

// mailbox is a real SMTP server that keeps what it receives.
type mailbox struct {
	mu   sync.Mutex
	msgs []receivedMail
	addr string
	got  chan struct{}
}

type receivedMail struct {
	To      []string
	Subject string
	// RawSubject is the header as sent (RFC 2047 encoded words for non-ASCII).
	RawSubject string
	Text       string
	HTML       string
}

func newMailbox(t *testing.T) *mailbox {
	t.Helper()
	mb := &mailbox{got: make(chan struct{}, 100)}
	srv := smtp.NewServer(mb)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mb.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return mb
}

// NewSession implements smtp.Backend.
func (mb *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSession{mb: mb}, nil }

type smtpSession struct {
	mb *mailbox
	to []string
}

func (s *smtpSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *smtpSession) Reset()        { s.to = nil }
func (s *smtpSession) Logout() error { return nil }
func (s *smtpSession) Data(r io.Reader) error {
	m, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	rm := receivedMail{To: s.to}
	dec := new(mime.WordDecoder)
	rm.RawSubject = m.Header.Get("Subject")
	rm.Subject, _ = dec.DecodeHeader(rm.RawSubject)
	if err := readParts(m.Header.Get("Content-Type"), m.Body, &rm); err != nil {
		return err
	}
	s.mb.mu.Lock()
	s.mb.msgs = append(s.mb.msgs, rm)
	s.mb.mu.Unlock()
	s.mb.got <- struct{}{}
	return nil
}

func readParts(contentType string, body io.Reader, rm *receivedMail) error {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return err
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := readParts(p.Header.Get("Content-Type"), decodePart(p.Header.Get("Content-Transfer-Encoding"), p), rm); err != nil {
				return err
			}
		}
	}
	b, _ := io.ReadAll(body)
	if mt == "text/html" {
		rm.HTML = string(b)
	} else {
		rm.Text = string(b)
	}
	return nil
}

func decodePart(enc string, r io.Reader) io.Reader {
	switch strings.ToLower(enc) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, r)
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// waitFor returns the next message to addr, waiting up to 10 s.
func (mb *mailbox) waitFor(t *testing.T, addr string) receivedMail {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		mb.mu.Lock()
		for i, m := range mb.msgs {
			if len(m.To) > 0 && strings.EqualFold(m.To[0], addr) {
				mb.msgs = append(mb.msgs[:i], mb.msgs[i+1:]...)
				mb.mu.Unlock()
				return m
			}
		}
		mb.mu.Unlock()
		select {
		case <-mb.got:
		case <-deadline:
			t.Fatalf("no e-mail to %s", addr)
		}
	}
}

var linkPattern = regexp.MustCompile(`https?://[^\s"<>]+/link/[A-Za-z0-9_\-]+`)

// link extracts the action link from a message, checking both bodies carry it.
func (m receivedMail) link(t *testing.T) string {
	t.Helper()
	text := linkPattern.FindString(m.Text)
	htmlLink := linkPattern.FindString(html.UnescapeString(m.HTML))
	if text == "" || text != htmlLink {
		t.Fatalf("the e-mail must carry the same link in both bodies: text %q, html %q\n%s", text, htmlLink, m.Text)
	}
	return text
}

// relyingApp is a small web application that signs its users in through authz
// with go-oidc and x/oauth2, as a customer's application would.
type relyingApp struct {
	URL      string
	config   oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newRelyingApp(t *testing.T, in *instance) *relyingApp {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := &relyingApp{URL: "http://" + ln.Addr().String()}
	id, secret := in.createClientWith(clientSpec{SkipConsent: true}, app.URL+"/callback")
	provider, err := oidc.NewProvider(context.Background(), in.URL)
	if err != nil {
		t.Fatal(err)
	}
	app.config = oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: app.URL + "/callback", Scopes: []string{oidc.ScopeOpenID, "profile"}}
	app.verifier = provider.Verifier(&oidc.Config{ClientID: id})
	mux := http.NewServeMux()
	var mu sync.Mutex
	verifiers := map[string]string{}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		state, v := "st-"+randomString(), oauth2.GenerateVerifier()
		mu.Lock()
		verifiers[state] = v
		mu.Unlock()
		opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(v), oidc.Nonce("nonce-" + state)}
		if mode := r.URL.Query().Get("response_mode"); mode != "" {
			opts = append(opts, oauth2.SetAuthURLParam("response_mode", mode))
		}
		http.Redirect(w, r, app.config.AuthCodeURL(state, opts...), http.StatusFound)
	})
	// The answer comes in the query, or posted (response_mode form_post).
	mux.HandleFunc("/callback", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		v := verifiers[r.FormValue("state")]
		mu.Unlock()
		tok, err := app.config.Exchange(r.Context(), r.FormValue("code"), oauth2.VerifierOption(v))
		if err != nil {
			http.Error(w, "exchange: "+err.Error(), 400)
			return
		}
		idt, err := app.verifier.Verify(r.Context(), tok.Extra("id_token").(string))
		if err != nil {
			http.Error(w, "verify: "+err.Error(), 400)
			return
		}
		var c struct {
			Username string   `json:"preferred_username"`
			AMR      []string `json:"amr"`
		}
		_ = idt.Claims(&c)
		fmt.Fprintf(w, "<!DOCTYPE html><h1>Relying app</h1><p id=\"who\">%s</p><p id=\"amr\">%s</p>", html.EscapeString(c.Username), strings.Join(c.AMR, " "))
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return app
}
